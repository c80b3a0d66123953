/** Finds the user's file:line:column for a DSL call, from the JavaScript stack. */
import type { SourceLoc } from '../compiler/ir/types.ts';

const DSL_DIR = new URL('.', import.meta.url).href;
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

/**
 * The first stack frame outside dsl/, labelled with the DSL function the user called there
 * (so a node made inside `dense` reads `model.ts:12:7 dense`), or with `label`.
 */
export function callerLoc(label: string): SourceLoc | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  let called: string | undefined;
  for (const raw of stack) {
    const frame = raw.trim();
    const match = FRAME.exec(frame);
    if (!match) continue;
    const file = match[1];
    if (toFileUrl(file).startsWith(DSL_DIR)) {
      called = functionName(frame) ?? called;
      continue;
    }
    if (file.includes('node_modules') || file.startsWith('node:')) continue;
    const where = { file: displayPath(file), line: Number(match[2]), column: Number(match[3]) };
    return { ...where, label: called && called !== 'traced' ? called : label };
  }
  return undefined;
}
