/**
 * CRC-32 (the IEEE polynomial of zlib, PNG and gzip), browser-safe. Sixteen bytes per round
 * through sixteen tables ("slicing by 16") on little-endian hosts, so a few hundred megabytes
 * take well under a second; a byte at a time elsewhere.
 */

const POLYNOMIAL = 0xedb88320;
const SLICES = 16;

/** Table k (at k * 256) gives the CRC of a byte followed by k zero bytes. */
function makeTables(): Int32Array {
  const tables = new Int32Array(SLICES * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? POLYNOMIAL ^ (c >>> 1) : c >>> 1;
    tables[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[n];
    for (let k = 1; k < SLICES; k++) {
      c = tables[c & 0xff] ^ (c >>> 8);
      tables[k * 256 + n] = c;
    }
  }
  return tables;
}

let TABLES: Int32Array | undefined;
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** Folds bytes [from, to) into the running (inverted) CRC `c`, one byte at a time. */
function bytewise(t: Int32Array, c: number, bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return c;
}

/** Folds whole 16-byte groups of little-endian words into the running (inverted) CRC `c`. */
function sliced(t: Int32Array, c: number, words: Int32Array): number {
  const end = words.length & ~3;
  for (let w = 0; w < end; w += 4) {
    const a = words[w] ^ c;
    const b = words[w + 1];
    const d = words[w + 2];
    const e = words[w + 3];
    c =
      t[3840 + (a & 0xff)] ^ t[3584 + ((a >>> 8) & 0xff)] ^ t[3328 + ((a >>> 16) & 0xff)] ^ t[3072 + (a >>> 24)] ^
      t[2816 + (b & 0xff)] ^ t[2560 + ((b >>> 8) & 0xff)] ^ t[2304 + ((b >>> 16) & 0xff)] ^ t[2048 + (b >>> 24)] ^
      t[1792 + (d & 0xff)] ^ t[1536 + ((d >>> 8) & 0xff)] ^ t[1280 + ((d >>> 16) & 0xff)] ^ t[1024 + (d >>> 24)] ^
      t[768 + (e & 0xff)] ^ t[512 + ((e >>> 8) & 0xff)] ^ t[256 + ((e >>> 16) & 0xff)] ^ t[e >>> 24];
  }
  return c;
}

/** The CRC-32 of `bytes`, continuing from `previous` (the CRC of the bytes before them). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const t = (TABLES ??= makeTables());
  const n = bytes.length;
  if (!LITTLE_ENDIAN) return ~bytewise(t, ~previous, bytes, 0, n) >>> 0;
  // Bytes up to the first 4-byte boundary of the underlying buffer, then 16-byte groups.
  const head = Math.min(n, (4 - (bytes.byteOffset % 4)) % 4);
  let c = bytewise(t, ~previous, bytes, 0, head);
  const groups = Math.floor((n - head) / 16);
  if (groups > 0) c = sliced(t, c, new Int32Array(bytes.buffer, bytes.byteOffset + head, groups * 4));
  return ~bytewise(t, c, bytes, head + groups * 16, n) >>> 0;
}

/** The CRC-32 as 8 lowercase hexadecimal digits. */
export function crc32Hex(bytes: Uint8Array): string {
  return crc32(bytes).toString(16).padStart(8, '0');
}
