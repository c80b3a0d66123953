/**
 * runtime/safetensors.ts against the format's specification: files it writes are read by an
 * independent reader (test/safetensors-spec.ts), files an independent writer makes load into
 * it, anything round-trips bit for bit, and every damaged or hostile file is refused with a
 * one-line CheckpointError.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../runtime/checkpoint-error.ts';
import { crc32 } from '../runtime/crc32.ts';
import type { Tensor, Tensors } from '../runtime/safetensors.ts';
import { MAX_HEADER_BYTES, decodeSafetensors, encodeSafetensors } from '../runtime/safetensors.ts';
import {
  bfloat16Value, halfValue, specBytes, specFile, specFloat32, specRead, specWrite,
} from './safetensors-spec.ts';

function record<T>(entries: Iterable<readonly [string, T]>): Record<string, T> {
  const out = Object.create(null) as Record<string, T>;
  for (const [k, v] of entries) out[k] = v;
  return out;
}

function bits(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** Tensor names that break naive code: prototype keys, quotes, escapes, unicode, empty. */
const awkwardName = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '"', '\\', '\n', '{"a":1}', 'ünï€ødé', '😀', '0', '1e3'),
  fc.string({ unit: 'binary', maxLength: 12 }),
).filter((name) => name !== '__metadata__');

/** A shape of up to 3 axes and every float32 bit pattern for its elements, NaN payloads included. */
const tensorArb: fc.Arbitrary<Tensor> = fc
  .array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 })
  .chain((shape) => {
    const count = shape.reduce((a, b) => a * b, 1);
    return fc
      .array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: count, maxLength: count })
      .map((words) => ({ shape, data: new Float32Array(Uint32Array.from(words).buffer) }));
  });

const tensorsArb: fc.Arbitrary<Tensors> = fc
  .uniqueArray(fc.tuple(awkwardName, tensorArb), { selector: ([name]) => name, maxLength: 6 })
  .map((entries) => record(entries));

const metadataArb = fc
  .uniqueArray(fc.tuple(awkwardName, fc.string({ unit: 'binary', maxLength: 10 })), { selector: ([k]) => k, maxLength: 4 })
  .map((entries) => record(entries));

const SAMPLE: Tensors = record([
  ['fc2.b', { shape: [3], data: Float32Array.of(0.5, -0, Infinity) }],
  ['fc1.w', { shape: [2, 2], data: Float32Array.of(1, 2, 3, NaN) }],
  ['__proto__', { shape: [], data: Float32Array.of(7) }],
  ['empty', { shape: [0, 5], data: new Float32Array(0) }],
]);

describe('gradc safetensors files read by an independent reader', () => {
  it('hold every name, shape, value and metadata entry, sorted by name, header padded to 8 bytes', () => {
    const file = encodeSafetensors(SAMPLE, { format: 'test', note: 'a "quoted"\nline' });
    const read = specRead(file);
    expect(read.metadata).toEqual({ format: 'test', note: 'a "quoted"\nline' });
    expect([...read.tensors.keys()]).toEqual(['__proto__', 'empty', 'fc1.w', 'fc2.b']);
    for (const [name, t] of read.tensors) {
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(SAMPLE[name].shape);
      expect(bits(specFloat32(t))).toEqual(bits(SAMPLE[name].data));
    }
    expect((8 + new TextEncoder().encode(read.headerText).length) % 8).toBe(0);
    expect(read.headerText.trimEnd().endsWith('}')).toBe(true);
  });

  it('have no __metadata__ entry when there is no metadata', () => {
    const read = specRead(encodeSafetensors(record([['x', { shape: [1], data: Float32Array.of(1) }]])));
    expect(read.metadata).toBeUndefined();
    expect(JSON.parse(read.headerText)).not.toHaveProperty('__metadata__');
  });

  it('are the same bytes for the same tensors given in any order', () => {
    const reversed = record(Object.entries(SAMPLE).reverse());
    expect(encodeSafetensors(reversed)).toEqual(encodeSafetensors(SAMPLE));
  });
});

