/**
 * Checkpoint and weights files on disk (Node only; the format is runtime/checkpoint.ts).
 *
 * A save writes a temporary file with a unique name in the same folder, flushes it, renames it
 * over the target and flushes the folder, so a crash leaves the old file or the new one, never
 * a mix; on any failure the temporary file is removed. What is written is first read back from
 * memory, so gradc never writes a file it would refuse.
 *
 * A load opens the path without blocking, refuses anything but a regular file (a folder, a
 * device such as /dev/zero, a pipe), reads the 8-byte header length, checks it against the
 * file's size, reads and checks the header, which must account for every byte of the file, and
 * only then reads the data.
 */
import type { Stats } from 'node:fs';
import {
  closeSync, constants, fstatSync, openSync, readSync,
} from 'node:fs';
import type { Checkpoint, CheckpointToWrite } from './checkpoint.ts';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
import { LENGTH_BYTES, parseHeader, readHeaderLength } from './safetensors.ts';
import { writeAtomically } from '../artifact/atomic-file.ts';

/** The most bytes one read or write call moves (Node refuses more than 2 GiB). */
const CHUNK = 1 << 30;

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Writes `bytes` to `path` atomically (see artifact/atomic-file.ts); a failure is a
 * CheckpointError naming the file.
 */
export function writeFileAtomically(path: string, bytes: Uint8Array): void {
  try {
    writeAtomically(path, bytes);
  } catch (e) {
    throw new CheckpointError(`${path}: ${reason(e)}`);
  }
}

/**
 * Saves a checkpoint or weights file atomically. Refuses (before touching the disk) anything
 * that could not be read back: the encoded bytes are decoded first.
 */
export function saveCheckpoint(path: string, checkpoint: CheckpointToWrite): void {
  const bytes = encodeCheckpoint(checkpoint);
  decodeCheckpoint(bytes, `${path} (not saved)`);
  writeFileAtomically(path, bytes);
}

function describeFileType(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isFIFO()) return 'a pipe';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Fills `into` from the file starting at byte `position`; refuses a file that ends early. */
function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, Math.min(CHUNK, into.length - done), position + done);
    if (n === 0) {
      throw new CheckpointError(`${path}: the file ended at byte ${position + done}, before the ${position + into.length} expected (did it change while being read?)`);
    }
    done += n;
  }
}

/** The bytes of a safetensors file whose header accounts for exactly its size. */
function readSafetensorsFile(fd: number, path: string): Uint8Array {
  const stat = fstatSync(fd);
  if (!stat.isFile()) throw new CheckpointError(`${path}: ${describeFileType(stat)}, not a regular file`);
  const size = stat.size;
  const prefix = new Uint8Array(Math.min(size, LENGTH_BYTES));
  readFully(fd, prefix, 0, path);
  const headerLength = readHeaderLength(prefix, size, path);
  const start = LENGTH_BYTES + headerLength;
  const header = new Uint8Array(headerLength);
  readFully(fd, header, LENGTH_BYTES, path);
  // Checks dtypes, shapes and offsets against the data the file's size leaves: no byte may be
  // missing or left over.
  parseHeader(header, size - start, path);
  const bytes = new Uint8Array(size);
  bytes.set(prefix);
  bytes.set(header, LENGTH_BYTES);
  readFully(fd, bytes.subarray(start), start, path);
  if (readSync(fd, new Uint8Array(1), 0, 1, size) !== 0) {
    throw new CheckpointError(`${path}: the file grew while being read`);
  }
  return bytes;
}

/** Loads a gradc checkpoint or weights file, or any safetensors file (as weights). */
export function loadCheckpoint(path: string): Checkpoint {
  let fd: number;
  try {
    // Non-blocking, so opening a named pipe does not wait for a writer; it is refused below.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read the checkpoint (${reason(e)})`);
  }
  try {
    return decodeCheckpoint(readSafetensorsFile(fd, path), path);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    throw new CheckpointError(`${path}: cannot read the checkpoint (${reason(e)})`);
  } finally {
    closeSync(fd);
  }
}
