/**
 * A safetensors reader and writer written from the format's specification alone
 * (https://github.com/huggingface/safetensors, "Format"), sharing no code with
 * runtime/safetensors.ts, so the tests check gradc's files against the format rather than
 * against gradc's own reading of it.
 *
 * File: 8 bytes little-endian unsigned N, N bytes of UTF-8 JSON starting with `{` (padded at
 * the end with spaces), then the byte buffer. Entries `{ dtype, shape, data_offsets: [b, e] }`
 * with offsets relative to the buffer, which they cover exactly; optional `__metadata__` map
 * of string to string. Little-endian, row-major.
 */

export type SpecDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I32';

const SIZE: Record<SpecDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I32: 4 };

export interface SpecTensor {
  readonly dtype: SpecDtype;
  readonly shape: number[];
  /** The raw little-endian bytes of the elements. */
  readonly bytes: Uint8Array;
}

export interface SpecFile {
  /** The header text as stored (padding included). */
  readonly headerText: string;
  readonly metadata: Record<string, string> | undefined;
  /** In the order of their data. */
  readonly tensors: Map<string, SpecTensor & { readonly begin: number; readonly end: number }>;
}

/** Reads a file by the specification; throws an Error on anything the format forbids. */
export function specRead(file: Uint8Array): SpecFile {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 8) throw new Error('shorter than 8 bytes');
  const n = view.getBigUint64(0, true);
  if (n > BigInt(file.length - 8)) throw new Error('header length past the end');
  const headerEnd = 8 + Number(n);
  const headerText = new TextDecoder('utf-8', { fatal: true }).decode(file.subarray(8, headerEnd));
  if (!headerText.startsWith('{')) throw new Error('header does not start with {');
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const buffer = file.subarray(headerEnd);
  let metadata: Record<string, string> | undefined;
  const entries: [string, SpecTensor & { begin: number; end: number }][] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = value as Record<string, string>;
      for (const v of Object.values(metadata)) if (typeof v !== 'string') throw new Error('metadata value not a string');
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = value as { dtype: SpecDtype; shape: number[]; data_offsets: [number, number] };
    if (!(dtype in SIZE)) throw new Error(`dtype ${dtype}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * SIZE[dtype] || end > buffer.length) throw new Error(`bad offsets for ${name}`);
    entries.push([name, { dtype, shape, bytes: buffer.slice(begin, end), begin, end }]);
  }
  entries.sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const [name, e] of entries) {
    if (e.begin !== covered) throw new Error(`hole or overlap at ${name}`);
    covered = e.end;
  }
  if (covered !== buffer.length) throw new Error('buffer not covered');
  return { headerText, metadata, tensors: new Map(entries) };
}

/** float32 values of a tensor read by the specification (F32 only). */
export function specFloat32(tensor: SpecTensor): Float32Array {
  if (tensor.dtype !== 'F32') throw new Error(`not F32: ${tensor.dtype}`);
  const view = new DataView(tensor.bytes.buffer, tensor.bytes.byteOffset, tensor.bytes.byteLength);
  const bits = new Uint32Array(tensor.bytes.length / 4);
  for (let i = 0; i < bits.length; i++) bits[i] = view.getUint32(i * 4, true);
  return new Float32Array(bits.buffer);
}

/**
 * Writes a file by the specification, tensors' data in the order given (not sorted), with
 * `pad` spaces after the JSON and no `__metadata__` unless given.
 */
export function specWrite(
  tensors: readonly (readonly [string, SpecTensor])[],
  metadata?: Record<string, string>,
  pad = 0,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of tensors) {
    Object.defineProperty(header, name, {
      value: { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] },
      enumerable: true,
    });
    offset += t.bytes.length;
  }
  return specFile(JSON.stringify(header) + ' '.repeat(pad), tensors.map(([, t]) => t.bytes));
}

/** A file of a given header text and data parts, the length prefix computed. */
export function specFile(headerText: string, parts: readonly Uint8Array[] = []): Uint8Array {
  const header = new TextEncoder().encode(headerText);
  const total = 8 + header.length + parts.reduce((n, p) => n + p.length, 0);
  const file = new Uint8Array(total);
  new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
  file.set(header, 8);
  let at = 8 + header.length;
  for (const p of parts) {
    file.set(p, at);
    at += p.length;
  }
  return file;
}

/** Little-endian bytes of numbers in a dtype (F16/BF16 from raw 16-bit patterns). */
export function specBytes(dtype: SpecDtype, values: readonly number[]): Uint8Array {
  const out = new Uint8Array(values.length * SIZE[dtype]);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (dtype === 'F64') view.setFloat64(i * 8, v, true);
    else if (dtype === 'F32') view.setFloat32(i * 4, v, true);
    else if (dtype === 'I32') view.setInt32(i * 4, v, true);
    else view.setUint16(i * 2, v, true);
  });
  return out;
}

/** The value of an IEEE half-precision bit pattern, from its definition. */
export function halfValue(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction === 0 ? sign * Infinity : NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** The value of a bfloat16 bit pattern: the top half of a float32. */
export function bfloat16Value(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16, false);
  return view.getFloat32(0, false);
}
