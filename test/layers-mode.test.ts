/**
 * Train and predict modes, and the layers that depend on them. A declaration reads
 * `m.training`; such a model is declared once per mode (the train program in training mode,
 * predict and evaluate in predict mode) and compileModel refuses the wrong one. Dropout and
 * DropConnect draw their masks from the model's seed and step counter: checked against the
 * Philox reference element by element, on the js and c backends alike, new at every step, the
 * same after a checkpoint is restored, with the expected value kept, and absent from predict.
 * Batch normalisation normalises by the batch in training and by its running statistics in
 * prediction and evaluation, and its running statistics after k steps equal a float64
 * computation of Keras's rule. The VJPs of the layers match float64 central differences.
 * (The dropout and batch normalisation graphs also run on WebGPU and the CUDA emulator in the
 * backend-equivalence corpus, test/backend-corpus.ts `layerCases`.)
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  batchNorm, defineModel, dense, dropConnect, dropout, mean, mul, relu, sgd, softmax, softmaxCrossEntropy,
} from '../dsl/index.ts';
import type { ModelContext, ModelDefinition, ModelOutputs, Tensor } from '../dsl/index.ts';
import { ModelContext as Context } from '../dsl/model.ts';
import { compileModel } from '../compiler/compile.ts';
import type { CompiledModel } from '../compiler/compile.ts';
import { programDeclarations } from '../compiler/build.ts';
import { GradcError } from '../ir/errors.ts';
import { grad } from '../compiler/autodiff/grad.ts';
import { evaluate } from '../ir/evaluate.ts';
import type { Graph } from '../ir/types.ts';
import { sizeOf } from '../ir/types.ts';
import { philoxUniform } from '../ir/ops/random.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { toArtifact } from '../compiler/codegen/glue.ts';
import { renderJs } from '../compiler/codegen/render/js.ts';
import { renderC } from '../compiler/codegen/render/c.ts';
import { ModelInstance } from '../runtime/model.ts';
import { createJsBackend } from '../runtime/backends/js.ts';
import { createNativeBackend } from '../runtime/backends/native.ts';
import type { JsKernel } from '../artifact/kernels.ts';
import { createRng } from '../runtime/init.ts';
import { scratchFolders } from './scratch.ts';

const scratch = scratchFolders('layers-mode-');
const opened: ModelInstance[] = [];
afterAll(() => opened.forEach((model) => model.dispose()));

/** The model compiled as `gradc build` compiles it: each program from its mode's declaration. */
function compile(definition: ModelDefinition, predictBatch?: number): CompiledModel {
  const spec = definition.declare();
  return compileModel(spec, programDeclarations(definition, spec, predictBatch));
}

/** A compiled model opened on the js or c backend, in this process. */
async function open(compiled: CompiledModel, backend: 'js' | 'c'): Promise<ModelInstance> {
  const meta = { modelName: compiled.spec.name, buildId: 'test' };
  let model: ModelInstance;
  if (backend === 'js') {
    const file = resolve(scratch(), 'kernels.ts');
    writeFileSync(file, renderJs(compiled.schedule, meta));
    const { kernels } = (await import(pathToFileURL(file).href)) as { kernels: Record<string, JsKernel> };
    model = await ModelInstance.open(toArtifact(compiled), createJsBackend(kernels));
  } else {
    const kernels = allKernels(compiled.schedule).map((k) => ({ name: k.name, arity: k.inputs.length + 1 }));
    const native = createNativeBackend({ cSource: renderC(compiled.schedule, meta), kernels });
    model = await ModelInstance.open(toArtifact(compiled), native);
  }
  opened.push(model);
  return model;
}

/** The mean of every element: a scalar loss. */
function meanAll(x: Tensor): Tensor<readonly []> {
  return mean(x) as Tensor<readonly []>;
}

function kindsOf(graph: Graph): Set<string> {
  return new Set(graph.nodes.map((n) => n.kind));
}

function inputsOf(graph: Graph): Set<string> {
  return new Set(graph.nodes.filter((n) => n.kind === 'input').map((n) => n.attrs.name as string));
}

function programGraph(compiled: CompiledModel, name: 'train' | 'predict' | 'evaluate'): Graph {
  return compiled.graphs.find((g) => g.name === name)!.graph;
}

