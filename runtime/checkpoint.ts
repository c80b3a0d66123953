/**
 * gradc's checkpoints and weights files, browser-safe (bytes in, bytes out; the Node file I/O
 * is runtime/checkpoint-file.ts). Both are safetensors files (runtime/safetensors.ts) whose
 * `__metadata__` holds gradc's data as strings:
 *
 * - `format`: `gradc`
 * - `kind`: `checkpoint` (parameters and optimizer states) or `weights` (parameters only)
 * - `model`: the model's name
 * - `progress`: checkpoints saved by the training loop: its TrainProgress as JSON, so a resume
 *   is exact
 * - `crc32`: the CRC-32 of the byte buffer, 8 hexadecimal digits; a damaged file is refused
 *
 * Nothing non-finite is ever written: a diverged run's parameters or history are refused.
 *
 * A safetensors file without `format: gradc` (written by PyTorch or another tool) reads as
 * weights of no particular model.
 */
import { CheckpointError } from './checkpoint-error.ts';
import { crc32, crc32Hex } from './crc32.ts';
import type { Metadata, Tensor, Tensors } from './safetensors.ts';
import {
  decodeTensors, encodeSafetensors, littleEndianBytes, quoteName, splitSafetensors, tensorOrder,
} from './safetensors.ts';
import type { TrainProgress } from './train-progress.ts';
import { MONITORS } from './train-progress.ts';

export { CheckpointError };
export type { Tensor, Tensors };

/** A checkpoint holds parameters and optimizer state (and the training position); weights, parameters only. */
export type CheckpointKind = 'checkpoint' | 'weights';

/** A decoded gradc checkpoint or weights file (or another tool's safetensors file, read as weights). */
export interface Checkpoint {
  /** `checkpoint`: parameters and optimizer states; `weights`: parameters. */
  readonly kind: CheckpointKind;
  /** The model's name; absent in a safetensors file written by another tool. */
  readonly model?: string;
  /** Where the training loop stood (checkpoints only); absent in those saved outside it. */
  readonly progress?: TrainProgress;
  readonly tensors: Tensors;
}

/** What gradc writes: a checkpoint or weights of a named model. */
export interface CheckpointToWrite extends Checkpoint {
  readonly model: string;
}

/** The `__metadata__` value of `format` that marks a gradc file. */
export const GRADC_FORMAT = 'gradc';
const KINDS: readonly string[] = ['checkpoint', 'weights'] satisfies CheckpointKind[];

// ---------------------------------------------------------------------------------------------
// progress

const PROGRESS_COUNTS = ['epochsDone', 'stepsDone', 'examples', 'batch', 'epochsSinceBest'] as const;
const RECORD_NUMBERS = ['epoch', 'loss', 'seconds', 'samplesPerSecond'] as const;
const EVALUATION_NUMBERS = ['loss', 'accuracy', 'mse', 'mae'] as const;
/** The progress's JSON text back to a value. */
function parseProgressJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckpointError(`${source}: the checkpoint's progress is not valid JSON`);
  }
}

