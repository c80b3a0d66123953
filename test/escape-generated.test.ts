/**
 * No user text reaches generated code unescaped: arbitrary strings (see nasty-strings.ts) as the
 * model's name, the model file's path, the DSL locations and labels of its nodes, and the names
 * of its inputs, parameters, states, hyperparameters and predictions, through every target.
 * Every generated file still parses (TypeScript; cc; gcc's preprocessor for CUDA C; Dawn and
 * nvcc for a few cases), is the same code as a build with plain names (its tokens, or its text
 * without comments), holds the names exactly where they are data (the artifact, the glue's
 * types, each kernel's sources) and runs nothing when imported. Also one test per fault found:
 * a `*\/` in a folder name, a crafted path, a seed, a model name or a size that is not what the
 * DSL takes.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import fc from 'fast-check';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildModel, renderArtifacts } from '../compiler/build.ts';
import { compileModel } from '../compiler/compile.ts';
import type { CompiledModel } from '../compiler/compile.ts';
import { typeName } from '../compiler/codegen/glue.ts';
import { allKernels } from '../compiler/codegen/kernel-ir.ts';
import { CUDA_SOURCE_FILE } from '../compiler/codegen/render/cuda.ts';
import { renderWgslKernel } from '../compiler/codegen/render/wgsl.ts';
import type { Target } from '../compiler/codegen/targets.ts';
import { GradcError } from '../ir/errors.ts';
import type { SourceLoc } from '../ir/types.ts';
import {
  add, defineModel, matmul, momentum, mul, softmax, softmaxCrossEntropy,
} from '../dsl/index.ts';
import type { ModelDefinition } from '../dsl/model.ts';
import type { ModelSpec } from '../dsl/spec.ts';
import { RESERVED_PREFIXES, tensorName, tensorRole } from '../dsl/spec.ts';
import type { Artifact } from '../artifact/format.ts';
import type { CudaBuild, CudaKernel, WgslKernel } from '../artifact/kernels.ts';
import { DEFAULT_CUDA_ARCHS, compileFatbin, cudaSourceHash, requireNvcc } from '../artifact/cuda-compile.ts';
import { sourceBuildId } from '../runtime/open.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import { INJECTED, PAYLOADS, folderName, nastyString } from './nasty-strings.ts';
import { scratchFolders } from './scratch.ts';
import { strictDiagnostics } from './typecheck.ts';

const ALL_TARGETS: readonly Target[] = ['js', 'c', 'wgsl', 'cuda'];
const CUDA_MODULE_FILE = 'kernels-cuda.js';
const scratch = scratchFolders('escape-');
const injected = () => (globalThis as Record<string, unknown>)[INJECTED];
// Each test starts clean, so that one test's injected code cannot fail another.
beforeEach(() => {
  delete (globalThis as Record<string, unknown>)[INJECTED];
});

/** How many cases each check ran, printed at the end. */
const counts = new Map<string, number>();
const count = (check: string, n = 1) => counts.set(check, (counts.get(check) ?? 0) + n);
afterAll(() => {
  for (const [check, n] of counts) console.log(`escaping: ${check}: ${n} cases`);
});

// ---- the model ----

/** The names the model declares, each replaced by an arbitrary string in the property. */
const NAMES = ['x', 'y', 'w', 'w.velocity', 's', 'h'] as const;
type Names = Readonly<Record<(typeof NAMES)[number] | 'p', string>>;
const PLAIN: Names = { x: 'x', y: 'y', w: 'w', 'w.velocity': 'w.velocity', s: 's', h: 'h', p: 'p' };

