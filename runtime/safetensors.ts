/**
 * The safetensors format (https://github.com/huggingface/safetensors), browser-safe: no Node
 * imports. A file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object,
 * possibly padded with spaces) and the byte buffer. Each header entry but `__metadata__` (a
 * map of string to string) describes one tensor: `{ dtype, shape, data_offsets: [begin, end] }`,
 * offsets relative to the buffer, which the tensors must cover exactly. Data is little-endian
 * and row-major.
 *
 * gradc writes F32 with the header padded to a multiple of 8 bytes and tensors sorted by name,
 * as the reference writer does for tensors of one dtype. It reads F32, F64, F16 and BF16 into
 * float32. The reader trusts nothing: every field is checked against the file, and every
 * problem is a one-line CheckpointError naming the source. Tensors are kept in objects without
 * a prototype, so any name (`__proto__` included) is just a name.
 */
import { CheckpointError } from './checkpoint-error.ts';

/** The largest header read or written, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** The bytes before the header: its length as a little-endian unsigned 64-bit integer. */
export const LENGTH_BYTES = 8;

/** One tensor: float32 values in row-major order and their shape. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Tensors by name. Decoded records have no prototype. */
export type Tensors = Readonly<Record<string, Tensor>>;

/** The header's `__metadata__`: strings by name. Decoded records have no prototype. */
export type Metadata = Readonly<Record<string, string>>;

/** A decoded safetensors file: its tensors (as float32) and its metadata. */
export interface Safetensors {
  readonly tensors: Tensors;
  readonly metadata: Metadata;
}

/** The element types gradc reads, with their sizes in bytes. */
const DTYPE_BYTES = { F32: 4, F64: 8, F16: 2, BF16: 2 } as const;
/** The safetensors element types gradc reads. */
export type Dtype = keyof typeof DTYPE_BYTES;

/** One tensor entry of a checked header: offsets relative to the byte buffer. */
export interface TensorEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

/** A checked header: entries in the order of their data. */
export interface SafetensorsHeader {
  readonly entries: readonly TensorEntry[];
  readonly metadata: Metadata;
}

/** A checked file split into its header and its byte buffer (a view, not a copy). */
export interface SafetensorsParts {
  readonly header: SafetensorsHeader;
  readonly data: Uint8Array;
}

const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Small helpers

function nullRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A name for a message: quoted and escaped (one line whatever it holds), long ones cut. */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
}