describe('files of an independent writer', () => {
  it('load into gradc: F64, F16, BF16 and F32, unsorted names, padding, no metadata', () => {
    const f64 = [0.1, -2.5, 1e300, -1e-300, 3];
    const file = specWrite(
      [
        ['z.last', { dtype: 'F32', shape: [2], bytes: specBytes('F32', [1.5, -0]) }],
        ['a.f64', { dtype: 'F64', shape: [5, 1], bytes: specBytes('F64', f64) }],
        ['m.f16', { dtype: 'F16', shape: [3], bytes: specBytes('F16', [0x3c00, 0xc000, 0x0001]) }],
        ['b.bf16', { dtype: 'BF16', shape: [2], bytes: specBytes('BF16', [0x3f80, 0xc2f7]) }],
      ],
      undefined,
      5,
    );
    const { tensors, metadata } = decodeSafetensors(file, 'py.safetensors');
    expect(Object.keys(metadata)).toEqual([]);
    expect(Object.keys(tensors).sort()).toEqual(['a.f64', 'b.bf16', 'm.f16', 'z.last']);
    expect(tensors['z.last']).toEqual({ shape: [2], data: Float32Array.of(1.5, -0) });
    expect(tensors['a.f64'].shape).toEqual([5, 1]);
    expect(tensors['a.f64'].data).toEqual(Float32Array.from(f64));
    expect(tensors['m.f16'].data).toEqual(Float32Array.of(1, -2, 2 ** -24));
    expect(tensors['b.bf16'].data).toEqual(Float32Array.of(1, -123.5));
  });

  it('convert every F16 and BF16 bit pattern exactly', () => {
    const patterns = Array.from({ length: 65536 }, (_, i) => i);
    const file = specWrite([
      ['half', { dtype: 'F16', shape: [65536], bytes: specBytes('F16', patterns) }],
      ['brain', { dtype: 'BF16', shape: [256, 256], bytes: specBytes('BF16', patterns) }],
    ]);
    const { tensors } = decodeSafetensors(file.buffer as ArrayBuffer, 'all-patterns');
    const hex = (p: number) => `0x${p.toString(16)}`;
    expect(patterns.filter((p) => !Object.is(tensors.half.data[p], halfValue(p))).map(hex)).toEqual([]);
    expect(patterns.filter((p) => !Object.is(tensors.brain.data[p], bfloat16Value(p))).map(hex)).toEqual([]);
  });
});