/** A model with data, a parameter, optimizer state, a state and a hyperparameter of its own. */
function model(names: Names = PLAIN, options: { name?: string; seed?: number } = {}): ModelDefinition {
  return defineModel({
    name: options.name ?? 'fuzz',
    batch: 2,
    seed: options.seed ?? 3,
    optimizer: momentum({ learningRate: 0.1, momentum: 0.9 }),
    build(m, B) {
      const x = m.input(names.x, [B, 3]);
      const y = m.input(names.y, [B, 2]);
      const w = m.param(names.w, [3, 2], 'glorot_uniform');
      const s = m.state(names.s, [2], 0);
      const h = m.hyper(names.h, 0.5);
      m.assign(s, add(mul(s, h), 1));
      const logits = add(matmul(x, w), s);
      return { loss: softmaxCrossEntropy(logits, y), predictions: { [names.p]: softmax(logits) } };
    },
  });
}

/**
 * The plain model's spec with every declared name replaced (the DSL may refuse such names; a
 * spec is the compiler's public input, so the renderers must take any), the model's name too,
 * and every node's source location replaced by one of `locs`.
 */
function renamedSpec(names: Names, modelName: string, locs: readonly SourceLoc[]): ModelSpec {
  const spec = model().declare();
  const n = (name: string) => (NAMES as readonly string[]).includes(name) ? names[name as (typeof NAMES)[number]] : name;
  const inputName = (name: string) => {
    const role = tensorRole(name);
    return role?.kind === 'grad' ? tensorName({ kind: 'grad', param: n(role.param) }) : n(name);
  };
  const outputName = (name: string) => {
    const role = tensorRole(name);
    if (role?.kind === 'update') return tensorName({ kind: 'update', target: n(role.target) });
    return role?.kind === 'predict' && role.name === 'p' ? tensorName({ kind: 'predict', name: names.p }) : name;
  };
  return {
    ...spec,
    name: modelName,
    graph: {
      nodes: spec.graph.nodes.map((node) =>
        node.kind === 'input' ? { ...node, attrs: { ...node.attrs, name: inputName(node.attrs.name as string) } } : node,
      ),
      locs: Object.fromEntries(Object.keys(spec.graph.locs).map((id, i) => [id, locs[i % locs.length]])),
      outputs: Object.fromEntries(Object.entries(spec.graph.outputs).map(([k, v]) => [outputName(k), v])),
    },
    data: spec.data.map((d) => ({ ...d, name: n(d.name) })),
    predictData: spec.predictData.map(n),
    params: spec.params.map((p) => ({ ...p, name: n(p.name) })),
    states: spec.states.map((s) => ({ ...s, name: n(s.name) })),
    hypers: spec.hypers.map((h) => ({ ...h, name: n(h.name) })),
    predictions: [names.p],
  };
}

/** Distinct names for the shared namespace of data, parameters, states and hyperparameters. */
const namesArbitrary: fc.Arbitrary<Names> = fc
  .tuple(
    fc.uniqueArray(
      nastyString.filter((s) => s !== 'lr' && !RESERVED_PREFIXES.some((p) => s.startsWith(p))),
      { minLength: NAMES.length, maxLength: NAMES.length },
    ),
    nastyString,
  )
  .map(([list, p]) => ({ ...Object.fromEntries(NAMES.map((k, i) => [k, list[i]])), p }) as Names);

const locArbitrary: fc.Arbitrary<SourceLoc> = fc.record({
  file: nastyString,
  line: fc.nat(),
  column: fc.nat(),
  label: nastyString,
});

// ---- the checks ----