function seeded(seed: number, n: number, scale = 1): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => Math.fround(scale * (2 * rng() - 1)));
}

function bits(values: Float32Array): number[] {
  return [...new Uint32Array(values.slice().buffer)];
}

// ---- modes ----

const plain = (m: ModelContext, batch: number): ModelOutputs => {
  const x = m.input('x', [batch, 6]);
  const y = m.input('y', [batch, 3]);
  const logits = dense(m, 'fc', x, 3);
  return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
};

const withDropout = (m: ModelContext, batch: number): ModelOutputs => {
  const x = m.input('x', [batch, 6]);
  const y = m.input('y', [batch, 3]);
  const logits = dense(m, 'fc', dropout(m, x, 0.5), 3);
  return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
};

/** A definition whose `build` counts its runs (in `runs.count`). */
function counted(build: (m: ModelContext, batch: number) => ModelOutputs) {
  const runs = { count: 0 };
  const definition = defineModel({
    name: 'modes',
    batch: 4,
    seed: 5,
    optimizer: sgd({ learningRate: 0.1 }),
    build(m, batch) {
      runs.count++;
      return build(m, batch);
    },
  });
  return { definition, runs };
}

describe('train and predict modes', () => {
  it('m.training is true for the train declaration, false for declare({ training: false })', () => {
    const { definition, runs } = counted(withDropout);
    const train = definition.declare();
    const predict = definition.declare({ training: false });
    expect(runs.count).toBe(2);
    expect([train.training, train.readsTraining, predict.training, predict.readsTraining]).toEqual([true, true, false, true]);
    expect(kindsOf(train.graph).has('random_uniform')).toBe(true);
    expect(kindsOf(predict.graph).has('random_uniform')).toBe(false);
    expect(() => definition.declare({ training: 'no' as unknown as boolean })).toThrow(/training must be true or false/);
  });

  it('a model that never reads m.training is declared once, and compiles as before', () => {
    const { definition, runs } = counted(plain);
    const spec = definition.declare();
    expect(spec.readsTraining).toBe(false);
    const declarations = programDeclarations(definition, spec);
    expect(declarations.predictSpec).toBe(spec);
    expect(declarations.evaluateSpec).toBe(spec);
    expect(runs.count).toBe(1);
    const other = programDeclarations(definition, spec, 2);
    expect(runs.count).toBe(2);
    expect([other.predictSpec?.batch, other.predictSpec?.training, other.evaluateSpec]).toEqual([2, false, spec]);
  });

  it('a model that reads it compiles train from training mode, predict and evaluate from predict mode', () => {
    const { definition, runs } = counted(withDropout);
    const compiled = compile(definition);
    expect(runs.count).toBe(2);
    expect(kindsOf(programGraph(compiled, 'train')).has('random_uniform')).toBe(true);
    expect(kindsOf(programGraph(compiled, 'predict')).has('random_uniform')).toBe(false);
    expect(kindsOf(programGraph(compiled, 'evaluate')).has('random_uniform')).toBe(false);
    expect(inputsOf(programGraph(compiled, 'train')).has('step')).toBe(true);
    // Predicting at another batch: one more declaration, in predict mode at the training batch.
    runs.count = 0;
    const other = compile(definition, 2);
    expect(runs.count).toBe(3);
    expect(other.predictBatch).toBe(2);
    expect(kindsOf(programGraph(other, 'evaluate')).has('random_uniform')).toBe(false);
  });

  it('compileModel refuses a declaration in the wrong mode for a program', () => {
    const { definition } = counted(withDropout);
    const train = definition.declare();
    const predict = definition.declare({ training: false });
    expect(() => compileModel(train)).toThrow(GradcError);
    expect(() => compileModel(train)).toThrow(
      'model modes reads m.training, so its predict program needs its declaration in predict mode ' +
        '(declare({ training: false })), not the one in training mode',
    );
    expect(() => compileModel(train, { predictSpec: predict, evaluateSpec: train })).toThrow(/its evaluate program needs/);
    expect(() => compileModel(predict, { predictSpec: predict })).toThrow(/its train program needs its declaration in training mode/);
  });

  it('refuses parameters or states that depend on the mode, naming m.training', () => {
    const paramByMode = counted((m, batch) => {
      const x = m.input('x', [batch, 6]);
      const w = m.param('w', [6, m.training ? 3 : 2], 'zeros');
      return { loss: meanAll(mul(x, x)), predictions: { w } };
    });
    expect(() => compile(paramByMode.definition)).toThrow(
      /parameter "w" has shape \[6, 2\] at predict batch 4 but \[6, 3\] at training batch 4; parameter shapes must not depend on m\.training/,
    );
    const stateInPredict = counted((m, batch) => {
      const x = m.input('x', [batch, 6]);
      const shift = m.training ? 0 : m.state('shift', [6], 1);
      return { loss: meanAll(mul(x, x)), predictions: { y: mul(x, shift) } };
    });
    expect(() => compile(stateInPredict.definition)).toThrow(
      /state "shift" is declared otherwise at predict batch 4 than at training batch 4; states must not depend on m\.training/,
    );
  });
});