describe('round trip', () => {
  it('keeps any names (__proto__, quotes, unicode), shapes, values (bit for bit) and metadata', () => {
    fc.assert(
      fc.property(tensorsArb, metadataArb, (tensors, metadata) => {
        const back = decodeSafetensors(encodeSafetensors(tensors, metadata), 'mem');
        expect(Object.getPrototypeOf(back.tensors)).toBeNull();
        expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const name of Object.keys(tensors)) {
          expect(back.tensors[name].shape).toEqual(tensors[name].shape);
          expect(bits(back.tensors[name].data)).toEqual(bits(tensors[name].data));
        }
        expect({ ...back.metadata }).toEqual({ ...metadata });
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what the format cannot carry: a tensor named __metadata__, a lone surrogate, shapes that miss the data', () => {
    const one = { shape: [1], data: Float32Array.of(1) };
    expect(() => encodeSafetensors(record([['__metadata__', one]]))).toThrow('a tensor cannot be named "__metadata__"');
    expect(() => encodeSafetensors(record([['bad\ud800', one]]))).toThrow('the name is not valid Unicode');
    expect(() => encodeSafetensors(record([['w', { shape: [2], data: Float32Array.of(1) }]]))).toThrow(
      'tensor "w": shape [2] holds 2 values, the data has 1',
    );
    expect(() => encodeSafetensors(record([['w', { shape: [-1], data: Float32Array.of(1) }]]))).toThrow(CheckpointError);
    expect(() => encodeSafetensors({}, { k: 5 as unknown as string })).toThrow('metadata "k" is not a string');
  });

  it('refuses to write a header above the limit', () => {
    // 50,000,001 quotes escape to 100,000,002 bytes of JSON.
    const name = '"'.repeat(MAX_HEADER_BYTES / 2 + 1);
    expect(() => encodeSafetensors(record([[name, { shape: [0], data: new Float32Array(0) }]]))).toThrow(
      `the header would be above the limit of ${MAX_HEADER_BYTES} bytes`,
    );
  });
});

/** A valid two-tensor file's parts, for building damaged ones. */
const W = specBytes('F32', [1, 2, 3]);
const B = specBytes('F32', [4]);
const header = (entries: object) => JSON.stringify(entries);
const good = { w: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [1], data_offsets: [12, 16] } };

function lengthPrefixed(length: bigint, rest: Uint8Array): Uint8Array {
  const file = new Uint8Array(8 + rest.length);
  new DataView(file.buffer).setBigUint64(0, length, true);
  file.set(rest, 8);
  return file;
}

const FAULTS: [string, Uint8Array, RegExp][] = [
  ['a null header', specFile('null', [W, B]), /the header does not start with "\{"/],
  ['an array header', specFile('[{"w":1}]', [W, B]), /the header does not start with "\{"/],
  ['a header that is not JSON', specFile('{"w": ', [W, B]), /the header is not valid JSON/],
  ['a header that is not UTF-8', lengthPrefixed(3n, Uint8Array.of(0x7b, 0xff, 0x7d)), /the header is not UTF-8 text/],
  ['an entry that is not an object', specFile(header({ w: 5 }), []), /tensor "w" is not an object/],
  ['a missing dtype', specFile(header({ w: { shape: [3], data_offsets: [0, 12] } }), [W]), /tensor "w" has no "dtype" string/],
  ['an unknown dtype', specFile(header({ w: { dtype: 'Q7', shape: [3], data_offsets: [0, 12] } }), [W]), /tensor "w": dtype "Q7" is not supported \(gradc reads F32, F64, F16 and BF16\)/],
  ['an integer dtype', specFile(header({ w: { dtype: 'I32', shape: [3], data_offsets: [0, 12] } }), [W]), /dtype "I32" is not supported/],
  ['a missing shape', specFile(header({ w: { dtype: 'F32', data_offsets: [0, 12] } }), [W]), /tensor "w" has no "shape" list/],
  ['a negative shape', specFile(header({ w: { dtype: 'F32', shape: [-3], data_offsets: [0, 12] } }), [W]), /shape \[-3\]: dimension 0 is not a non-negative integer/],
  ['a fractional shape', specFile(header({ w: { dtype: 'F32', shape: [1.5, 2], data_offsets: [0, 12] } }), [W]), /dimension 0 is not a non-negative integer/],
  ['a shape of a string', specFile(header({ w: { dtype: 'F32', shape: ['3'], data_offsets: [0, 12] } }), [W]), /dimension 0 is not a non-negative integer/],
  ['a shape too large to count', specFile(header({ w: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 12] } }), [W]), /has too many elements/],
  ['a missing data_offsets', specFile(header({ w: { dtype: 'F32', shape: [3] } }), [W]), /tensor "w" has no "data_offsets" pair of byte offsets/],
  ['data_offsets of three numbers', specFile(header({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 12, 12] } }), [W]), /no "data_offsets" pair/],
  ['negative data_offsets', specFile(header({ w: { dtype: 'F32', shape: [3], data_offsets: [-12, 0] } }), [W]), /no "data_offsets" pair/],
  ['data_offsets that end before they begin', specFile(header({ w: { dtype: 'F32', shape: [0], data_offsets: [12, 0] } }), [W]), /data_offsets \[12, 0\] end before they begin/],
  ['data_offsets that disagree with the shape', specFile(header({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 12] } }), [W]), /data_offsets \[0, 12\] hold 12 bytes, its shape and dtype need 8/],
  ['data_offsets outside the buffer', specFile(header({ w: { dtype: 'F32', shape: [3], data_offsets: [4, 16] } }), [W]), /data_offsets \[4, 16\] run past the end of the 12-byte data buffer/],
  ['overlapping data_offsets', specFile(header({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }), [W]), /tensor "b" \(bytes 8 to 12\) overlaps tensor "a" \(bytes 0 to 12\)/],
  ['a gap between tensors', specFile(header({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }), [W]), /bytes 4 to 8 of the data buffer belong to no tensor \(a gap before tensor "b"\)/],
  ['trailing bytes', specFile(header(good), [W, B, Uint8Array.of(0, 0)]), /the last 2 bytes of the 18-byte data buffer belong to no tensor \(trailing bytes\)/],
  ['metadata that is not an object', specFile(header({ __metadata__: ['x'] }), []), /"__metadata__" is not an object of strings/],
  ['a metadata value that is not a string', specFile(header({ __metadata__: { epoch: 3 } }), []), /metadata "epoch" is not a string/],
  ['a name with a lone surrogate', specFile('{"\\ud800":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}'), /the name is not valid Unicode/],
  ['a header length larger than the file', lengthPrefixed(1000n, new TextEncoder().encode('{}')), /the header length 1000 runs past the end of the file \(10 bytes\)/],
  ['a header length above the limit', lengthPrefixed(BigInt(MAX_HEADER_BYTES) + 1n, new Uint8Array(16)), /the header length 100000001 is above the limit of 100000000 bytes/],
  ['a header length of 2^64 - 1', lengthPrefixed(2n ** 64n - 1n, new Uint8Array(16)), /the header length 18446744073709551615 is above the limit/],
  ['fewer than 8 bytes', Uint8Array.of(2, 0, 0), /3 bytes, too short for a safetensors file/],
];