function syntaxErrors(text: string, fileName: string): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const { parseDiagnostics } = file as unknown as { parseDiagnostics: readonly ts.Diagnostic[] };
  return parseDiagnostics.map((d) => `${fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

/**
 * The kinds of a TypeScript text's tokens, equal for the same code with other strings, numbers
 * and names (a string and a number are both a literal: the seed test makes the seed text).
 */
function tokenKinds(text: string): ts.SyntaxKind[] {
  const scanner = ts.createScanner(ts.ScriptTarget.ES2022, true, ts.LanguageVariant.Standard, text);
  const kinds: ts.SyntaxKind[] = [];
  for (let kind = scanner.scan(); kind !== ts.SyntaxKind.EndOfFileToken; kind = scanner.scan()) {
    kinds.push(kind === ts.SyntaxKind.NumericLiteral ? ts.SyntaxKind.StringLiteral : kind);
  }
  return kinds;
}

/** Characters no generated file holds raw: line breaks but LF, controls, bidi, lone surrogates. */
const RAW_UNSAFE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * `text` with each kernel name replaced by its position and no white space (a long name wraps
 * a signature), so that two builds' code can be compared.
 */
function withKernelNumbers(text: string, kernelNames: readonly string[]): string {
  const order = kernelNames.map((name, i) => ({ name, i })).sort((a, b) => b.name.length - a.name.length);
  const numbered = order.reduce((t, { name, i }) => t.replace(new RegExp(`\\b${name}\\b`, 'g'), `K${i}`), text);
  return numbered.replace(/\s+/g, '');
}

/** gcc's preprocessor output of a C or CUDA source: no comments, lines spliced, trigraphs on. */
function preprocessed(file: string, language: 'c' | 'c++'): string {
  const standard = language === 'c' ? '-std=c11' : '-std=c++11';
  const r = spawnSync(process.env.CC ?? 'cc', ['-E', '-P', '-x', language, standard, '-trigraphs', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** WGSL without its `//` comments (sound once the text has no line break but LF). */
function wgslCode(code: string): string {
  return code.replace(/\/\/[^\n]*/g, '');
}

/** The test model with plain names, rendered: what every other build is compared with. */
let plain: { readonly compiled: CompiledModel; readonly files: Readonly<Record<string, string>> };
beforeAll(() => {
  const compiled = compileModel(model().declare());
  plain = { compiled, files: renderArtifacts(compiled, ALL_TARGETS, 'model.ts') };
});

const plainCode = new Map<string, string>();

/** The plain build's C or CUDA C, preprocessed and with numbered kernels (once per file). */
function plainPreprocessed(file: string, language: 'c' | 'c++'): string {
  let code = plainCode.get(file);
  if (code === undefined) {
    const path = join(scratch(), file);
    writeFileSync(path, plain.files[file]);
    const kernelNames = allKernels(plain.compiled.schedule).map((k) => k.name);
    code = withKernelNumbers(preprocessed(path, language), kernelNames);
    plainCode.set(file, code);
  }
  return code;
}

interface Expected {
  readonly modelName: string;
  readonly names: Names;
  /**
   * Whether `compiled` is what the files were rendered from (default); a build on the command
   * line is checked against the same model compiled here, whose DSL locations differ.
   */
  readonly renderedFrom?: boolean;
}

/**
 * Everything a build of the test model must satisfy, whatever its strings: `files` rendered
 * from `compiled`, compared with the plain build. Writes the files into a scratch folder and
 * imports the modules.
 */
async function checkBuild(compiled: CompiledModel, files: Readonly<Record<string, string>>, expected: Expected) {
  const { names } = expected;
  expect(Object.keys(files).sort()).toEqual(Object.keys(plain.files).sort());
  const kernels = allKernels(compiled.schedule);
  const kernelNames = kernels.map((k) => k.name);
  const plainKernelNames = allKernels(plain.compiled.schedule).map((k) => k.name);

  for (const [name, text] of Object.entries(files)) {
    expect(RAW_UNSAFE.exec(text)?.[0], `${name} holds a raw line break, control or bidi character`).toBeUndefined();
    if (name.endsWith('.js') || name.endsWith('.d.ts')) {
      expect(syntaxErrors(text, name)).toEqual([]);
      expect(tokenKinds(text), `${name} is other code than the plain build's`).toEqual(tokenKinds(plain.files[name]));
    }
  }
  count('parse (TypeScript) and same tokens as the plain build, 8 modules each');

  // C and CUDA C: the preprocessed code (comments gone, lines spliced) is the plain build's.
  const dir = scratch();
  for (const [file, language] of [['kernels.c', 'c'], [CUDA_SOURCE_FILE, 'c++']] as const) {
    const ours = join(dir, file);
    writeFileSync(ours, files[file]);
    expect(withKernelNumbers(preprocessed(ours, language), kernelNames), `${file} is other code`).toBe(
      plainPreprocessed(file, language),
    );
  }
  const cc = spawnSync(process.env.CC ?? 'cc', [
    '-fsyntax-only', '-std=c11', '-trigraphs', '-D_DEFAULT_SOURCE', '-Werror=comment', '-Werror=trigraphs',
    '-Werror=bidi-chars=any', join(dir, 'kernels.c'),
  ], { encoding: 'utf8' });
  expect(cc.stderr).toBe('');
  expect(cc.status).toBe(0);
  count('kernels.c: cc -fsyntax-only (C11, trigraphs) and same preprocessed code');
  count('kernels.cu: same code after gcc\'s preprocessor');

  // The runtime reads the build id of C and CUDA sources from a header line.
  const buildId = /export const buildId = "([0-9a-f]+)"/.exec(files['kernels.js'])?.[1];
  expect(buildId).toBeDefined();
  expect(sourceBuildId(files['kernels.c'])).toBe(buildId);
  expect(sourceBuildId(files[CUDA_SOURCE_FILE])).toBe(buildId);

  // WGSL: the code without comments is the plain build's.
  const plainWgsl = new Map(allKernels(plain.compiled.schedule).map((k) => [k.name, renderWgslKernel(plain.compiled.schedule, k).code]));
  for (const [i, kernel] of kernels.entries()) {
    const code = renderWgslKernel(compiled.schedule, kernel).code;
    expect(wgslCode(code)).toBe(wgslCode(plainWgsl.get(plainKernelNames[i])!));
  }
  count('WGSL: same code without comments');

  // Importing the modules runs nothing injected, and they hold the names exactly.
  // The scratch folder is inside this package, so `gradc/runtime` resolves to its sources.
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const load = async <T>(file: string) => (await import(pathToFileURL(resolve(dir, file)).href)) as T;
  const glue = await load<{ artifact: Artifact; buildId: string } & Record<string, unknown>>('model.js');
  const js = await load<{ kernels: Record<string, unknown>; buildId: string }>('kernels.js');
  const wgsl = await load<{ wgslKernels: Record<string, WgslKernel> }>('kernels-wgsl.js');
  const cuda = await load<{ cudaKernels: Record<string, CudaKernel>; cudaBuild: CudaBuild }>(CUDA_MODULE_FILE);
  expect(injected()).toBeUndefined();
  count('import of the 4 modules runs no injected code');

  const { artifact } = glue;
  expect(artifact.name).toBe(expected.modelName);
  expect(artifact.data.map((d) => d.name)).toEqual([names.x, names.y]);
  expect(artifact.params.map((p) => p.name)).toEqual([names.w]);
  expect(artifact.states.map((s) => s.name).sort()).toEqual([names.s, names['w.velocity']].sort());
  expect(artifact.hypers.map((h) => h.name).sort()).toEqual([names.h, 'lr'].sort());
  expect(artifact.predictions).toEqual([names.p]);
  expect(glue.buildId).toBe(buildId);
  expect(typeof glue[`create${typeName(expected.modelName)}`]).toBe('function');
  expect(Object.keys(js.kernels)).toEqual(kernelNames);
  for (const kernel of kernels) {
    // kernels-wgsl puts each module on lines of its own inside the template literal.
    const code = `\n${renderWgslKernel(compiled.schedule, kernel).code}\n`;
    const { sources } = wgsl.wgslKernels[kernel.name];
    if (expected.renderedFrom === false) {
      expect(wgslCode(wgsl.wgslKernels[kernel.name].code)).toBe(wgslCode(code));
      expect(sources).toHaveLength(kernel.sources.length);
    } else {
      expect(wgsl.wgslKernels[kernel.name].code).toBe(code);
      expect(sources).toEqual(kernel.sources);
    }
    expect(cuda.cudaKernels[kernel.name].sources).toEqual(sources);
  }
  expect(cuda.cudaBuild.sourceHash).toBe(cudaSourceHash(files[CUDA_SOURCE_FILE]));
  count('names exact in the artifact, the WGSL, the sources and the glue\'s export');

  // The glue's declarations name the feeds, predictions and parameters exactly.
  const T = typeName(expected.modelName);
  const declared = declaredNames(files['model.d.ts']);
  expect(declared.get(`${T}TrainFeeds`)).toEqual([names.x, names.y]);
  expect(declared.get(`${T}PredictFeeds`)).toEqual([names.x]);
  expect(declared.get(`${T}Predictions`)).toEqual([names.p]);
  expect(declared.get(`${T}Param`)?.sort()).toEqual([names.w, names.s, names['w.velocity']].sort());
  count('names exact in the glue\'s types (model.d.ts)');
  return dir;
}

/** The property names of each object type alias and the members of each string union. */
function declaredNames(dts: string): Map<string, string[]> {
  const file = ts.createSourceFile('model.d.ts', dts, ts.ScriptTarget.ES2022, true);
  const found = new Map<string, string[]>();
  for (const statement of file.statements) {
    if (!ts.isTypeAliasDeclaration(statement)) continue;
    const { type } = statement;
    const text = (n: ts.Node) => (ts.isStringLiteral(n) ? n.text : `<${ts.SyntaxKind[n.kind]}>`);
    if (ts.isTypeLiteralNode(type)) found.set(statement.name.text, type.members.map((m) => text(m.name!)));
    if (ts.isUnionTypeNode(type)) found.set(statement.name.text, type.types.map((t) => text((t as ts.LiteralTypeNode).literal)));
    if (ts.isLiteralTypeNode(type)) found.set(statement.name.text, [text(type.literal)]);
  }
  return found;
}

/** Every WGSL kernel in `dir` through Dawn: messages of the compiler and pipeline creation. */
async function wgslMessages(device: GPUDevice, dir: string): Promise<string[]> {
  const { wgslKernels } = (await import(pathToFileURL(resolve(dir, 'kernels-wgsl.js')).href)) as {
    wgslKernels: Record<string, WgslKernel>;
  };
  expect(Object.keys(wgslKernels).length).toBeGreaterThan(0);
  const messages: string[] = [];
  for (const [name, kernel] of Object.entries(wgslKernels)) {
    const module = device.createShaderModule({ label: name, code: kernel.code });
    const info = await module.getCompilationInfo();
    messages.push(...info.messages.map((m) => `${name}:${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`));
    device.pushErrorScope('validation');
    await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: kernel.entryPoint } });
    const error = await device.popErrorScope();
    if (error) messages.push(`${name}: ${error.message}`);
  }
  return messages;
}

