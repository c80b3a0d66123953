// Module hooks that let Node import TypeScript model files: `.ts` and `.mts` files outside
// node_modules are transpiled (types removed, inline source maps, so stack traces and the DSL's
// file:line:col point at the user's source) and loaded as ES modules. Imports may name a `.ts`
// file by its `.js` name, as TypeScript projects write them, or leave the extension out.
// Registered by bin/gradc.mjs with `module.register`. Transpiled text is cached on disk by a
// digest of the source (in gradc's cache folder), so TypeScript itself is loaded only when a
// file changed.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let conditions = [];
let transpiler;

/** `data.conditions`: export conditions added to every resolution (the repository's sources). */
export function initialize(data) {
  conditions = data?.conditions ?? [];
}

const TS_FILE = /\.(?:ts|mts)$/;
const JS_EXTENSION = /\.(?:js|mjs)$/;

function isUserTypeScript(url) {
  return url.startsWith('file:') && TS_FILE.test(new URL(url).pathname) && !url.includes('/node_modules/');
}

/** The candidates a relative specifier may mean in a TypeScript project, most literal first. */
function candidates(specifier) {
  if (JS_EXTENSION.test(specifier)) return [specifier, specifier.replace(/js$/, 'ts')];
  if (/\.[cm]?[jt]sx?$/.test(specifier) || specifier.endsWith('/')) return [specifier];
  return [specifier, `${specifier}.ts`, `${specifier}.mts`, `${specifier}/index.ts`];
}

const GRADC_SPECIFIER = /^gradc(?:\/|$)/;

/**
 * `gradc` and `gradc/...` from where they are imported, else (a model or a build folder outside
 * any project that installs gradc) this very gradc, so that the command always finds itself.
 */
async function resolveGradc(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (e) {
    if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e;
    return nextResolve(specifier, { ...context, parentURL: import.meta.url });
  }
}

export async function resolve(specifier, context, nextResolve) {
  const withConditions = conditions.length
    ? { ...context, conditions: [...new Set([...context.conditions, ...conditions])] }
    : context;
  if (GRADC_SPECIFIER.test(specifier)) return resolveGradc(specifier, withConditions, nextResolve);
  const relative = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
  const fromTypeScript = context.parentURL !== undefined && isUserTypeScript(context.parentURL);
  if (!relative || !fromTypeScript) return nextResolve(specifier, withConditions);
  let first;
  for (const candidate of candidates(specifier)) {
    try {
      return await nextResolve(candidate, withConditions);
    } catch (e) {
      first ??= e;
    }
  }
  throw first;
}

async function typescript() {
  transpiler ??= import('ts-morph').then((m) => m.ts);
  return transpiler;
}

/** Bumped whenever the transpile options change, so older cached texts are not used. */
const CACHE_VERSION = 1;

function cacheFolder() {
  const env = process.env;
  const root = env.GRADC_CACHE_DIR || join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'gradc');
  return join(root, 'transpiled');
}

async function cached(key) {
  try {
    return await readFile(join(cacheFolder(), `${key}.js`), 'utf8');
  } catch {
    return undefined;
  }
}

/** Writes through a temporary name, so a concurrent reader never sees half a file. */
async function remember(key, text) {
  try {
    const folder = cacheFolder();
    await mkdir(folder, { recursive: true });
    const temporary = join(folder, `${key}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temporary, text);
    await rename(temporary, join(folder, `${key}.js`));
  } catch {
    // A cache that cannot be written only costs time.
  }
}

export async function load(url, context, nextLoad) {
  if (!isUserTypeScript(url)) return nextLoad(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const key = createHash('sha256').update(`${CACHE_VERSION}\0${url}\0${source}`).digest('hex');
  const hit = await cached(key);
  if (hit !== undefined) return { format: 'module', source: hit, shortCircuit: true };
  const ts = await typescript();
  const fileName = fileURLToPath(url);
  const { outputText, diagnostics = [] } = ts.transpileModule(source, {
    fileName,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: false,
      isolatedModules: true,
      rewriteRelativeImportExtensions: false,
      inlineSourceMap: true,
      inlineSources: true,
    },
  });
  // A syntax error is the user's: one line at its place (a SyntaxError, which survives the
  // trip from this thread to the main one), never a silently repaired module.
  const error = diagnostics.find((d) => d.category === ts.DiagnosticCategory.Error);
  if (error) throw new SyntaxError(diagnosticText(ts, error, fileName));
  await remember(key, outputText);
  return { format: 'module', source: outputText, shortCircuit: true };
}

/** `file:line:col: message`, the file relative to the working directory. */
function diagnosticText(ts, diagnostic, fileName) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
  if (diagnostic.file === undefined || diagnostic.start === undefined) return `${fileName}: ${message}`;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  const shown = fileName.startsWith(`${process.cwd()}/`) ? fileName.slice(process.cwd().length + 1) : fileName;
  return `${shown}:${line + 1}:${character + 1}: ${message}`;
}
