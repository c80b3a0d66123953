/** Finds the user's file:line:column for a DSL call, from the JavaScript stack. */
import type { SourceLoc } from '../ir/types.ts';

/**
 * gradc's own folders: a frame in one of them is never the user's line (the compiler calls the
 * user's `build`, and an optimizer's updates run from `declare`).
 */
const GRADC_DIRS = ['dsl/', 'ir/', 'artifact/', 'compiler/', 'runtime/', 'cli/', 'bin/'].map(
  (dir) => new URL(`../${dir}`, import.meta.url).href,
);
const DSL_DIR = GRADC_DIRS[0];
const FRAME = /\(?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?\s*$/;

function toFileUrl(file: string): string {
  return file.startsWith('file://') ? file : `file://${file}`;
}

/** Paths are made relative to the working directory so that generated text is portable. */
function displayPath(file: string): string {
  const path = file.startsWith('file://') ? decodeURIComponent(new URL(file).pathname) : file;
  const cwd = globalThis.process?.cwd?.();
  if (cwd && path.startsWith(`${cwd}/`)) return path.slice(cwd.length + 1);
  return path;
}

/** `dense` from `at dense (file:...)`; undefined for anonymous frames. */
function functionName(frame: string): string | undefined {
  const match = /^at (?:async )?([A-Za-z_$][\w$.]*) \(/.exec(frame);
  return match ? match[1].replace(/^(Object|Module)\./, '') : undefined;
}

function isGradcFile(file: string): boolean {
  const url = toFileUrl(file);
  return GRADC_DIRS.some((dir) => url.startsWith(dir));
}

/**
 * The first stack frame outside gradc's own folders, labelled with the DSL function the user
 * called there (so a node made inside `dense` reads `model.ts:12:7 dense`), or with `label`
 * when that is a method of the model context (`m.input('x', ...)` reads `input("x")`).
 */
export function callerLoc(label: string): SourceLoc | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  let called: string | undefined;
  for (const raw of stack) {
    const frame = raw.trim();
    const match = FRAME.exec(frame);
    if (!match) continue;
    const file = match[1];
    if (isGradcFile(file)) {
      if (toFileUrl(file).startsWith(DSL_DIR)) called = functionName(frame) ?? called;
      continue;
    }
    if (file.includes('node_modules') || file.startsWith('node:')) continue;
    const where = { file: displayPath(file), line: Number(match[2]), column: Number(match[3]) };
    return { ...where, label: called && called !== 'traced' && !called.includes('.') ? called : label };
  }
  return undefined;
}