/** The header's `progress`, checked field by field, or an error naming the file and field. */
function parseProgress(value: unknown, source: string): TrainProgress {
  const bad = (what: string) => new CheckpointError(`${source}: the checkpoint's progress ${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('is not an object');
  const record = value as Record<string, unknown>;
  for (const field of PROGRESS_COUNTS) {
    const n = record[field];
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw bad(`field "${field}" is not a count`);
  }
  if (record.batch === 0) throw bad('field "batch" is 0');
  if (typeof record.seed !== 'number' || !Number.isFinite(record.seed)) throw bad('field "seed" is not a number');
  if (record.lastBatch !== 'fill' && record.lastBatch !== 'drop') throw bad('field "lastBatch" is not "fill" or "drop"');
  if (typeof record.shuffle !== 'boolean') throw bad('field "shuffle" is not true or false');
  if (!(MONITORS as readonly unknown[]).includes(record.monitor)) throw bad('field "monitor" is not a known monitor');
  if (record.best !== null && !isFiniteNumber(record.best)) throw bad('field "best" is not a number');
  const history = record.history;
  if (!Array.isArray(history) || history.length !== record.epochsDone) {
    throw bad('history does not hold one record per epoch done');
  }
  history.forEach((entry: unknown, i) => {
    const fields = entry as Record<string, unknown> | null;
    const missing = RECORD_NUMBERS.find((f) => !isFiniteNumber(fields?.[f]));
    if (missing) throw bad(`history record ${i + 1} has no number "${missing}"`);
    if (fields?.learningRate !== null && !isFiniteNumber(fields?.learningRate)) {
      throw bad(`history record ${i + 1} has no number "learningRate"`);
    }
    const validation = fields?.validation as Record<string, unknown> | undefined;
    const wrong = EVALUATION_NUMBERS.find((f) => validation?.[f] !== undefined && !isFiniteNumber(validation[f]));
    if (wrong) throw bad(`history record ${i + 1} has a validation "${wrong}" that is not a number`);
  });
  return value as TrainProgress;
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

// ---------------------------------------------------------------------------------------------
// Writing

/** The CRC-32 of the byte buffer encodeSafetensors will write for `tensors`. */
function dataChecksum(tensors: Tensors): string {
  let crc = 0;
  for (const name of tensorOrder(tensors)) crc = crc32(littleEndianBytes(tensors[name].data), crc);
  return crc.toString(16).padStart(8, '0');
}

/**
 * A checkpoint never holds NaN or infinities: a diverged run must not replace the last good
 * checkpoint with parameters nobody can use.
 */
function refuseNonFinite(tensors: Tensors): void {
  for (const name of tensorOrder(tensors)) {
    const { data } = tensors[name];
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) {
        throw new CheckpointError(
          `not saved: tensor ${quoteName(name)} holds ${data[i]} at element ${i} (training diverged); ` +
            'the previous file is left as it was',
        );
      }
    }
  }
}

/** gradc's `__metadata__` for a checkpoint or weights file. */
function gradcMetadata(checkpoint: CheckpointToWrite): Metadata {
  const { kind, model, progress, tensors } = checkpoint;
  if (!KINDS.includes(kind)) throw new CheckpointError(`cannot write a gradc file of kind ${JSON.stringify(kind)}`);
  if (typeof model !== 'string') throw new CheckpointError('cannot write a gradc file without a model name');
  if (kind === 'weights' && progress !== undefined) {
    throw new CheckpointError('cannot write training progress into a weights file (save a checkpoint)');
  }
  refuseNonFinite(tensors);
  const progressText = progress === undefined ? undefined : JSON.stringify(progress);
  if (progressText !== undefined) parseProgress(JSON.parse(progressText), 'the progress to save');
  return {
    format: GRADC_FORMAT,
    kind,
    model,
    ...(progressText !== undefined ? { progress: progressText } : {}),
    crc32: dataChecksum(tensors),
  };
}

/** A gradc checkpoint or weights file: a safetensors file with gradc's metadata. */
export function encodeCheckpoint(checkpoint: CheckpointToWrite): Uint8Array {
  return encodeSafetensors(checkpoint.tensors, gradcMetadata(checkpoint));
}

// ---------------------------------------------------------------------------------------------
// Reading

interface GradcFields {
  readonly kind: CheckpointKind;
  readonly model: string;
  readonly progress?: TrainProgress;
  readonly crc32: string;
}

/** gradc's fields from a file's metadata, checked, or undefined for another tool's file. */
function readGradcFields(metadata: Metadata, source: string): GradcFields | undefined {
  const field = (key: string) => (Object.hasOwn(metadata, key) ? metadata[key] : undefined);
  if (field('format') !== GRADC_FORMAT) return undefined;
  const bad = (what: string) => new CheckpointError(`${source}: the gradc metadata ${what}`);
  const kind = field('kind');
  if (kind === undefined || !KINDS.includes(kind)) throw bad(`has no kind "checkpoint" or "weights" (${JSON.stringify(kind ?? null)})`);
  const model = field('model');
  if (model === undefined) throw bad('names no model');
  const checksum = field('crc32');
  if (checksum === undefined || !/^[0-9a-f]{8}$/.test(checksum)) throw bad('has no crc32 checksum of 8 hexadecimal digits');
  const progressText = field('progress');
  if (progressText !== undefined && kind === 'weights') throw bad('gives training progress in a weights file');
  const progress = progressText === undefined ? undefined : parseProgress(parseProgressJson(progressText, source), source);
  return { kind: kind as CheckpointKind, model, crc32: checksum, ...(progress ? { progress } : {}) };
}

/**
 * Reads a gradc checkpoint or weights file, or any safetensors file as weights. Every problem
 * is a CheckpointError naming `source` and what is wrong; a gradc file whose data does not
 * match its checksum is refused.
 */
export function decodeCheckpoint(bytes: Uint8Array | ArrayBuffer, source: string): Checkpoint {
  const parts = splitSafetensors(bytes, source);
  const gradc = readGradcFields(parts.header.metadata, source);
  if (!gradc) return { kind: 'weights', tensors: decodeTensors(parts) };
  const actual = crc32Hex(parts.data);
  if (actual !== gradc.crc32) {
    throw new CheckpointError(`${source}: the data is damaged (its CRC-32 is ${actual}, the file records ${gradc.crc32})`);
  }
  const { kind, model, progress } = gradc;
  return { kind, model, ...(progress ? { progress } : {}), tensors: decodeTensors(parts) };
}