// ---- dropout ----

const B = 64;
const F = 128;
const DROPOUT_SEED = 11;

/**
 * x * w through dropout, with its train-mode output kept in the state `seen` (a probe the test
 * reads back): w starts at ones and the learning rate is 0, so `seen` is the dropped-out x.
 */
function dropoutProbe(rate: number | undefined) {
  return defineModel({
    name: 'dropout-probe',
    batch: B,
    seed: DROPOUT_SEED,
    optimizer: sgd({ learningRate: 0 }),
    build(m, batch) {
      const x = m.input('x', [batch, F]);
      const w = m.param('w', [F], 'ones');
      const scaled = mul(x, w);
      const h = rate === undefined ? scaled : dropout(m, scaled, rate);
      m.assign(m.state('seen', [batch, F]), h);
      return { loss: meanAll(h), predictions: { h } };
    },
  });
}

/** What dropout computes for element i at `step` (stream 0: the model's first draw). */
function expectedDropout(x: Float32Array, rate: number, step: number): Float32Array {
  const scale = Math.fround(1 / (1 - rate));
  return x.map((v, i) => (philoxUniform(DROPOUT_SEED, 0, i, step) < Math.fround(rate) ? 0 : Math.fround(v * scale)));
}

describe('dropout', () => {
  const ones = new Float32Array(B * F).fill(1);

  it('drops each element with the Philox draw of (seed, stream, element, step), new at every step', async () => {
    const model = await open(compile(dropoutProbe(0.5)), 'js');
    const masks: Float32Array[] = [];
    const x = seeded(1, B * F, 2);
    for (let step = 0; step < 3; step++) {
      await model.trainStep({ x });
      const seen = await model.getParam('seen');
      expect(bits(seen), `step ${step}`).toEqual(bits(expectedDropout(x, 0.5, step)));
      expect(Array.from(await model.getParam('step'))).toEqual([step + 1]);
      masks.push(seen.map((v) => (v === 0 ? 0 : 1)));
    }
    const agreeing = masks[0].filter((v, i) => v === masks[1][i]).length / masks[0].length;
    expect(agreeing).toBeGreaterThan(0.4);
    expect(agreeing).toBeLessThan(0.6);
  });

  it('keeps the expected value: the mean of dropout(ones) is 1 within 0.05 at rates 0.3 and 0.5', async () => {
    // The mean of n = 8192 elements kept with probability 1 - r and scaled by 1/(1 - r) has
    // standard deviation sqrt(r / ((1 - r) n)): 0.011 at rate 0.5, so 0.05 is over 4 of them.
    for (const rate of [0.3, 0.5]) {
      const model = await open(compile(dropoutProbe(rate)), 'js');
      for (let step = 0; step < 3; step++) {
        const loss = await model.trainStep({ x: ones });
        expect(Math.abs(loss - 1), `rate ${rate} step ${step}`).toBeLessThan(0.05);
        const seen = await model.getParam('seen');
        const dropped = seen.filter((v) => v === 0).length / seen.length;
        expect(Math.abs(dropped - rate), `rate ${rate} step ${step}`).toBeLessThan(0.03);
      }
    }
  });

  it('refuses a rate outside [0, 1) at the line of the call', () => {
    for (const [rate, shown] of [[1, '1'], [-0.1, '-0.1'], [Number.NaN, 'NaN']] as const) {
      const bad = defineModel({ ...flatOptions(), build: (m) => ({ loss: meanAll(dropout(m, m.input('x', [4, 2]), rate)), predictions: {} }) });
      expect(() => bad.declare()).toThrow(new RegExp(`layers-mode\\.test\\.ts:\\d+:\\d+ dropout: the rate must be a number in \\[0, 1\\), got ${shown}`));
    }
    const connect = defineModel({
      ...flatOptions(),
      build: (m) => ({ loss: meanAll(dropConnect(m, 'dc', m.input('x', [4, 2]), 3, 2)), predictions: {} }),
    });
    expect(() => connect.declare()).toThrow(/dropConnect: the rate must be a number in \[0, 1\), got 2/);
  });

  it('draws the same masks on the js and c backends', async () => {
    const compiled = compile(dropoutProbe(0.25));
    const [js, c] = [await open(compiled, 'js'), await open(compiled, 'c')];
    const x = seeded(2, B * F, 3);
    for (let step = 0; step < 2; step++) {
      await Promise.all([js.trainStep({ x }), c.trainStep({ x })]);
      expect(bits(await c.getParam('seen')), `step ${step}`).toEqual(bits(await js.getParam('seen')));
    }
  });

  it('draws after a restored checkpoint what the uninterrupted run draws', async () => {
    const compiled = compile(dropoutProbe(0.5));
    const [through, resumed] = [await open(compiled, 'js'), await open(compiled, 'js')];
    const x = seeded(3, B * F);
    await through.trainStep({ x });
    const checkpoint = await through.snapshot();
    await through.trainStep({ x });
    resumed.restore(checkpoint);
    await resumed.trainStep({ x });
    expect(bits(await resumed.getParam('seen'))).toEqual(bits(await through.getParam('seen')));
    expect(bits(await resumed.getParam('seen'))).toEqual(bits(expectedDropout(x, 0.5, 1)));
  });

  it('is the identity in predict and evaluate, the same as the network without it', async () => {
    const mlp = (rate: number | undefined) =>
      defineModel({
        name: 'mlp',
        batch: 8,
        seed: 3,
        optimizer: sgd({ learningRate: 0.1 }),
        build(m, batch) {
          const x = m.input('x', [batch, 10]);
          const y = m.input('y', [batch, 4]);
          const h = relu(dense(m, 'fc1', x, 16));
          const logits = dense(m, 'fc2', rate === undefined ? h : dropout(m, h, rate), 4);
          return { loss: softmaxCrossEntropy(logits, y), predictions: { probs: softmax(logits) } };
        },
      });
    const [dropping, plainMlp] = [await open(compile(mlp(0.5)), 'js'), await open(compile(mlp(undefined)), 'js')];
    const x = seeded(4, 80);
    const y = new Float32Array(32).map((_, i) => (i % 4 === 1 ? 1 : 0));
    const first = (await dropping.predict({ x })).probs;
    expect(bits((await dropping.predict({ x })).probs)).toEqual(bits(first));
    expect(bits((await plainMlp.predict({ x })).probs)).toEqual(bits(first));
    expect(await dropping.evaluateLoss({ x, y })).toBe(await plainMlp.evaluateLoss({ x, y }));
    expect(await dropping.evaluateLoss({ x, y })).toBe(await dropping.evaluateLoss({ x, y }));
  });
});