// ---- the property ----

describe('arbitrary strings everywhere user text reaches', () => {
  const RUNS = 25;
  /** Cases also compiled by Dawn and by nvcc, which are slow. */
  const DAWN_CASES = 3;
  const NVCC_CASES = 2;

  it('give modules that parse, are the same code, hold the names exactly and run nothing', async () => {
    const nvcc = requireNvcc();
    const device = (await requestNodeGpuDevice()) as GPUDevice;
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          namesArbitrary,
          nastyString,
          nastyString,
          fc.array(locArbitrary, { minLength: 1, maxLength: 4 }),
          async (names, modelName, sourceFile, locs) => {
            const compiled = compileModel(renamedSpec(names, modelName, locs));
            const files = renderArtifacts(compiled, ALL_TARGETS, sourceFile);
            const dir = await checkBuild(compiled, files, { modelName, names });
            if (run < DAWN_CASES) {
              expect(await wgslMessages(device, dir)).toEqual([]);
              count('WGSL kernels compiled by Dawn (shader module and pipeline)');
            }
            if (run < NVCC_CASES) {
              const cuFile = join(dir, CUDA_SOURCE_FILE);
              const extraFlags = ['-Werror', 'all-warnings', '-Xcompiler', '-Wall,-Wextra,-Wbidi-chars=any'];
              compileFatbin({ cuFile, output: join(dir, 'kernels.fatbin'), archs: DEFAULT_CUDA_ARCHS.slice(0, 1), nvcc, extraFlags });
              count('kernels.cu compiled by nvcc (sm_80, warnings as errors)');
            }
            if (run === 0) {
              const strictest = { noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true };
              const declarations = ['model.d.ts', 'kernels.d.ts', 'kernels-wgsl.d.ts', 'kernels-cuda.d.ts'];
              expect(strictDiagnostics(declarations.map((f) => join(dir, f)), strictest)).toEqual([]);
              count('declarations type-checked (strictest settings)');
            }
            run++;
          },
        ),
        {
          numRuns: RUNS,
          examples: [[
            { ...PLAIN, x: PAYLOADS[0], y: PAYLOADS[1], w: PAYLOADS[5], s: PAYLOADS[7], h: PAYLOADS[8], p: PAYLOADS[3] },
            PAYLOADS[0],
            PAYLOADS[1],
            PAYLOADS.map((p, i) => ({ file: p, line: i, column: i, label: PAYLOADS[(i + 3) % PAYLOADS.length] })),
          ]],
        },
      );
    } finally {
      device.destroy();
    }
    count('renderArtifacts with arbitrary names, model name, model path and DSL locations', run);
  }, 600_000);

  it('through the DSL: a name it takes is rendered exactly, one it refuses is a GradcError', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(namesArbitrary, async (names) => {
        let compiled: CompiledModel;
        try {
          compiled = compileModel(model(names).declare());
        } catch (error) {
          expect(error).toBeInstanceOf(GradcError);
          refused++;
          return;
        }
        accepted++;
        // The momentum optimizer names its state after the parameter.
        const declared = { ...names, 'w.velocity': `${names.w}.velocity` };
        await checkBuild(compiled, renderArtifacts(compiled, ALL_TARGETS, 'model.ts'), { modelName: 'fuzz', names: declared });
      }),
      { numRuns: 8 },
    );
    count(`names through the DSL (${accepted} taken, ${refused} refused)`, accepted + refused);
  }, 300_000);

  it('from model files in folders named by arbitrary strings (their DSL locations included)', async () => {
    const root = scratch();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(folderName, { minLength: 1, maxLength: 2 }), async (folders) => {
        const file = writeModelFile(join(root, String(run), ...folders));
        const result = await buildModel(file, { targets: ALL_TARGETS, outDir: scratch(), compileCuda: false });
        const files = Object.fromEntries(
          Object.keys(plain.files).map((name) => [name, readFileSync(join(result.outDir, name), 'utf8')]),
        );
        await checkBuild(result.compiled, files, { modelName: 'fuzz', names: PLAIN });
        const header = /^\/\*\*\n \* Generated by gradc from (.*) \(batch/.exec(files['model.js'])?.[1];
        expect(header).toBeDefined();
        run++;
      }),
      { numRuns: 6, examples: [[[PAYLOADS[0]]], [[PAYLOADS[1].replace('//', '')]], [['a\\', 'b\u2028c']]] },
    );
    count('gradc build of model files in arbitrarily named folders', run);
  }, 300_000);
});