function fail(source: string, what: string): CheckpointError {
  return new CheckpointError(`${source}: ${what}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A field of a parsed JSON object, ignoring anything inherited. */
function own(record: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** True when the string holds a lone surrogate, which UTF-8 cannot carry. */
function hasLoneSurrogate(text: string): boolean {
  return /\p{Cs}/u.test(text);
}

function asBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  return bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
}

function formatShape(shape: readonly unknown[]): string {
  return `[${shape.join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------
// Reading

/**
 * The header length from the first 8 bytes of a file of `fileLength` bytes, refused when the
 * file is too short, the length is above MAX_HEADER_BYTES or runs past the end of the file.
 */
export function readHeaderLength(prefix: Uint8Array, fileLength: number, source: string): number {
  if (fileLength < LENGTH_BYTES || prefix.length < LENGTH_BYTES) {
    throw fail(source, `${fileLength} bytes, too short for a safetensors file (it starts with an 8-byte header length)`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, LENGTH_BYTES);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw fail(source, `the header length ${length} is above the limit of ${MAX_HEADER_BYTES} bytes (not a safetensors file?)`);
  }
  const n = Number(length);
  if (LENGTH_BYTES + n > fileLength) {
    throw fail(source, `the header length ${n} runs past the end of the file (${fileLength} bytes): truncated?`);
  }
  return n;
}

/** The header's text: strict UTF-8 starting with `{`. */
function headerText(headerBytes: Uint8Array, source: string): string {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw fail(source, 'the header is not UTF-8 text');
  }
  if (!text.startsWith('{')) throw fail(source, 'the header does not start with "{" (not a safetensors file?)');
  return text;
}

/** The header's JSON, which must be an object. */
function headerObject(text: string, source: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const reason = (e as Error).message.replace(/\s+/g, ' ').slice(0, 120);
    throw fail(source, `the header is not valid JSON (${reason})`);
  }
  if (!isObject(json)) throw fail(source, `the header is ${json === null ? 'null' : Array.isArray(json) ? 'an array' : typeof json}, not a JSON object`);
  return json;
}

/** `__metadata__`: absent, null or an object whose values are all strings. */
function parseMetadata(value: unknown, source: string): Metadata {
  const metadata = nullRecord<string>();
  if (value === undefined || value === null) return metadata;
  if (!isObject(value)) throw fail(source, `"${METADATA_KEY}" is not an object of strings`);
  for (const key of Object.keys(value)) {
    const v = own(value, key);
    if (typeof v !== 'string') throw fail(source, `metadata ${quoteName(key)} is not a string`);
    metadata[key] = v;
  }
  return metadata;
}

function parseDtype(value: unknown, where: string, source: string): Dtype {
  if (typeof value !== 'string') throw fail(source, `${where} has no "dtype" string`);
  if (!Object.hasOwn(DTYPE_BYTES, value)) {
    throw fail(source, `${where}: dtype ${quoteName(value)} is not supported (gradc reads F32, F64, F16 and BF16)`);
  }
  return value as Dtype;
}

/** The shape and its element count, which must stay a safe integer. */
function parseShape(value: unknown, where: string, source: string): { shape: number[]; count: number } {
  if (!Array.isArray(value)) throw fail(source, `${where} has no "shape" list`);
  let count = 1;
  value.forEach((dim: unknown, axis) => {
    if (!isCount(dim)) throw fail(source, `${where}: shape ${formatShape(value)}: dimension ${axis} is not a non-negative integer`);
    count *= dim;
    if (!Number.isSafeInteger(count)) throw fail(source, `${where}: shape ${formatShape(value)} has too many elements`);
  });
  return { shape: value as number[], count };
}

/** `data_offsets`: two byte offsets that hold exactly the shape's data and lie in the buffer. */
function parseOffsets(
  value: unknown,
  bytesNeeded: number,
  dataLength: number,
  where: string,
  source: string,
): { begin: number; end: number } {
  if (!Array.isArray(value) || value.length !== 2 || !isCount(value[0]) || !isCount(value[1])) {
    throw fail(source, `${where} has no "data_offsets" pair of byte offsets`);
  }
  const [begin, end] = value as [number, number];
  const offsets = `data_offsets [${begin}, ${end}]`;
  if (begin > end) throw fail(source, `${where}: ${offsets} end before they begin`);
  if (end - begin !== bytesNeeded) {
    throw fail(source, `${where}: ${offsets} hold ${end - begin} bytes, its shape and dtype need ${bytesNeeded}`);
  }
  if (end > dataLength) {
    throw fail(source, `${where}: ${offsets} run past the end of the ${dataLength}-byte data buffer (truncated?)`);
  }
  return { begin, end };
}

/** One tensor entry, checked against a data buffer of `dataLength` bytes. */
function parseEntry(name: string, value: unknown, dataLength: number, source: string): TensorEntry {
  const where = `tensor ${quoteName(name)}`;
  if (hasLoneSurrogate(name)) throw fail(source, `${where}: the name is not valid Unicode`);
  if (!isObject(value)) throw fail(source, `${where} is not an object`);
  const dtype = parseDtype(own(value, 'dtype'), where, source);
  const { shape, count } = parseShape(own(value, 'shape'), where, source);
  const bytesNeeded = count * DTYPE_BYTES[dtype];
  if (!Number.isSafeInteger(bytesNeeded)) throw fail(source, `${where}: shape ${formatShape(shape)} has too many elements`);
  const { begin, end } = parseOffsets(own(value, 'data_offsets'), bytesNeeded, dataLength, where, source);
  return { name, dtype, shape: [...shape], begin, end };
}

/** The entries in data order, refused unless they cover [0, dataLength) without gap or overlap. */
function coverBuffer(entries: readonly TensorEntry[], dataLength: number, source: string): TensorEntry[] {
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: TensorEntry | undefined;
  for (const entry of ordered) {
    if (entry.begin < covered) {
      throw fail(
        source,
        `tensor ${quoteName(entry.name)} (bytes ${entry.begin} to ${entry.end}) overlaps ` +
          `tensor ${quoteName(previous!.name)} (bytes ${previous!.begin} to ${previous!.end})`,
      );
    }
    if (entry.begin > covered) {
      throw fail(source, `bytes ${covered} to ${entry.begin} of the data buffer belong to no tensor (a gap before tensor ${quoteName(entry.name)})`);
    }
    covered = entry.end;
    previous = entry;
  }
  if (covered !== dataLength) {
    throw fail(source, `the last ${dataLength - covered} bytes of the ${dataLength}-byte data buffer belong to no tensor (trailing bytes)`);
  }
  return ordered;
}

/**
 * Checks a header (the N bytes after the length) against a byte buffer of `dataLength` bytes:
 * UTF-8 JSON object, metadata of strings, every entry's dtype, shape and offsets, and the
 * buffer covered exactly.
 */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, source: string): SafetensorsHeader {
  const json = headerObject(headerText(headerBytes, source), source);
  const metadata = parseMetadata(own(json, METADATA_KEY), source);
  const entries = Object.keys(json)
    .filter((name) => name !== METADATA_KEY)
    .map((name) => parseEntry(name, own(json, name), dataLength, source));
  return { entries: coverBuffer(entries, dataLength, source), metadata };
}

/** Checks a whole file and splits it into its header and its byte buffer. */
export function splitSafetensors(input: Uint8Array | ArrayBuffer, source: string): SafetensorsParts {
  const bytes = asBytes(input);
  const n = readHeaderLength(bytes.subarray(0, LENGTH_BYTES), bytes.length, source);
  const start = LENGTH_BYTES + n;
  const header = parseHeader(bytes.subarray(LENGTH_BYTES, start), bytes.length - start, source);
  return { header, data: bytes.subarray(start) };
}

// Conversions to float32: each takes the buffer and an entry's bytes, and returns a new array.

function readF32(data: Uint8Array, begin: number, end: number): Float32Array {
  if (LITTLE_ENDIAN) return new Float32Array(data.slice(begin, end).buffer);
  const out = new Uint32Array((end - begin) / 4);
  const view = new DataView(data.buffer, data.byteOffset + begin, end - begin);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return new Float32Array(out.buffer);
}

function readF64(data: Uint8Array, begin: number, end: number): Float32Array {
  const out = new Float32Array((end - begin) / 8);
  const view = new DataView(data.buffer, data.byteOffset + begin, end - begin);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

let HALF_TO_SINGLE: Uint32Array | undefined;

/** float32 bits of every IEEE half-precision value, exact (NaN payloads and signs kept). */
function halfTable(): Uint32Array {
  const bits = new Uint32Array(65536);
  const value = new Float32Array(bits.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) value[h] = (sign ? -1 : 1) * fraction * 2 ** -24;
    else if (exponent === 31) bits[h] = sign | 0x7f800000 | (fraction << 13);
    else bits[h] = sign | ((exponent + 112) << 23) | (fraction << 13);
  }
  return bits;
}

function readF16(data: Uint8Array, begin: number, end: number): Float32Array {
  const table = (HALF_TO_SINGLE ??= halfTable());
  const out = new Uint32Array((end - begin) / 2);
  const view = new DataView(data.buffer, data.byteOffset + begin, end - begin);
  for (let i = 0; i < out.length; i++) out[i] = table[view.getUint16(i * 2, true)];
  return new Float32Array(out.buffer);
}

function readBF16(data: Uint8Array, begin: number, end: number): Float32Array {
  const out = new Uint32Array((end - begin) / 2);
  const view = new DataView(data.buffer, data.byteOffset + begin, end - begin);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint16(i * 2, true) << 16;
  return new Float32Array(out.buffer);
}

const READERS: Readonly<Record<Dtype, (data: Uint8Array, begin: number, end: number) => Float32Array>> = {
  F32: readF32,
  F64: readF64,
  F16: readF16,
  BF16: readBF16,
};

/** The tensors of a checked header, converted to float32 (copies: `data` can be dropped). */
export function decodeTensors(parts: SafetensorsParts): Tensors {
  const tensors = nullRecord<Tensor>();
  for (const e of parts.header.entries) {
    tensors[e.name] = { shape: e.shape, data: READERS[e.dtype](parts.data, e.begin, e.end) };
  }
  return tensors;
}

/** Reads a whole safetensors file held in memory; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array | ArrayBuffer, source: string): Safetensors {
  const parts = splitSafetensors(bytes, source);
  return { tensors: decodeTensors(parts), metadata: parts.header.metadata };
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Names in a fixed order (by UTF-16 code units), so equal contents give equal files. */
function sortedNames(record: Readonly<Record<string, unknown>>): string[] {
  return Object.keys(record).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The order in which encodeSafetensors writes tensors' data: sorted by name. */
export function tensorOrder(tensors: Tensors): string[] {
  return sortedNames(tensors);
}

/** float32 values as little-endian bytes: a view of them on little-endian hosts, else a copy. */
export function littleEndianBytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint32(i * 4, bits[i], true);
  return out;
}

function refuse(what: string): CheckpointError {
  return new CheckpointError(`cannot write a safetensors file: ${what}`);
}

/** A tensor's element count, refused unless its shape and data agree. */
function checkTensor(name: string, tensor: Tensor | undefined): number {
  const where = `tensor ${quoteName(name)}`;
  if (name === METADATA_KEY) throw refuse(`a tensor cannot be named "${METADATA_KEY}"`);
  if (hasLoneSurrogate(name)) throw refuse(`${where}: the name is not valid Unicode`);
  if (!tensor || !(tensor.data instanceof Float32Array) || !Array.isArray(tensor.shape)) {
    throw refuse(`${where} is not { shape, data: Float32Array }`);
  }
  let count = 1;
  for (const dim of tensor.shape) {
    if (!isCount(dim)) throw refuse(`${where}: shape ${formatShape(tensor.shape)} is not a list of non-negative integers`);
    count *= dim;
  }
  if (count !== tensor.data.length) {
    throw refuse(`${where}: shape ${formatShape(tensor.shape)} holds ${count} values, the data has ${tensor.data.length}`);
  }
  return count;
}

function checkMetadata(metadata: Metadata): void {
  for (const key of Object.keys(metadata)) {
    if (typeof metadata[key] !== 'string') throw refuse(`metadata ${quoteName(key)} is not a string`);
    if (hasLoneSurrogate(key) || hasLoneSurrogate(metadata[key])) throw refuse(`metadata ${quoteName(key)} is not valid Unicode`);
  }
}

/** A JSON object from pairs already serialised, in the order given. */
function jsonObject(pairs: readonly (readonly [string, string])[]): string {
  return `{${pairs.map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(',')}}`;
}

/** The header's bytes: `__metadata__` first (when not empty), then the entries, padded to 8. */
function headerBytes(entries: readonly TensorEntry[], metadata: Metadata): Uint8Array {
  const keys = sortedNames(metadata);
  const pairs: [string, string][] = [];
  if (keys.length > 0) pairs.push([METADATA_KEY, jsonObject(keys.map((k) => [k, JSON.stringify(metadata[k])]))]);
  for (const e of entries) {
    pairs.push([e.name, `{"dtype":"${e.dtype}","shape":[${e.shape.join(',')}],"data_offsets":[${e.begin},${e.end}]}`]);
  }
  const text = jsonObject(pairs);
  // A UTF-8 encoding is never shorter than the UTF-16 string, so this refuses early.
  const tooLong = () => refuse(`the header would be above the limit of ${MAX_HEADER_BYTES} bytes`);
  if (text.length > MAX_HEADER_BYTES) throw tooLong();
  const utf8 = new TextEncoder().encode(text);
  const padded = Math.ceil(utf8.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES) throw tooLong();
  const out = new Uint8Array(padded).fill(0x20);
  out.set(utf8);
  return out;
}

/**
 * A safetensors file of `tensors` (written as F32, sorted by name, bit for bit) and `metadata`
 * (omitted when empty). Refuses a tensor named `__metadata__`, shapes that do not match the
 * data, names or metadata that UTF-8 cannot carry, and a header above MAX_HEADER_BYTES.
 */
export function encodeSafetensors(tensors: Tensors, metadata: Metadata = {}): Uint8Array {
  checkMetadata(metadata);
  let offset = 0;
  const entries: TensorEntry[] = tensorOrder(tensors).map((name) => {
    const count = checkTensor(name, tensors[name]);
    const begin = offset;
    offset += count * 4;
    return { name, dtype: 'F32', shape: [...tensors[name].shape], begin, end: offset };
  });
  const header = headerBytes(entries, metadata);
  let out: Uint8Array;
  try {
    out = new Uint8Array(LENGTH_BYTES + header.length + offset);
  } catch {
    throw refuse(`${LENGTH_BYTES + header.length + offset} bytes do not fit in memory`);
  }
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, LENGTH_BYTES);
  const start = LENGTH_BYTES + header.length;
  for (const e of entries) out.set(littleEndianBytes(tensors[e.name].data), start + e.begin);
  return out;
}