// ---- dropConnect ----

describe('dropConnect', () => {
  const [I, U] = [12, 5];
  const probe = (connect: boolean) =>
    defineModel({
      name: 'dropconnect-probe',
      batch: 6,
      seed: 21,
      optimizer: sgd({ learningRate: 0 }),
      build(m, batch) {
        const x = m.input('x', [batch, I]);
        const y = connect ? dropConnect(m, 'dc', x, U, 0.5) : dense(m, 'dc', x, U);
        m.assign(m.state('seen', [batch, U]), y);
        return { loss: meanAll(y), predictions: { y } };
      },
    });

  it('masks the weights in training (one Philox draw per weight) and uses the plain weights in predict', async () => {
    const [connected, plainDense] = [await open(compile(probe(true)), 'js'), await open(compile(probe(false)), 'js')];
    const x = seeded(5, 6 * I);
    const w = await connected.getParam('dc.w');
    expect(bits(w)).toEqual(bits(await plainDense.getParam('dc.w')));
    expect(bits((await connected.predict({ x })).y)).toEqual(bits((await plainDense.predict({ x })).y));
    await connected.trainStep({ x });
    const seen = await connected.getParam('seen');
    const masked = Array.from(w, (v, k) => (philoxUniform(21, 0, k, 0) < 0.5 ? 0 : v * 2));
    expect(masked.filter((v) => v === 0).length).toBeGreaterThan(10);
    for (let r = 0; r < 6; r++) {
      for (let u = 0; u < U; u++) {
        let want = 0;
        for (let i = 0; i < I; i++) want += x[r * I + i] * masked[i * U + u];
        expect(Math.abs(seen[r * U + u] - want), `row ${r} unit ${u}`).toBeLessThan(1e-5);
      }
    }
  });
});

