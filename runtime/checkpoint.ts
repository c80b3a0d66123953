/**
 * Checkpoints: every parameter and optimizer state of a model in one file. A save writes a
 * temporary file, flushes it and renames it over the old one, so a crash during a save leaves
 * the previous checkpoint intact.
 *
 * Format: the line `gradc-checkpoint 1`, one JSON line { model, progress?, tensors: [{ name,
 * shape }] }, then the tensors' float32 little-endian data in that order. `progress` is the
 * training loop's position after the epoch saved (runtime/train.ts), so a resume is exact.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import type { TrainProgress } from './train.ts';

const MAGIC = 'gradc-checkpoint 1\n';

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export interface CheckpointTensor {
  readonly name: string;
  readonly shape: readonly number[];
}

export interface Checkpoint {
  readonly model: string;
  /** Where the training loop stood; absent in checkpoints saved outside it. */
  readonly progress?: TrainProgress;
  readonly tensors: Readonly<Record<string, Float32Array>>;
}

const PROGRESS_COUNTS = ['epochsDone', 'stepsDone', 'examples', 'batch', 'epochsSinceBest'] as const;
const RECORD_NUMBERS = ['epoch', 'trainLoss', 'testLoss', 'testAccuracy', 'learningRate'] as const;

/** The header's `progress`, checked field by field, or an error naming the file and field. */
function parseProgress(value: unknown, source: string): TrainProgress | undefined {
  if (value === undefined) return undefined;
  const bad = (what: string) => new CheckpointError(`${source}: the checkpoint's progress ${what}`);
  if (typeof value !== 'object' || value === null) throw bad('is not an object');
  const record = value as Record<string, unknown>;
  for (const field of PROGRESS_COUNTS) {
    const n = record[field];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw bad(`field "${field}" is not a count`);
  }
  if (typeof record.seed !== 'number' || !Number.isFinite(record.seed)) throw bad('field "seed" is not a number');
  const best = record.bestTestLoss;
  if (best !== null && typeof best !== 'number') throw bad('field "bestTestLoss" is not a number');
  const { epochsDone, stepsDone, examples, batch } = record as Record<string, number>;
  if (batch === 0 || stepsDone !== epochsDone * Math.floor(examples / batch)) {
    throw bad(`steps ${stepsDone} are not ${epochsDone} epochs of ${examples} examples in batches of ${batch}`);
  }
  const history = record.history;
  if (!Array.isArray(history) || history.length !== epochsDone) {
    throw bad('history does not hold one record per epoch done');
  }
  history.forEach((entry: unknown, i) => {
    const fields = entry as Record<string, unknown> | null;
    const missing = RECORD_NUMBERS.find((f) => typeof fields?.[f] !== 'number');
    if (missing) throw bad(`history record ${i + 1} has no number "${missing}"`);
  });
  return value as TrainProgress;
}

function littleEndianBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return bytes;
}

export function encodeCheckpoint(checkpoint: Checkpoint, shapes: Readonly<Record<string, readonly number[]>>): Uint8Array {
  const tensors: CheckpointTensor[] = Object.keys(checkpoint.tensors).map((name) => ({
    name,
    shape: shapes[name] ?? [checkpoint.tensors[name].length],
  }));
  const { model, progress } = checkpoint;
  const header = new TextEncoder().encode(`${MAGIC}${JSON.stringify({ model, progress, tensors })}\n`);
  const parts = [header, ...tensors.map((t) => littleEndianBytes(checkpoint.tensors[t.name]))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, source: string): Checkpoint {
  const text = new TextDecoder().decode(bytes.subarray(0, Math.min(bytes.length, 1 << 20)));
  if (!text.startsWith(MAGIC)) throw new CheckpointError(`${source}: not a gradc checkpoint`);
  const headerEnd = text.indexOf('\n', MAGIC.length);
  if (headerEnd < 0) throw new CheckpointError(`${source}: the checkpoint header is cut off`);
  let header: { model: string; progress?: unknown; tensors: CheckpointTensor[] };
  try {
    header = JSON.parse(text.slice(MAGIC.length, headerEnd));
  } catch {
    throw new CheckpointError(`${source}: the checkpoint header is not valid JSON`);
  }
  let offset = new TextEncoder().encode(text.slice(0, headerEnd + 1)).length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors: Record<string, Float32Array> = {};
  for (const t of header.tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (offset + size * 4 > bytes.length) {
      throw new CheckpointError(`${source}: truncated: tensor "${t.name}" needs ${size * 4} bytes at offset ${offset}, the file has ${bytes.length} bytes`);
    }
    const values = new Float32Array(size);
    for (let i = 0; i < size; i++) values[i] = view.getFloat32(offset + i * 4, true);
    tensors[t.name] = values;
    offset += size * 4;
  }
  if (offset !== bytes.length) throw new CheckpointError(`${source}: ${bytes.length - offset} unexpected bytes after the last tensor`);
  const progress = parseProgress(header.progress, source);
  return { model: header.model, ...(progress ? { progress } : {}), tensors };
}

/** Writes atomically: temp file, fsync, rename. */
export function saveCheckpoint(path: string, checkpoint: Checkpoint, shapes: Readonly<Record<string, readonly number[]>>): void {
  const bytes = encodeCheckpoint(checkpoint, shapes);
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(temp, path);
}

export function loadCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read the checkpoint (${(e as Error).message})`);
  }
  return decodeCheckpoint(bytes, path);
}