/** A copy of the test model (plain names) in `dir`, importing the DSL by file URL. */
function writeModelFile(dir: string, body = ''): string {
  mkdirSync(dir, { recursive: true });
  const dsl = JSON.stringify(pathToFileURL(resolve('dsl/index.ts')).href);
  const file = join(dir, 'model.ts');
  writeFileSync(
    file,
    `import { add, defineModel, matmul, momentum, mul, softmax, softmaxCrossEntropy } from ${dsl};

export default defineModel({
  name: 'fuzz',
  batch: 2,
  seed: 3,
  optimizer: momentum({ learningRate: 0.1, momentum: 0.9 }),
  build(m, B) {
    const x = m.input('x', [B, 3]);
    const y = m.input('y', [B, 2]);
    const w = m.param('w', [3, 2], 'glorot_uniform');
    const s = m.state('s', [2], 0);
    const h = m.hyper('h', 0.5);
    m.assign(s, add(mul(s, h), 1));
    const logits = add(matmul(x, w), s);${body}
    return { loss: softmaxCrossEntropy(logits, y), predictions: { p: softmax(logits) } };
  },
});
`,
  );
  return file;
}

// ---- one test per fault ----

/**
 * Builds the test model from a file at `path` under a scratch folder: each `/` in it separates
 * two folders, so a star before a slash ends a folder's name.
 */