// ---- batch normalisation ----

const [BN_BATCH, H, W, C] = [8, 3, 2, 4];
const EPSILON = 1e-3;
const MOMENTUM = 0.9;

/** Batch norm over NHWC images, its train-mode output kept in the state `seen`. */
const bnProbe = defineModel({
  name: 'bn-probe',
  batch: BN_BATCH,
  seed: 13,
  optimizer: sgd({ learningRate: 0.5 }),
  build(m, batch) {
    const x = m.input('x', [batch, H, W, C]);
    const t = m.input('t', [batch, H, W, C]);
    const y = batchNorm(m, 'bn', x, { momentum: MOMENTUM, epsilon: EPSILON });
    m.assign(m.state('seen', [batch, H, W, C]), y);
    return { loss: meanAll(mul(y, t)), predictions: { y } };
  },
});

/** Per-channel mean and variance (dividing by the count) of NHWC values, in float64. */
function channelMoments(x: Float32Array): { mean: number[]; variance: number[] } {
  const count = x.length / C;
  const mean = Array.from({ length: C }, (_, c) => x.reduce((s, v, i) => (i % C === c ? s + v : s), 0) / count);
  const variance = mean.map((mu, c) => x.reduce((s, v, i) => (i % C === c ? s + (v - mu) ** 2 : s), 0) / count);
  return { mean, variance };
}

function normalised(x: Float32Array, mean: readonly number[], variance: readonly number[], gamma: ArrayLike<number>, beta: ArrayLike<number>): number[] {
  return Array.from(x, (v, i) => {
    const c = i % C;
    return (gamma[c] * (v - mean[c])) / Math.sqrt(variance[c] + Math.fround(EPSILON)) + beta[c];
  });
}

function worstDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  return worst;
}

