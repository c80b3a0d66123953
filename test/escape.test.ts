/**
 * The escaping functions of compiler/codegen/escape.ts on arbitrary strings: each one's output,
 * put in its context, parses in V8 and TypeScript to exactly what it should (a comment that
 * ends where it should, a literal whose value is the text), and the `//` comment text also in
 * C (gcc, trigraphs on), CUDA C (nvcc) and WGSL (Dawn), many strings to one file each.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import {
  blockCommentText,
  jsString,
  jsValue,
  lineCommentText,
  pascalCaseIdentifier,
  templateLiteralText,
} from '../compiler/codegen/escape.ts';
import { typeName } from '../compiler/codegen/glue.ts';
import { GradcError } from '../ir/errors.ts';
import { defineModel, sgd, sumAll } from '../dsl/index.ts';
import { DEFAULT_CUDA_ARCHS, compileFatbin, requireNvcc } from '../artifact/cuda-compile.ts';
import { requestNodeGpuDevice } from '../runtime/webgpu-node.ts';
import { PAYLOADS, nastyString } from './nasty-strings.ts';

const RUNS = 2000;
const dir = mkdtempSync(join(tmpdir(), 'gradc-escape-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** TypeScript's syntax errors in `text` (no type checking). */
function syntaxErrors(text: string, fileName = 'case.ts'): string[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true);
  const { parseDiagnostics } = file as unknown as { parseDiagnostics: readonly ts.Diagnostic[] };
  return parseDiagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

function parse(text: string): ts.SourceFile {
  return ts.createSourceFile('case.ts', text, ts.ScriptTarget.ES2022, true);
}

/** The initialiser of `export const a = ...;`, the only statement of `source`. */
function initializerOf(source: string): ts.Expression | undefined {
  const [statement] = parse(source).statements;
  return ts.isVariableStatement(statement) ? statement.declarationList.declarations[0].initializer : undefined;
}

/** Runs `body` as a function body in V8 and returns its result. */
function run(body: string): unknown {
  return new Function(body)();
}