describe('a damaged or hostile file', () => {
  it.each(FAULTS)('with %s is refused with a one-line CheckpointError naming it', (_what, file, message) => {
    let error: unknown;
    try {
      decodeSafetensors(file, 'bad.safetensors');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    const text = (error as Error).message;
    expect(text).toMatch(/^bad\.safetensors: /);
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
  });

  it('is refused when cut at any length', () => {
    const file = specFile(header(good), [W, B]);
    expect(decodeSafetensors(file, 'ok').tensors.b.data).toEqual(Float32Array.of(4));
    for (let cut = 0; cut < file.length; cut++) {
      expect(() => decodeSafetensors(file.subarray(0, cut), 'cut.safetensors')).toThrow(/^cut\.safetensors: /);
      expect(() => decodeSafetensors(file.subarray(0, cut), 'cut.safetensors')).toThrow(CheckpointError);
    }
  });

  it('never fails with anything but a CheckpointError, whatever its bytes become', () => {
    const file = encodeSafetensors(SAMPLE, { format: 'x' });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(file.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(file.length),
        (edits, cut) => {
          const damaged = file.slice(0, Math.max(cut, 1));
          for (const [at, byte] of edits) if (at < damaged.length) damaged[at] = byte;
          try {
            decodeSafetensors(damaged, 'fuzz');
          } catch (e) {
            expect(e).toBeInstanceOf(CheckpointError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** CRC-32 from its definition, one bit at a time. */
function crcByBits(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

describe('CRC-32', () => {
  it('gives the standard check value and agrees with the bitwise definition at any alignment and split', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.nat(7), fc.nat(80), (data, shift, split) => {
        const shifted = new Uint8Array(data.length + shift);
        shifted.set(data, shift);
        const view = shifted.subarray(shift);
        expect(crc32(view)).toBe(crcByBits(data));
        const at = Math.min(split, data.length);
        expect(crc32(view.subarray(at), crc32(view.subarray(0, at)))).toBe(crcByBits(data));
      }),
    );
  });
});

describe('the browser-safe modules', () => {
  it('import nothing from Node or any package, directly or through the modules they load', () => {
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const source = readFileSync(file, 'utf8');
      // Type-only imports vanish from the JavaScript; every other import is loaded.
      for (const [, specifier] of source.matchAll(/^(?:import|export) (?!type )[^;]*?from '([^']+)';/gms)) {
        expect(specifier.startsWith('.'), `${file} imports ${specifier}`).toBe(true);
        visit(relative(process.cwd(), resolve(dirname(file), specifier)));
      }
    };
    // gradc/runtime, which a browser bundle holds, and the checkpoint modules in it.
    visit('runtime/index.ts');
    for (const file of ['runtime/safetensors.ts', 'runtime/checkpoint.ts', 'runtime/crc32.ts', 'runtime/model.ts']) {
      expect(seen.has(file), file).toBe(true);
    }
    expect([...seen].filter((f) => /node|files|checkpoint-file|native|cuda|webgpu-node/.test(f))).toEqual([]);
  });
});
