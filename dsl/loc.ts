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

/** The first stack frame outside dsl/, labelled with what the user called. */
export function callerLoc(label: string): SourceLoc | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const frame of stack) {
    const match = FRAME.exec(frame.trim());
    if (!match) continue;
    const file = match[1];
    if (toFileUrl(file).startsWith(DSL_DIR) || file.includes('node_modules')) continue;
    if (file.startsWith('node:')) continue;
    return { file: displayPath(file), line: Number(match[2]), column: Number(match[3]), label };
  }
  return undefined;
}
