/**
 * Build fuzzing: random model declarations, many of them malformed (sizes 0, negative,
 * fractional, NaN, huge; reserved, empty, unicode and `__proto__` names; op chains whose shapes
 * do not fit; random optimizers and options), built in-process through the DSL and
 * compileModel; a compiled model's kernels are rendered for every target too. Every build must
 * end in a compiled model or in a GradcError whose message is one line and carries a location
 * in this file (where every mistake is made); any other exception is a compiler bug. A few
 * cases also go through `gradc build`.
 *
 * RUNS cases run in-process (about 10 s on 2 cores); the test logs how many compiled and how
 * many were refused.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as dsl from '../dsl/index.ts';
import type { ModelContext, Optimizer, Tensor } from '../dsl/index.ts';
import { compileModel } from '../compiler/compile.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { renderCuda } from '../compiler/codegen/render/cuda.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import { renderWgsl } from '../compiler/codegen/render/wgsl.ts';
import { GradcError } from '../ir/errors.ts';
import { scratchFolders } from './scratch.ts';

/** GRADC_FUZZ_RUNS=20000 npx vitest run test/build-fuzz.property.test.ts hunts longer. */
const RUNS = Number(process.env.GRADC_FUZZ_RUNS ?? 600);
const THIS_FILE = 'test/build-fuzz.property.test.ts';

const BAD_DIMS = [0, -3, 2.5, Number.NaN, Infinity, -Infinity, 2 ** 31, 2 ** 40, 1e300, -0, 2 ** 53, 65536];
// Small sizes mostly, so that random operands often broadcast and products often fit.
const dim = fc.oneof(
  { weight: 20, arbitrary: fc.integer({ min: 1, max: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_DIMS) },
);
/** A size that may be the batch (the string 'B'). */
const sizeOrBatch = fc.oneof({ weight: 4, arbitrary: dim }, { weight: 1, arbitrary: fc.constant('B' as const) });
const shape = fc.array(sizeOrBatch, { maxLength: 3 });

const ODD_NAMES = [
  '__proto__', 'grad:w', 'update:w', 'predict:p', 'loss', 'lr', 'step', '', 'a.b.m', 'w.m', 'w.v',
  'w.velocity', 'constructor', 'toString', 'hasOwnProperty', '名前', 'größe', 'a\nb', '\u{1F600}', 'a b',
  '*/', '"', '\\',
];
/** A name: mostly one of `plain` (each kind of tensor has its own), sometimes an odd one. */
function name(...plain: string[]) {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constantFrom(...plain) },
    { weight: 3, arbitrary: fc.constantFrom(...ODD_NAMES) },
    { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
  );
}

const BAD_NUMBERS = [Number.NaN, Infinity, -Infinity, -1, 0, 1, 1e300];
const number = fc.oneof(
  { weight: 12, arbitrary: fc.double({ min: 0.001, max: 0.9, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_NUMBERS) },
);
/** An optional optimizer option: mostly absent. */
const option = fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: number });

const optimizerSpec = fc.record({
  kind: fc.constantFrom('sgd', 'momentum', 'nesterov', 'adam'),
  learningRate: number,
  momentum: number,
  beta1: option,
  clipValue: option,
  weightDecay: option,
});

const UNARY = ['exp', 'log', 'sqrt', 'tanh', 'neg', 'relu', 'sigmoid', 'elu', 'softmax', 'logSoftmax', 'stopGradient', 'transpose', 'square'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'less', 'equal', 'matmul', 'softmaxCrossEntropy', 'mse'] as const;

const step = fc.oneof(
  fc.record({ op: fc.constantFrom(...UNARY), a: fc.nat() }),
  fc.record({ op: fc.constantFrom(...BINARY), a: fc.nat(), b: fc.oneof(fc.nat(), fc.constant(-1)), scalar: number }),
  fc.record({ op: fc.constantFrom('sum', 'mean', 'reduceMax'), a: fc.nat(), axis: fc.option(fc.integer({ min: -4, max: 4 })), keep: fc.boolean() }),
  fc.record({ op: fc.constantFrom('reshape', 'broadcastTo'), a: fc.nat(), shape }),
  fc.record({ op: fc.constant('where'), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant('dense'), a: fc.nat(), name: name('fc', 'd1', 'd2'), units: dim }),
  fc.record({ op: fc.constant('gradOf'), a: fc.nat() }),
  fc.record({ op: fc.constant('assign'), a: fc.nat(), b: fc.nat() }),
);