async function buildFrom(path: string) {
  const file = writeModelFile(join(scratch(), path));
  const outDir = scratch();
  const result = await buildModel(file, { targets: ALL_TARGETS, outDir, compileCuda: false });
  const glue = readFileSync(join(outDir, 'model.js'), 'utf8');
  return { result, file, outDir, glue };
}

describe('the faults found', () => {
  it('a `*/` in a folder name does not end the glue module\'s doc comment', async () => {
    // The folder `models *` holds the folder ` here`: the path reads `models */ here/model.ts`.
    const { glue, outDir, file } = await buildFrom('models */ here');
    expect(syntaxErrors(glue, 'model.js')).toEqual([]);
    expect(syntaxErrors(readFileSync(join(outDir, 'model.d.ts'), 'utf8'), 'model.d.ts')).toEqual([]);
    expect(tokenKinds(glue)).toEqual(tokenKinds(plain.files['model.js']));
    const path = relative(process.cwd(), file);
    expect(glue).toContain(` * Generated by gradc from ${path.replace('*/', '*\\/')} (batch 2, seed 3).\n`);
    const imported = (await import(pathToFileURL(join(resolve(outDir), 'model.js')).href)) as { artifact: Artifact };
    expect(imported.artifact.name).toBe('fuzz');
    count('fault: `*/` in a folder name');
  });

  it('a crafted path runs no code when the generated modules are imported', async () => {
    for (const folder of [PAYLOADS[0], PAYLOADS[1], PAYLOADS[3], PAYLOADS[9]]) {
      const { glue, outDir, result } = await buildFrom(`x${folder}y`);
      expect(syntaxErrors(glue, 'model.js')).toEqual([]);
      for (const module of ['model.js', 'kernels.js', 'kernels-wgsl.js', CUDA_MODULE_FILE]) {
        await import(pathToFileURL(join(resolve(outDir), module)).href);
      }
      expect(injected()).toBeUndefined();
      // The payload in the kernels' DSL locations stays inside the comments.
      const files = Object.fromEntries(Object.keys(plain.files).map((n) => [n, readFileSync(join(outDir, n), 'utf8')]));
      await checkBuild(result.compiled, files, { modelName: 'fuzz', names: PLAIN });
    }
    count('fault: crafted model paths', 4);
  });

  it('a seed that is not a number cannot end the glue\'s doc comment', async () => {
    const seed = `1 ${PAYLOADS[0]}` as unknown as number;
    // The DSL refuses it at the user's line; a spec built past the DSL is escaped all the same.
    expect(() => model(PLAIN, { seed })).toThrow(/defineModel: seed .* must be an integer in \[0, 2\^32\)/);
    const compiled = compileModel({ ...model(PLAIN).declare(), seed });
    const files = renderArtifacts(compiled, ALL_TARGETS, 'model.ts');
    expect(syntaxErrors(files['model.js'], 'model.js')).toEqual([]);
    await checkBuild(compiled, files, { modelName: 'fuzz', names: PLAIN });
    count('fault: a seed that is text');
  });

  it('a model name the DSL refuses cannot reach the glue\'s comments through compileModel', async () => {
    const modelName = `x ${PAYLOADS[0]} ${PAYLOADS[1]}`;
    expect(() => model(PLAIN, { name: modelName })).toThrow(GradcError);
    const compiled = compileModel(renamedSpec(PLAIN, modelName, [{ file: 'model.ts', line: 1, column: 1 }]));
    await checkBuild(compiled, renderArtifacts(compiled, ALL_TARGETS, 'model.ts'), { modelName, names: PLAIN });
    count('fault: a model name with a payload, past the DSL');
  });

  it('a model named like a global the glue uses (promise, float32-array) still type-checks', async () => {
    const declarations: string[] = [];
    for (const name of ['promise', 'float32-array']) {
      const compiled = compileModel(model(PLAIN, { name }).declare());
      const dir = await checkBuild(compiled, renderArtifacts(compiled, ALL_TARGETS, 'model.ts'), { modelName: name, names: PLAIN });
      declarations.push(join(dir, 'model.d.ts'));
    }
    expect(strictDiagnostics(declarations)).toEqual([]);
    expect(typeName('promise')).toBe('PromiseModel');
    count('fault: model names that shadowed Promise and Float32Array', 2);
  }, 120_000);

  it('a size that is not a number is refused at the user\'s line, before it reaches a kernel', () => {
    const size = '3; globalThis.__gradcInjected = 1' as unknown as number;
    const definition = defineModel({
      name: 'sizes',
      batch: 2,
      optimizer: momentum({ learningRate: 0.1, momentum: 0.9 }),
      build(m, B) {
        const x = m.input('x', [B, size]);
        const b = m.param('b', [size], 'zeros');
        const logits = add(x, b);
        return { loss: softmaxCrossEntropy(logits, x), predictions: {} };
      },
    });
    expect(() => definition.declare()).toThrow(GradcError);
    expect(() => definition.declare()).toThrow(/escape-generated\.test\.ts:\d+:\d+ .*is not a positive integer/);
    count('fault: a size that is text');
  });
});

