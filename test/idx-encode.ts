// A reference IDX encoder for tests, written independently of the parser.
import { idxTypeByte } from '../runtime/data/idx-parse.ts';
import type { IdxDtype } from '../runtime/data/idx-parse.ts';

export const ELEMENT_BYTES: Record<IdxDtype, number> = {
  uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8,
};

/** The bytes of an IDX file holding `values` (row-major) of the given type and shape. */
export function encodeIdx(dtype: IdxDtype, shape: number[], values: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * shape.length;
  const size = ELEMENT_BYTES[dtype];
  const bytes = new Uint8Array(header + values.length * size);
  const view = new DataView(bytes.buffer);
  bytes[2] = idxTypeByte(dtype);
  bytes[3] = shape.length;
  shape.forEach((dim, axis) => view.setUint32(4 + 4 * axis, dim, false));
  for (let i = 0; i < values.length; i++) {
    const at = header + i * size;
    const v = values[i];
    if (dtype === 'uint8') view.setUint8(at, v);
    else if (dtype === 'int8') view.setInt8(at, v);
    else if (dtype === 'int16') view.setInt16(at, v, false);
    else if (dtype === 'int32') view.setInt32(at, v, false);
    else if (dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return bytes;
}