describe('batchNorm', () => {
  const batches = [0, 1, 2].map((k) => ({
    x: seeded(30 + k, BN_BATCH * H * W * C, 2).map((v, i) => v + (i % C) - 1),
    t: seeded(40 + k, BN_BATCH * H * W * C),
  }));

  it('declares gamma (ones), beta (zeros) and the running statistics as states mean (zeros), var (ones)', () => {
    const spec = bnProbe.declare();
    expect(spec.params.map((p) => [p.name, p.shape, p.init.kind])).toEqual([
      ['bn.gamma', [C], 'ones'],
      ['bn.beta', [C], 'zeros'],
    ]);
    expect(spec.states.filter((s) => s.name.startsWith('bn.')).map((s) => [s.name, s.shape, s.value])).toEqual([
      ['bn.mean', [C], 0],
      ['bn.var', [C], 1],
    ]);
  });

  it('normalises by the batch in training; its running statistics after 3 steps are Keras\'s, in float64', async () => {
    const model = await open(compile(bnProbe), 'js');
    const running = { mean: [0, 0, 0, 0], variance: [1, 1, 1, 1] };
    for (const [k, batch] of batches.entries()) {
      const [gamma, beta] = [await model.getParam('bn.gamma'), await model.getParam('bn.beta')];
      await model.trainStep(batch);
      const moments = channelMoments(batch.x);
      const want = normalised(batch.x, moments.mean, moments.variance, gamma, beta);
      expect(worstDifference(await model.getParam('seen'), want), `step ${k}`).toBeLessThan(1e-5);
      running.mean = running.mean.map((r, c) => MOMENTUM * r + (1 - MOMENTUM) * moments.mean[c]);
      running.variance = running.variance.map((r, c) => MOMENTUM * r + (1 - MOMENTUM) * moments.variance[c]);
    }
    expect(worstDifference(await model.getParam('bn.mean'), running.mean)).toBeLessThan(1e-6);
    expect(worstDifference(await model.getParam('bn.var'), running.variance)).toBeLessThan(1e-6);
    // The gradients reach gamma and beta, which the steps moved.
    expect(Array.from(await model.getParam('bn.gamma'))).not.toEqual([1, 1, 1, 1]);
  });

  it('predicts and evaluates with the running statistics, not the batch\'s', async () => {
    const model = await open(compile(bnProbe), 'js');
    for (const batch of batches) await model.trainStep(batch);
    const [gamma, beta] = [await model.getParam('bn.gamma'), await model.getParam('bn.beta')];
    const [runMean, runVar] = [await model.getParam('bn.mean'), await model.getParam('bn.var')];
    const { x, t } = batches[0];
    const want = normalised(x, Array.from(runMean), Array.from(runVar), gamma, beta);
    const predicted = (await model.predict({ x })).y;
    expect(worstDifference(predicted, want)).toBeLessThan(1e-5);
    const moments = channelMoments(x);
    expect(worstDifference(predicted, normalised(x, moments.mean, moments.variance, gamma, beta))).toBeGreaterThan(0.1);
    const loss = want.reduce((s, v, i) => s + v * t[i], 0) / want.length;
    expect(Math.abs((await model.evaluateLoss({ x, t })) - loss)).toBeLessThan(1e-6);
    // Predicting reads the statistics and leaves them as they are.
    expect(bits(await model.getParam('bn.mean'))).toEqual(bits(runMean));
  });

  it('keeps its running statistics in the weights, so loaded weights predict alike', async () => {
    const compiled = compile(bnProbe);
    const [trained, fresh] = [await open(compiled, 'js'), await open(compiled, 'js')];
    for (const batch of batches) await trained.trainStep(batch);
    const weights = await trained.weights();
    expect(Object.keys(weights).sort()).toEqual(['bn.beta', 'bn.gamma', 'bn.mean', 'bn.var']);
    fresh.loadWeights(weights);
    const { x } = batches[1];
    expect(bits((await fresh.predict({ x })).y)).toEqual(bits((await trained.predict({ x })).y));
    // A checkpoint loads as weights too: the probe state, which predict does not read, is skipped.
    fresh.loadWeights(await trained.snapshot());
    const { seen: _seen, ...withoutProbe } = await trained.snapshot();
    expect(() => fresh.loadWeights(withoutProbe)).not.toThrow();
    const { 'bn.var': _var, ...withoutVariance } = weights;
    expect(() => fresh.loadWeights(withoutVariance)).toThrow(/missing from the weights: "bn\.var"/);
  });

  it('normalises [batch, features] too, and refuses an input without a feature axis', async () => {
    const flat = defineModel({
      name: 'bn-flat',
      batch: 16,
      seed: 1,
      optimizer: sgd({ learningRate: 0.1 }),
      build(m, batch) {
        const x = m.input('x', [batch, 3]);
        const y = batchNorm(m, 'bn', x);
        return { loss: meanAll(mul(y, y)), predictions: { y } };
      },
    });
    const model = await open(compile(flat), 'c');
    const x = seeded(50, 48, 3);
    await model.trainStep({ x });
    const batchMean = [0, 1, 2].map((c) => x.reduce((s, v, i) => (i % 3 === c ? s + v : s), 0) / 16);
    expect(worstDifference(await model.getParam('bn.mean'), batchMean.map((mu) => 0.01 * mu))).toBeLessThan(1e-6);
    const vector = defineModel({ ...flatOptions(), build: (m) => ({ loss: meanAll(batchNorm(m, 'bn', m.input('x', [4]))), predictions: {} }) });
    expect(() => vector.declare()).toThrow(/:\d+:\d+ batchNorm: the input needs a batch axis and a feature axis, got \[4\]/);
    const badMomentum = defineModel({
      ...flatOptions(),
      build: (m) => ({ loss: meanAll(batchNorm(m, 'bn', m.input('x', [4, 2]), { momentum: 2 })), predictions: {} }),
    });
    expect(() => badMomentum.declare()).toThrow(/momentum must be a number in \[0, 1\], got 2/);
  });
});