// ---- the command line ----

describe('gradc build on the command line', () => {
  it('takes a model file in a folder named with every kind of trouble, and the --out folder reaches no text', async () => {
    // Not a backslash: Node refuses to import a module whose path has one (ERR_INVALID_MODULE_SPECIFIER).
    const folders = ['a */ b /* c', 'd\n e\r\u2028\u2029\u0085\u000b?#%0A', `f ${PAYLOADS[0]} g`];
    const file = writeModelFile(join(scratch(), ...folders));
    const marker = 'out-folder-7f3a';
    const out = join(scratch(), `${marker} ${PAYLOADS[1]} ${PAYLOADS[0]}`);
    const r = spawnSync(process.execPath, [
      'bin/gradc.mjs', 'build', relative(process.cwd(), file), '--out', out, '--target', ALL_TARGETS.join(','), '--skip-nvcc',
    ], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const files = Object.fromEntries(Object.keys(plain.files).map((n) => [n, readFileSync(join(out, n), 'utf8')]));
    for (const text of Object.values(files)) expect(text).not.toContain(marker);
    // The DSL locations name the file (V8 gives file URLs there, decoded into the path).
    expect(files['kernels.c']).toMatch(/model\.ts:\d+:\d+ /);
    const compiled = compileModel(model().declare());
    await checkBuild(compiled, files, { modelName: 'fuzz', names: PLAIN, renderedFrom: false });
    count('gradc build (command line) from a troubled folder into a troubled --out');
  }, 120_000);
});