const declaration = fc.record({
  batch: dim,
  seed: fc.oneof(
    { weight: 6, arbitrary: fc.constant(null) },
    { weight: 3, arbitrary: fc.nat() },
    { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 2 ** 32, Number.NaN) },
  ),
  optimizer: optimizerSpec,
  inputs: fc.array(fc.record({ name: name('x', 'y', 'z'), shape }), { maxLength: 2 }),
  params: fc.array(
    fc.record({
      name: name('w', 'v', 'a.b', 'u', 'k', 'b2'),
      shape,
      init: fc.oneof(
        { weight: 12, arbitrary: fc.constantFrom('he_normal', 'glorot_uniform', 'zeros', 'he_uniform', 'glorot_normal') },
        { weight: 1, arbitrary: fc.constant('bogus') },
      ),
    }),
    { maxLength: 3 },
  ),
  states: fc.array(fc.record({ name: name('s', 't'), shape }), { maxLength: 1 }),
  steps: fc.array(step, { maxLength: 6 }),
  loss: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('sumAll', 'mean') },
    { weight: 1, arbitrary: fc.constantFrom('last', 'number', 'undefined') },
  ),
  predictions: fc.array(
    fc.record({ name: name('p', 'q', 'probs'), pick: fc.oneof({ weight: 10, arbitrary: fc.nat() }, { weight: 1, arbitrary: fc.constantFrom('number', 'object') }) }),
    { maxLength: 2 },
  ),
});
type Declaration = typeof declaration extends fc.Arbitrary<infer D> ? D : never;

function makeOptimizer(o: Declaration['optimizer']): Optimizer {
  const base = {
    learningRate: o.learningRate,
    ...(o.clipValue !== null ? { clipValue: o.clipValue } : {}),
    ...(o.weightDecay !== null ? { weightDecay: o.weightDecay } : {}),
  };
  if (o.kind === 'sgd') return dsl.sgd(base);
  if (o.kind === 'adam') return dsl.adam({ ...base, ...(o.beta1 !== null ? { beta1: o.beta1 } : {}) });
  return dsl.momentum({ ...base, momentum: o.momentum, nesterov: o.kind === 'nesterov' });
}

type AnyTensor = Tensor;
// The DSL's typed signatures are bypassed on purpose: the fuzzer feeds it what tsc would refuse.
const untyped = dsl as unknown as Record<string, (...args: unknown[]) => AnyTensor>;

/** Runs the declaration's op chain over a pool of tensors; every result joins the pool. */
function buildFrom(d: Declaration, m: ModelContext, batch: number) {
  const sized = (s: readonly (number | 'B')[]) => s.map((x) => (x === 'B' ? batch : x));
  const pool: AnyTensor[] = [];
  const params: AnyTensor[] = [];
  const states: AnyTensor[] = [];
  for (const i of d.inputs) pool.push(m.input(i.name, sized(i.shape)));
  for (const p of d.params) {
    const t = m.param(p.name, sized(p.shape), p.init as dsl.InitKind);
    params.push(t);
    pool.push(t);
  }
  for (const s of d.states) {
    const t = m.state(s.name, sized(s.shape));
    states.push(t);
    pool.push(t);
  }
  if (pool.length === 0) pool.push(m.input('fallback', [2]));
  const at = (i: number) => pool[i % pool.length];
  for (const s of d.steps) {
    const a = at(s.a);
    switch (s.op) {
      case 'sum': case 'mean': case 'reduceMax':
        pool.push(untyped[s.op](a, s.axis ?? undefined, s.keep));
        break;
      case 'reshape': case 'broadcastTo':
        pool.push(untyped[s.op](a, sized(s.shape)));
        break;
      case 'where':
        pool.push(dsl.where(dsl.less(a as never, at(s.b) as never) as AnyTensor, a, at(s.b)));
        break;
      case 'dense':
        pool.push(dsl.dense(m, s.name, a as never, s.units));
        break;
      case 'gradOf':
        if (params.length > 0) pool.push(m.gradOf(params[s.a % params.length]));
        break;
      case 'assign':
        if (states.length > 0) m.assign(states[0], at(s.b));
        break;
      default:
        if ('b' in s) pool.push(untyped[s.op](a, s.b === -1 ? s.scalar : at(s.b)));
        else pool.push(untyped[s.op](a));
    }
  }
  const last = pool[pool.length - 1];
  const loss = { sumAll: () => dsl.sumAll(last), mean: () => dsl.mean(last), last: () => last, number: () => 1, undefined: () => undefined }[d.loss]();
  const predictions: Record<string, unknown> = {};
  for (const p of d.predictions) {
    predictions[p.name] = typeof p.pick === 'number' ? at(p.pick) : p.pick === 'number' ? 3 : { x: last };
  }
  return { loss, predictions } as unknown as dsl.ModelOutputs;
}