/** A line terminator of JS, C or WGSL, a control character, or an unpaired surrogate. */
const UNSAFE_IN_LINE =
  /[\p{Cc}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/u;

/** The strings every property sees besides the random ones. */
const FIXED = [...PAYLOADS, '', 'a\\', 'a\\ \t ', 'a??/', 'a???/', '*/', '/', '*', '$', '\\', '`'];

/** Line comment texts collected for the compilers. */
const commentSamples: string[] = [...FIXED];

describe('lineCommentText (// comments of TypeScript, C, CUDA and WGSL)', () => {
  it('ends the comment at the end of the line in V8 and TypeScript', () => {
    fc.assert(
      fc.property(nastyString, (text) => {
        const line = lineCommentText(text);
        if (commentSamples.length < 600) commentSamples.push(text);
        expect(line).not.toMatch(UNSAFE_IN_LINE);
        expect(line).not.toMatch(/[\s\\]$|\*\/|\?\?/u);
        expect(run(`// ${line}\nreturn 1;`)).toBe(1);
        const source = `// ${line}\nexport const a = 1;\n`;
        expect(syntaxErrors(source)).toEqual([]);
        expect(parse(source).statements).toHaveLength(1);
      }),
      { numRuns: RUNS, examples: FIXED.map((s) => [s]) },
    );
    console.log(`lineCommentText: ${RUNS + FIXED.length} strings through V8 and TypeScript`);
  });

  /** `// text` then a declaration per sample, and a use of every declaration at the end. */
  function sampleFile(declare: (i: number) => string, use: (names: string[]) => string): string {
    const lines = commentSamples.flatMap((text, i) => [`// ${lineCommentText(text)}`, declare(i)]);
    const names = commentSamples.map((_, i) => `v${i}`);
    return `${lines.join('\n')}\n${use(names)}\n`;
  }

  it('ends the comment at the end of the line in C, trigraphs on, backslash-newline an error', () => {
    const file = join(dir, 'comments.c');
    writeFileSync(file, sampleFile((i) => `int v${i} = ${i};`, (v) => `int gradc_sum(void) { return ${v.join(' + ')}; }`));
    const flags = ['-fsyntax-only', '-std=c11', '-trigraphs', '-Wall', '-Wextra', '-Werror', '-Wbidi-chars=any'];
    const cc = spawnSync(process.env.CC ?? 'cc', [...flags, file], { encoding: 'utf8' });
    expect(cc.stderr).toBe('');
    expect(cc.status).toBe(0);
    console.log(`lineCommentText: ${commentSamples.length} strings in one C file through cc -std=c11 -trigraphs`);
  });

  it('ends the comment at the end of the line in CUDA C (nvcc, warnings as errors)', () => {
    const nvcc = requireNvcc();
    const cuFile = join(dir, 'comments.cu');
    writeFileSync(
      cuFile,
      sampleFile(
        (i) => `__device__ int v${i} = ${i};`,
        (v) => `extern "C" __global__ void gradc_sum(int *out) { *out = ${v.join(' + ')}; }`,
      ),
    );
    const extraFlags = ['-Werror', 'all-warnings', '-Xcompiler', '-Wall,-Wextra,-Wbidi-chars=any'];
    compileFatbin({ cuFile, output: join(dir, 'comments.fatbin'), archs: DEFAULT_CUDA_ARCHS.slice(0, 1), nvcc, extraFlags });
    console.log(`lineCommentText: ${commentSamples.length} strings in one CUDA file through nvcc (sm_80)`);
  }, 300_000);

  it('ends the comment at the end of the line in WGSL (Dawn)', async () => {
    const device = (await requestNodeGpuDevice()) as GPUDevice;
    try {
      const code = sampleFile(
        (i) => `const v${i} = ${i};`,
        (v) => `@compute @workgroup_size(1)\nfn main() {\n${v.map((name) => `  _ = ${name};`).join('\n')}\n}`,
      );
      const module = device.createShaderModule({ code });
      const info = await module.getCompilationInfo();
      expect(info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`)).toEqual([]);
    } finally {
      device.destroy();
    }
    console.log(`lineCommentText: ${commentSamples.length} strings in one WGSL module through Dawn`);
  });
});

describe('blockCommentText (/* */ and /** */ comments of TypeScript)', () => {
  it('never ends the comment early, with or without spaces around the text', () => {
    fc.assert(
      fc.property(nastyString, (text) => {
        const body = blockCommentText(text);
        expect(body).not.toMatch(UNSAFE_IN_LINE);
        expect(body).not.toContain('*/');
        for (const comment of [`/** ${body} */`, `/**${body}*/`, `/*${body}*/`]) {
          expect(run(`${comment} return 1;`)).toBe(1);
          expect(syntaxErrors(`${comment}\nexport const a = 1;\n`)).toEqual([]);
          expect(parse(`${comment}\nexport const a = 1;\n`).statements).toHaveLength(1);
        }
        const doc = `/**\n * ${body}\n */\nexport const a = 1;\n`;
        expect(syntaxErrors(doc)).toEqual([]);
      }),
      { numRuns: RUNS, examples: FIXED.map((s) => [s]) },
    );
    console.log(`blockCommentText: ${RUNS + FIXED.length} strings through V8 and TypeScript`);
  });
});

describe('jsString and jsValue (string literals and the artifact)', () => {
  it('jsString: a literal whose value is the text, in V8 and TypeScript', () => {
    fc.assert(
      fc.property(nastyString, (text) => {
        const literal = jsString(text);
        expect(literal).not.toMatch(UNSAFE_IN_LINE);
        expect(literal).not.toMatch(/[\u007f-\u009f\ufeff]/);
        expect(run(`return ${literal};`)).toBe(text);
        const source = `export const a = ${literal};\n`;
        expect(syntaxErrors(source)).toEqual([]);
        const init = initializerOf(source);
        expect(init && ts.isStringLiteral(init) && init.text).toBe(text);
        // As a property name of a type, as the glue declares feeds.
        expect(syntaxErrors(`export type T = { readonly ${literal}: Float32Array };\n`)).toEqual([]);
      }),
      { numRuns: RUNS, examples: FIXED.map((s) => [s]) },
    );
    console.log(`jsString: ${RUNS + FIXED.length} strings through V8 and TypeScript`);
  });

  it('jsValue: JSON data with arbitrary strings reads back equal', () => {
    const key = nastyString.filter((k) => k !== '__proto__');
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        nastyString,
        fc.integer(),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const runs = RUNS / 4;
    fc.assert(
      fc.property(value, (data) => {
        const expression = jsValue(data);
        expect(expression).not.toMatch(/[\u2028\u2029\u007f-\u009f]/);
        expect(run(`return ${expression};`)).toEqual(data);
        expect(syntaxErrors(`export const a = ${expression};\n`)).toEqual([]);
      }),
      { numRuns: runs },
    );
    expect(() => jsValue(JSON.parse('{"__proto__": 1}'))).toThrow(/__proto__/);
    console.log(`jsValue: ${runs} JSON values through V8 and TypeScript`);
  });
});

describe('templateLiteralText (the WGSL in kernels-wgsl)', () => {
  it('a template literal whose value is the text, in V8 and TypeScript', () => {
    fc.assert(
      fc.property(nastyString, (text) => {
        const body = templateLiteralText(text);
        expect(run(`return \`${body}\`;`)).toBe(text);
        // Right before a `{`: a `$` at the end must not start a substitution.
        expect(run(`return \`${body}{\`;`)).toBe(`${text}{`);
        const source = `export const a = \`${body}\`;\n`;
        expect(syntaxErrors(source)).toEqual([]);
        const init = initializerOf(source);
        expect(init && ts.isNoSubstitutionTemplateLiteral(init) && init.text).toBe(text);
      }),
      { numRuns: RUNS, examples: FIXED.map((s) => [s]) },
    );
    console.log(`templateLiteralText: ${RUNS + FIXED.length} strings through V8 and TypeScript`);
  });
});