function flatOptions() {
  return { name: 'bn-bad', batch: 4, optimizer: sgd({ learningRate: 0.1 }) } as const;
}

// ---- VJPs against float64 central differences ----

/** max |symbolic - fd| / max(1, |symbolic|, |fd|) over the gradient, as ops-vjp does. */
const VJP_REL_TOL = 1e-6;

/**
 * The gradient of f = sum(layer(x) * w) with respect to the named inputs `wrt` (data,
 * parameters or states), built by autodiff and run by the float64 reference, against central
 * differences of the same reference. Every input is drawn in [-2, 2] (variances in [0.5, 1.5]);
 * the step counter, which fixes dropout's masks, is 3.
 */
function vjpError(
  training: boolean,
  shape: readonly number[],
  layer: (m: ModelContext, x: Tensor) => Tensor,
  wrt: readonly string[],
): number {
  const m = new Context({ training, seed: 9 });
  const out = layer(m, m.input('x', shape));
  const w = m.input('w', out.shape);
  const b = m.graph;
  const f = b.sum(b.mul(out.id, w.id), out.shape.map((_, i) => i));
  const graph = b.finish({ f });
  const inputNamed = (name: string) => graph.nodes.findIndex((n) => n.kind === 'input' && n.attrs.name === name);
  const grads = grad(b, f, wrt.map(inputNamed));
  const rng = createRng(77);
  const feeds: Record<string, number[]> = {};
  for (const node of graph.nodes) {
    if (node.kind !== 'input') continue;
    const name = node.attrs.name as string;
    const draw = name.endsWith('.var') ? () => 0.5 + rng() : () => 4 * rng() - 2;
    feeds[name] = name === 'step' ? [3] : Array.from({ length: sizeOf(node.shape) }, draw);
  }
  const withGrads = b.finish({ f, ...Object.fromEntries(grads.map((g, k) => [`g${k}`, g])) });
  const symbolic = evaluate(withGrads, feeds, grads);
  const fAt = () => evaluate(withGrads, feeds, [f]).get(f)![0];
  let worst = 0;
  wrt.forEach((name, k) => {
    const g = symbolic.get(grads[k])!;
    const x = feeds[name];
    for (let j = 0; j < x.length; j++) {
      const v = x[j];
      const h = 1e-6 * Math.max(1, Math.abs(v));
      x[j] = v + h;
      const fp = fAt();
      x[j] = v - h;
      const fm = fAt();
      x[j] = v;
      const fd = (fp - fm) / (2 * h);
      worst = Math.max(worst, Math.abs(g[j] - fd) / Math.max(1, Math.abs(g[j]), Math.abs(fd)));
    }
  });
  return worst;
}

describe('VJPs of the layers match float64 central differences', () => {
  it.each([
    { what: 'batchNorm in training, [6,3]', training: true, shape: [6, 3] },
    { what: 'batchNorm in training, NHWC [2,2,3,2]', training: true, shape: [2, 2, 3, 2] },
    { what: 'batchNorm in prediction, [5,4]', training: false, shape: [5, 4] },
  ])('$what', ({ training, shape }) => {
    const wrt = ['x', 'bn.gamma', 'bn.beta', ...(training ? [] : ['bn.mean', 'bn.var'])];
    expect(vjpError(training, shape, (m, x) => batchNorm(m, 'bn', x), wrt)).toBeLessThan(VJP_REL_TOL);
  });

  it('dropout and dropConnect in training (the mask fixed by the step)', () => {
    expect(vjpError(true, [7, 5], (m, x) => dropout(m, x, 0.4), ['x'])).toBeLessThan(VJP_REL_TOL);
    const connect = (m: ModelContext, x: Tensor) => dropConnect(m, 'dc', x as Tensor<readonly [3, 4]>, 2, 0.5);
    expect(vjpError(true, [3, 4], connect, ['x', 'dc.w', 'dc.b'])).toBeLessThan(VJP_REL_TOL);
  });
});
