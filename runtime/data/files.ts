// Node-only: reads dataset files (CSV, IDX pairs; either may be gzip-compressed) and hands the
// bytes or text to the browser-safe parsers (./csv.ts, ./idx-dataset.ts).
import { constants as bufferConstants } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parseCsv } from './csv.ts';
import type { CsvOptions } from './csv.ts';
import type { Dataset } from './dataset.ts';
import { datasetFromIdx } from './idx-dataset.ts';
import { DataError, isGzip } from './idx-parse.ts';

function notRegular(stats: Stats): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a named pipe';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

function fsError(path: string, error: unknown, doing: string): DataError {
  const { code, message } = error as NodeJS.ErrnoException;
  switch (code) {
    case 'ENOENT':
      return new DataError(`${path}: file not found`);
    case 'ENOTDIR':
      return new DataError(`${path}: file not found (a part of the path is not a directory)`);
    case 'EACCES':
    case 'EPERM':
      return new DataError(`${path}: cannot ${doing}: permission denied`);
    case 'ERR_FS_FILE_TOO_LARGE':
      return new DataError(`${path}: file too large to read into memory`);
    default:
      return new DataError(`${path}: cannot ${doing}: ${message}`);
  }
}

/**
 * The bytes of a regular file. Anything else (a directory, a device such as /dev/zero, a named
 * pipe) is refused before it is read; a missing or unreadable file gets a one-line message
 * naming it. The file is opened without blocking and checked again once open, so a file
 * swapped for a pipe in between is refused rather than waited on.
 */
export function readRegularFile(path: string): Uint8Array {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    throw fsError(path, error, 'read');
  }
  const kind = notRegular(stats);
  if (kind !== undefined) throw new DataError(`${path}: ${kind}, not a regular file`);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw fsError(path, error, 'open');
  }
  try {
    const openKind = notRegular(fstatSync(fd));
    if (openKind !== undefined) throw new DataError(`${path}: ${openKind}, not a regular file`);
    return readFileSync(fd);
  } catch (error) {
    if (error instanceof DataError) throw error;
    throw fsError(path, error, 'read');
  } finally {
    closeSync(fd);
  }
}

/** The bytes, decompressed when they start with the gzip magic number. */
function gunzipped(bytes: Uint8Array, path: string): { bytes: Uint8Array; gzipped: boolean } {
  if (!isGzip(bytes)) return { bytes, gzipped: false };
  try {
    return { bytes: gunzipSync(bytes), gzipped: true };
  } catch (error) {
    throw new DataError(`${path}: corrupt gzip data: ${(error as Error).message}`);
  }
}

const REPLACEMENT = '\ufffd';
const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

/** UTF-8 bytes as text; invalid UTF-8 is refused at its line and column when it can be told. */
function decodeUtf8(bytes: Uint8Array, source: string): string {
  if (bytes.length > MAX_STRING_LENGTH) {
    throw new DataError(
      `${source}: too large to parse as one string (${bytes.length} bytes; at most ${MAX_STRING_LENGTH})`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    if (!(error instanceof TypeError)) {
      throw new DataError(`${source}: cannot decode as text: ${(error as Error).message}`);
    }
  }
  // Locate the first bad sequence: it decodes to U+FFFD, which is exact unless the text also
  // holds a real U+FFFD (bytes EF BF BD).
  const lossy = new TextDecoder('utf-8').decode(bytes);
  const at = lossy.indexOf(REPLACEMENT);
  const genuine = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
    .includes(Buffer.from(REPLACEMENT));
  if (at < 0 || genuine) throw new DataError(`${source}: not valid UTF-8 text`);
  const before = lossy.slice(0, at);
  const line = before.split(/\r\n|\r|\n/).length;
  const column = at - Math.max(before.lastIndexOf('\n'), before.lastIndexOf('\r'));
  throw new DataError(`${source}:${line}:${column}: not valid UTF-8 text`);
}

/** CSV options for a file: `source` defaults to the path. */
export type CsvFileOptions = Omit<CsvOptions, 'source'> & { readonly source?: string };

/** Reads a CSV file (UTF-8, optionally gzip-compressed) and parses it with `parseCsv`. */
export function loadCsvFile(path: string, options: CsvFileOptions): Dataset {
  const source = options.source ?? path;
  const { bytes } = gunzipped(readRegularFile(path), source);
  return parseCsv(decodeUtf8(bytes, source), { ...options, source });
}

/** The feature scale and class count of an IDX pair. */
export interface IdxFilesOptions {
  /** Features are the stored values divided by this (default 255 for uint8 images, else 1). */
  readonly scale?: number;
  /** Number of classes (default: the largest label + 1). */
  readonly classes?: number;
}

/**
 * Reads an images IDX file and a labels IDX file (each raw or gzip-compressed, told apart by
 * the gzip magic number) into a dataset with `datasetFromIdx`. Byte offsets in messages about
 * a compressed file count in its decompressed data.
 */
export function loadIdxFiles(
  imagesPath: string,
  labelsPath: string,
  options: IdxFilesOptions = {},
): Dataset {
  const images = gunzipped(readRegularFile(imagesPath), imagesPath);
  const labels = gunzipped(readRegularFile(labelsPath), labelsPath);
  const named = (path: string, gzipped: boolean) => (gzipped ? `${path} (decompressed)` : path);
  return datasetFromIdx(images.bytes, labels.bytes, {
    ...options,
    imagesSource: named(imagesPath, images.gzipped),
    labelsSource: named(labelsPath, labels.gzipped),
  });
}