describe('identifiers made from names', () => {
  const AVOID = new Set(['Promise', 'Float32Array']);

  it('pascalCaseIdentifier: an identifier of every target, never one to avoid', () => {
    fc.assert(
      fc.property(nastyString, (text) => {
        const name = pascalCaseIdentifier(text, AVOID);
        expect(name).toMatch(/^[A-Z][A-Za-z0-9]*$/);
        expect(AVOID.has(name)).toBe(false);
        expect(syntaxErrors(`export type ${name} = 1;\nexport function create${name}(): void {}\n`)).toEqual([]);
      }),
      { numRuns: RUNS, examples: [['promise'], ['float32-array'], ['9lives'], ['ü'], ['']] },
    );
    expect(typeName('mnist-mlp')).toBe('MnistMlp');
    expect(typeName('promise')).toBe('PromiseModel');
    expect(typeName('float32_array')).toBe('Float32ArrayModel');
    expect(typeName('9lives')).toBe('Model9lives');
    console.log(`pascalCaseIdentifier: ${RUNS + 5} strings`);
  });

  it('the DSL refuses a model name it does not take with a GradcError, and names the rest', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(nastyString, fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,12}$/)), (name) => {
        const define = () =>
          defineModel({
            name,
            batch: 1,
            optimizer: sgd({ learningRate: 0.1 }),
            build: (m) => ({ loss: sumAll(m.param('w', [1], 'zeros')), predictions: {} }),
          });
        let definition;
        try {
          definition = define();
        } catch (error) {
          expect(error).toBeInstanceOf(GradcError);
          return;
        }
        accepted++;
        expect(definition.name).toBe(name);
        expect(typeName(name)).toMatch(/^[A-Z][A-Za-z0-9]*$/);
      }),
      { numRuns: RUNS / 4 },
    );
    console.log(`DSL model names: ${RUNS / 4} strings, ${accepted} accepted`);
  });
});
