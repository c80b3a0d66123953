/**
 * Writing a file so that a reader (or a crash) sees the old contents or the new ones, never a
 * mix: a new temporary file in the same folder, written, flushed, renamed over the target, then
 * the folder flushed. On any failure the temporary file is removed. Node only.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The most bytes one write call moves (Node refuses more than 2 GiB). */
const CHUNK = 1 << 30;

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(CHUNK, bytes.length - done));
  }
}

/** Flushes a folder's entries, so a rename in it survives a crash. */
function fsyncFolder(folder: string): void {
  const fd = openSync(folder, constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temporary name next to `path` that no other writer uses. */
function temporaryName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Writes `bytes` to `path` atomically: a new temporary file in the same folder, written,
 * flushed, renamed over `path`, then the folder flushed. On any failure the temporary file is
 * removed and `path` is as it was.
 */
export function writeAtomically(path: string, data: Uint8Array | string): void {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  const temp = temporaryName(path);
  let fd: number | undefined;
  let created = false;
  try {
    fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
    created = true;
    writeAll(fd, bytes);
    fsyncSync(fd);
    const closing = fd;
    fd = undefined;
    closeSync(closing);
    renameSync(temp, path);
    created = false;
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // The write already failed; that error is the one to report.
      }
    }
    let left = '';
    try {
      if (created) rmSync(temp, { force: true });
    } catch (removing) {
      left = `; the temporary file ${temp} could not be removed (${reason(removing)})`;
    }
    throw new Error(`cannot save (${reason(e)})${left}`);
  }
  try {
    fsyncFolder(dirname(path));
  } catch (e) {
    throw new Error(`saved, but its folder could not be flushed to disk (${reason(e)})`);
  }
}