/** Builds a declaration: 'compiled', or the GradcError it was refused with. */
function attempt(d: Declaration): 'compiled' | GradcError {
  try {
    const definition = dsl.defineModel({
      name: 'fuzzed',
      batch: d.batch,
      ...(d.seed !== null ? { seed: d.seed } : {}),
      optimizer: makeOptimizer(d.optimizer),
      build: (m, batch) => buildFrom(d, m, batch),
    });
    const { schedule } = compileModel(definition.declare());
    const meta = { modelName: 'fuzzed', buildId: 'fuzz' };
    renderJs(schedule, meta);
    renderC(schedule, meta);
    renderWgsl(schedule, meta);
    renderCuda(schedule, { ...meta, archs: ['sm_80'] });
    return 'compiled';
  } catch (e) {
    if (e instanceof GradcError) return e;
    throw e;
  }
}

describe('build fuzzing', () => {
  it(`${RUNS} random, often malformed declarations compile or fail with a located one-line GradcError`, () => {
    let compiled = 0;
    let refused = 0;
    fc.assert(
      fc.property(declaration, (d) => {
        const outcome = attempt(d);
        if (outcome === 'compiled') {
          compiled++;
          return;
        }
        refused++;
        expect(outcome.message).not.toMatch(/[\n\r]/);
        expect(outcome.loc?.file, outcome.message).toBe(THIS_FILE);
      }),
      { numRuns: RUNS },
    );
    console.log(`build fuzzing: ${RUNS} declarations, ${compiled} compiled, ${refused} refused with a GradcError`);
    expect(compiled + refused).toBe(RUNS);
    // The generator must exercise both ends.
    expect(compiled).toBeGreaterThan(RUNS / 20);
    expect(refused).toBeGreaterThan(RUNS / 4);
  });
});

describe('build fuzzing through the command line', () => {
  const scratch = scratchFolders('build-fuzz-');

  /** A model file whose build() runs `body`; returns the CLI's answer. */
  function gradcBuild(body: string, options = "optimizer: adam({ learningRate: 0.01 })") {
    const dir = scratch();
    const file = join(dir, 'model.ts');
    writeFileSync(
      file,
      "import { adam, defineModel, matmul, mul, sgd, sumAll } from '../../dsl/index.ts';\n" +
        `export default defineModel({ name: 'fuzzed', batch: 4, ${options}, build(m, B) {\n${body}\n} } as never);\n`,
    );
    const r = spawnSync(process.execPath, ['bin/gradc.mjs', 'build', file, '--target', 'js', '--out', join(dir, 'out')], { encoding: 'utf8' });
    return { code: r.status, stderr: r.stderr, file };
  }

  it('a few malformed files each give exit 1 and one gradc: line at their mistake', () => {
    const cases: [string, RegExp][] = [
      ["const x = m.input('x', [B, NaN]);\nreturn { loss: sumAll(x), predictions: {} };", /:3:13 input\("x"\): input "x": size NaN/],
      ["const w = m.param('__proto__', [3], 'zeros');\nreturn { loss: sumAll(w), predictions: {} };", /:3:13 param\("__proto__"\): param "__proto__" .*reserved/],
      ["const w = m.param('w', [3], 'zeros');\nconst c = m.param('w.m', [3], 'zeros');\nreturn { loss: sumAll(mul(w, c)), predictions: {} };", /:4:13 param\("w.m"\): param "w.m" clashes with the state "w.m" that adam keeps for param "w"/],
      ["const a = m.input('a', [65536, 2]);\nconst w = m.param('w', [2, 65536], 'zeros');\nreturn { loss: sumAll(matmul(a, w)), predictions: {} };", /:5:23 matmul: .*4,294,967,296 elements/],
    ];
    for (const [body, pattern] of cases) {
      const r = gradcBuild(body);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^gradc: [^\n]*\n$/);
      expect(r.stderr).toMatch(pattern);
    }
    const ok = gradcBuild("const x = m.input('x', [B, 3]);\nconst w = m.param('w', [3], 'zeros');\nreturn { loss: sumAll(mul(x, w)), predictions: {} };", 'optimizer: sgd({ learningRate: 0.1 })');
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
  });
});
