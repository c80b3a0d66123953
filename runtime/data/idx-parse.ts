// Parser for the IDX format used by the MNIST files
// (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte, a dimension-count byte,
// big-endian uint32 sizes, then the big-endian data in row-major order.
// Pure and browser-safe: it imports nothing from Node (runtime/data/idx.ts reads files).

/** Raised for any malformed or missing data file; the message names the file. */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** The element types of the IDX format. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The typed array an IDX file's elements are read into. */
export type IdxData =
  | Uint8Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/** A parsed IDX file: its element type, dimensions and data. */
export interface IdxArray {
  dtype: IdxDtype;
  shape: number[];
  data: IdxData;
}

interface DtypeInfo {
  dtype: IdxDtype;
  bytes: number;
}

const DTYPES: ReadonlyMap<number, DtypeInfo> = new Map([
  [0x08, { dtype: 'uint8', bytes: 1 }],
  [0x09, { dtype: 'int8', bytes: 1 }],
  [0x0b, { dtype: 'int16', bytes: 2 }],
  [0x0c, { dtype: 'int32', bytes: 4 }],
  [0x0d, { dtype: 'float32', bytes: 4 }],
  [0x0e, { dtype: 'float64', bytes: 8 }],
]);

/** The IDX type byte for a dtype (the inverse of the table above). */
export function idxTypeByte(dtype: IdxDtype): number {
  for (const [byte, info] of DTYPES) if (info.dtype === dtype) return byte;
  throw new DataError(`unknown IDX dtype '${dtype}'`);
}

const MAGIC_LENGTH = 4;

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, '0')}`;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Number of elements; an IDX file with zero dimensions holds one scalar. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, size) => product * size, 1);
}

function readDtype(bytes: Uint8Array, source: string): DtypeInfo {
  if (bytes.length < MAGIC_LENGTH) {
    throw new DataError(
      `${source}: file too short for the IDX header: ${bytes.length} bytes, need at least 4`,
    );
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataError(
      `${source}: bad IDX magic number: first two bytes are ${hex(bytes[0])} ${hex(bytes[1])}, ` +
        'expected 0x00 0x00 (is this an IDX file?)',
    );
  }
  const info = DTYPES.get(bytes[2]);
  if (info === undefined) {
    throw new DataError(
      `${source}: unknown IDX type byte ${hex(bytes[2])}; ` +
        'expected one of 0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e',
    );
  }
  return info;
}

function readShape(view: DataView, source: string): number[] {
  const rank = view.getUint8(3);
  const headerLength = MAGIC_LENGTH + 4 * rank;
  if (view.byteLength < headerLength) {
    throw new DataError(
      `${source}: file too short for the IDX header: ${view.byteLength} bytes, ` +
        `but ${rank} dimensions need ${headerLength}`,
    );
  }
  const shape: number[] = [];
  for (let axis = 0; axis < rank; axis++) {
    shape.push(view.getUint32(MAGIC_LENGTH + 4 * axis, false));
  }
  return shape;
}

/** Decode `count` big-endian elements starting at `offset` into a fresh typed array. */
function decodeData(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      // Copy so the result owns a compact buffer instead of pinning the whole file.
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset,
        view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset,
        view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Parse an in-memory IDX file. `source` (usually the path) is put in every error message.
 * The returned data never aliases `bytes`.
 */
export function parseIdx(bytes: Uint8Array, source: string): IdxArray {
  const { dtype, bytes: elementBytes } = readDtype(bytes, source);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = readShape(view, source);
  const headerLength = MAGIC_LENGTH + 4 * shape.length;
  const expected = elementCount(shape) * elementBytes;
  const found = bytes.length - headerLength;
  if (found < expected) {
    throw new DataError(
      `${source}: truncated IDX data: expected ${expected} bytes of data after the header ` +
        `for shape ${shapeText(shape)}, found ${found}`,
    );
  }
  if (found > expected) {
    throw new DataError(
      `${source}: trailing garbage after IDX data: expected ${expected} bytes of data after ` +
        `the header for shape ${shapeText(shape)}, found ${found} (${found - expected} extra)`,
    );
  }
  const data = decodeData(view, headerLength, elementCount(shape), dtype);
  return { dtype, shape, data };
}

/** True when the bytes start with the gzip magic number 0x1f 0x8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}
