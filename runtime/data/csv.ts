// CSV text to a Dataset: a header row, numeric feature columns and one target column (class
// labels or a number). RFC 4180 quoting; every refusal names source:line:column. Pure and
// browser-safe (runtime/data/files.ts reads files in Node).
import type { Dataset } from './dataset.ts';
import { DataError } from './idx-parse.ts';

// ---------------------------------------------------------------------------------------------
// Records

/**
 * One record as `forEachCsvRecord` hands it over. The arrays are reused for the next record:
 * copy what you keep.
 */
export interface CsvRecord {
  /** The fields' text, unquoted (quotes removed, doubled quotes made single), not trimmed. */
  readonly fields: string[];
  /** 1-based line and column (in UTF-16 code units) where each field starts. */
  readonly lines: number[];
  readonly columns: number[];
  /** True for an empty line: one empty, unquoted field. */
  blank: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const CR = 0x0d;
const LF = 0x0a;
const BOM = 0xfeff;

function csvError(source: string, line: number, column: number, message: string): DataError {
  return new DataError(`${source}:${line}:${column}: ${message}`);
}

function shown(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/**
 * Calls `visit` for each record of RFC 4180 CSV text: fields separated by commas, records by
 * CRLF, LF or CR; a field that starts with a quote runs to the matching quote, may hold commas,
 * line breaks and doubled quotes, and must end there. A leading byte order mark is skipped, and
 * a line break at the end of the text does not start another record. Refuses an unterminated
 * quoted field, a character after a closing quote, and a quote inside an unquoted field.
 */
export function forEachCsvRecord(
  text: string,
  source: string,
  visit: (record: CsvRecord) => void,
): void {
  const n = text.length;
  let i = text.charCodeAt(0) === BOM ? 1 : 0;
  let line = 1;
  let lineStart = i;
  const record: CsvRecord = { fields: [], lines: [], columns: [], blank: false };
  while (i < n) {
    record.fields.length = 0;
    record.lines.length = 0;
    record.columns.length = 0;
    let quotedAny = false;
    for (;;) {
      const fieldLine = line;
      const fieldColumn = i - lineStart + 1;
      let value: string;
      if (text.charCodeAt(i) === QUOTE) {
        quotedAny = true;
        let j = i + 1;
        let chunk = j;
        value = '';
        for (;;) {
          if (j >= n) {
            throw csvError(source, fieldLine, fieldColumn,
              'quoted field is never closed (a quote inside a quoted field must be doubled)');
          }
          const c = text.charCodeAt(j);
          if (c === QUOTE) {
            if (text.charCodeAt(j + 1) === QUOTE) {
              value += text.slice(chunk, j + 1);
              j += 2;
              chunk = j;
              continue;
            }
            value += text.slice(chunk, j);
            j++;
            break;
          }
          if (c === LF || (c === CR && text.charCodeAt(j + 1) !== LF)) {
            line++;
            lineStart = j + 1;
          }
          j++;
        }
        i = j;
        if (i < n) {
          const c = text.charCodeAt(i);
          if (c !== COMMA && c !== CR && c !== LF) {
            throw csvError(source, line, i - lineStart + 1,
              `unexpected ${shown(text[i])} after the closing quote of a field ` +
                '(a quote inside a quoted field must be doubled)');
          }
        }
      } else {
        let j = i;
        while (j < n) {
          const c = text.charCodeAt(j);
          if (c === COMMA || c === CR || c === LF) break;
          if (c === QUOTE) {
            throw csvError(source, line, j - lineStart + 1,
              'quote inside an unquoted field (quote the whole field and double the quote)');
          }
          j++;
        }
        value = text.slice(i, j);
        i = j;
      }
      record.fields.push(value);
      record.lines.push(fieldLine);
      record.columns.push(fieldColumn);
      if (i >= n) break;
      const c = text.charCodeAt(i);
      i++;
      if (c === COMMA) continue;
      if (c === CR && text.charCodeAt(i) === LF) i++;
      line++;
      lineStart = i;
      break;
    }
    record.blank = !quotedAny && record.fields.length === 1 && record.fields[0] === '';
    visit(record);
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

/**
 * A trimmed field as a number: decimal notation only (no hex, no empty string); NaN when it is
 * not a number. Non-finite spellings (nan, inf, infinity) are reported by the caller.
 */
export function parseDecimal(text: string): number {
  return DECIMAL.test(text) ? Number(text) : NaN;
}

/** Fields are trimmed of surrounding spaces and tabs before they are read as numbers or names. */
function trimField(text: string): string {
  const n = text.length;
  if (n === 0) return text;
  const first = text.charCodeAt(0);
  const last = text.charCodeAt(n - 1);
  if (first !== 0x20 && first !== 0x09 && last !== 0x20 && last !== 0x09) return text;
  return text.replace(/^[ \t]+|[ \t]+$/g, '');
}

// ---------------------------------------------------------------------------------------------
// Datasets

/** 'auto' reads integer targets as classes when they take at most this many distinct values. */
export const AUTO_MAX_CLASSES = 20;

/** How `parseCsv` reads a file: its name, the target column, classes or values, or the mapping of a training file. */
export interface CsvOptions {
  /** Names the text in messages, usually its file name. */
  readonly source: string;
  /**
   * The target column: its header name, or its 0-based index (negative counts from the end).
   * Required unless `like` names it.
   */
  readonly target?: string | number;
  /**
   * Whether the target holds classes. 'auto' (the default): classes when any target value is
   * not a number, or when every value is an integer and there are at most AUTO_MAX_CLASSES (20)
   * distinct values; otherwise numbers (regression).
   */
  readonly classification?: boolean | 'auto';
  /** The first row names the columns; it is required (the only supported layout). */
  readonly header?: true;
  /**
   * Parse this text like an earlier dataset (a validation file like its training file): the
   * same feature columns in the same order, the same target column, and the same classes with
   * the same indices (a class it does not have is refused); a regression target stays one.
   */
  readonly like?: Dataset;
}

interface Location {
  line: number;
  column: number;
}

/** The class mapping of a classification target. */
interface ClassMapping {
  readonly names: readonly string[];
  /** The class index of a trimmed target text, or undefined for an unknown class. */
  readonly indexOf: (text: string) => number | undefined;
}

/** True when every name is a number written the way String(number) writes it. */
function namesAreNumbers(names: readonly string[]): boolean {
  return names.every((name) => {
    const value = parseDecimal(name);
    return Number.isFinite(value) && String(value) === name;
  });
}

/**
 * The mapping of class names to indices: numbers in ascending order when every name is a number
 * (named as String(number) writes it, so "1", "1.0" and "01" are one class), otherwise the
 * names in UTF-16 code unit order (not locale order).
 */
function classMappingOf(texts: readonly string[]): ClassMapping {
  const numbers = texts.map(parseDecimal);
  if (numbers.every(Number.isFinite)) {
    const distinct = [...new Set(numbers)].sort((a, b) => a - b);
    return fixedMapping(distinct.map(String));
  }
  const distinct = [...new Set(texts)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return fixedMapping(distinct);
}

/** The mapping to given names: by number when they are all numbers, else by exact text. */
function fixedMapping(names: readonly string[]): ClassMapping {
  const index = new Map(names.map((name, i) => [name, i]));
  if (namesAreNumbers(names)) {
    return {
      names,
      indexOf: (text) => {
        const value = parseDecimal(text);
        return Number.isFinite(value) ? index.get(String(value)) : undefined;
      },
    };
  }
  return { names, indexOf: (text) => index.get(text) };
}

function listed(names: readonly string[], limit = 10): string {
  const shownNames = names.slice(0, limit).map((name) => JSON.stringify(name)).join(', ');
  return names.length > limit ? `${shownNames}, ... (${names.length} in all)` : shownNames;
}

interface Header {
  names: string[];
  columns: number[];
  line: number;
}

function readHeader(record: CsvRecord, source: string): Header {
  const names = record.fields.map(trimField);
  const seen = new Map<string, number>();
  names.forEach((name, c) => {
    const first = seen.get(name);
    if (first !== undefined) {
      throw csvError(source, record.lines[c], record.columns[c],
        `duplicate column name ${JSON.stringify(name)} in the header (columns ${first + 1} and ${c + 1})`);
    }
    seen.set(name, c);
  });
  return { names, columns: [...record.columns], line: record.lines[0] };
}

function targetIndex(header: Header, target: string | number, source: string): number {
  const { names } = header;
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target >= names.length || target < -names.length) {
      throw csvError(source, header.line, 1,
        `target column index ${target} is out of range: the header has ${names.length} columns`);
    }
    return target < 0 ? names.length + target : target;
  }
  const index = names.indexOf(target.trim());
  if (index < 0) {
    throw csvError(source, header.line, 1,
      `no target column ${JSON.stringify(target)} in the header (columns: ${listed(names)})`);
  }
  return index;
}

/** The header's feature columns must be `like`'s, in the same order. */
function checkFeaturesLike(header: Header, target: number, like: Dataset, source: string): void {
  const features = header.names.map((name, c) => ({ name, c })).filter(({ c }) => c !== target);
  const expected = like.featureNames;
  if (features.length !== like.xWidth) {
    throw csvError(source, header.line, 1,
      `${features.length} feature columns, but the data it must match has ${like.xWidth}` +
        (expected ? ` (${listed(expected)})` : ''));
  }
  if (expected === undefined) return;
  features.forEach(({ name, c }, f) => {
    if (name !== expected[f]) {
      throw csvError(source, header.line, header.columns[c],
        `feature column ${f + 1} is ${JSON.stringify(name)} where the data it must match has ` +
          `${JSON.stringify(expected[f])} (expected features: ${listed(expected)})`);
    }
  });
}

/** Growable float32 storage for the features. */
class FloatBuilder {
  data = new Float32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  result(): Float32Array {
    return this.data.slice(0, this.length);
  }
}

/** Reads a numeric field, refusing empty, non-numeric, non-finite and float32-overflowing ones. */
function readNumber(text: string, what: string, source: string, at: Location): number {
  const fail = (message: string) => csvError(source, at.line, at.column, message);
  if (text === '') throw fail(`${what} is empty (missing values are not supported)`);
  if (NON_FINITE.test(text)) throw fail(`${what} is ${shown(text)}: non-finite values are refused`);
  const value = parseDecimal(text);
  if (Number.isNaN(value)) throw fail(`${what} is ${shown(text)}, not a number`);
  if (!Number.isFinite(Math.fround(value))) {
    throw fail(`${what} is ${shown(text)}, outside the float32 range (magnitude up to 3.4028235e38)`);
  }
  return value;
}

/** How the target column is read. */
type TargetKind = { kind: 'values' } | { kind: 'classes'; mapping: ClassMapping | undefined };

function chooseTarget(
  options: CsvOptions,
  texts: readonly string[],
  source: string,
): TargetKind {
  const { like } = options;
  const classification = options.classification ?? 'auto';
  if (like !== undefined) {
    const likeClasses = like.classes !== undefined;
    if (typeof classification === 'boolean' && classification !== likeClasses) {
      throw new DataError(
        `${source}: classification is ${classification} but the data it must match ` +
          `${likeClasses ? 'has classes' : 'has numeric targets'}`,
      );
    }
    if (!likeClasses) return { kind: 'values' };
    const names = like.classNames ??
      Array.from({ length: like.classes ?? 0 }, (_, i) => String(i));
    return { kind: 'classes', mapping: fixedMapping(names) };
  }
  if (classification === true) return { kind: 'classes', mapping: undefined };
  if (classification === false) return { kind: 'values' };
  if (classification !== 'auto') {
    throw new DataError(`${source}: classification must be true, false or 'auto', got ${String(classification)}`);
  }
  const numbers = texts.map(parseDecimal);
  if (!numbers.every(Number.isFinite)) return { kind: 'classes', mapping: undefined };
  if (numbers.every(Number.isInteger) && new Set(numbers).size <= AUTO_MAX_CLASSES) {
    return { kind: 'classes', mapping: undefined };
  }
  return { kind: 'values' };
}

/**
 * Parses CSV text into a dataset: the header names the columns, the target column becomes `y`
 * (class indices with `classes` and `classNames`, or float32 values with yWidth 1) and every
 * other column is a float32 feature. Fields are trimmed of spaces and tabs; numbers are decimal
 * (`1`, `-2.5`, `.5`, `1e-3`). Trailing blank lines are ignored. Refuses, naming
 * source:line:column: an empty file, a header without data rows, a duplicate or missing column,
 * a blank line or a row with the wrong number of fields, a non-numeric, empty or non-finite
 * feature or target (also a value that overflows float32), and, with `like`, other feature
 * columns or a class it does not have.
 */
export function parseCsv(text: string, options: CsvOptions): Dataset {
  const { source } = options;
  if (options.header !== undefined && options.header !== true) {
    throw new DataError(`${source}: header must be true (a header row is required)`);
  }
  const targetOption = options.target ?? options.like?.targetName;
  if (targetOption === undefined) {
    throw new DataError(`${source}: no target column given (options.target)`);
  }
  let header: Header | undefined;
  let target = -1;
  let blankAt: Location | undefined;
  const features = new FloatBuilder();
  const targetTexts: string[] = [];
  const targetAt: Location[] = [];
  forEachCsvRecord(text, source, (record) => {
    if (record.blank) {
      blankAt ??= { line: record.lines[0], column: 1 };
      return;
    }
    if (blankAt !== undefined) {
      throw csvError(source, blankAt.line, blankAt.column,
        'blank line inside the data (only blank lines at the end are ignored)');
    }
    if (header === undefined) {
      header = readHeader(record, source);
      if (header.names.length < 2) {
        throw csvError(source, header.line, 1,
          'the header has 1 column: need a target and at least one feature');
      }
      target = targetIndex(header, targetOption, source);
      const { like } = options;
      if (like !== undefined) {
        checkFeaturesLike(header, target, like, source);
        if (like.targetName !== undefined && header.names[target] !== like.targetName) {
          throw csvError(source, header.line, header.columns[target],
            `target column ${JSON.stringify(header.names[target])}, but the data it must ` +
              `match has ${JSON.stringify(like.targetName)}`);
        }
      }
      return;
    }
    const { fields, lines, columns } = record;
    const width = header.names.length;
    if (fields.length !== width) {
      const at = Math.min(fields.length, width + 1) - 1;
      throw csvError(source, lines[at], columns[at],
        `${fields.length} ${fields.length === 1 ? 'field' : 'fields'}, but the header has ${width} ` +
          `(${listed(header.names)})`);
    }
    for (let c = 0; c < width; c++) {
      const value = trimField(fields[c]);
      if (c === target) {
        if (value === '' || NON_FINITE.test(value)) {
          readNumber(value, `target ${JSON.stringify(header.names[c])}`, source,
            { line: lines[c], column: columns[c] });
        }
        targetTexts.push(value);
        targetAt.push({ line: lines[c], column: columns[c] });
        continue;
      }
      // The common case first; anything unusual goes to readNumber, which says what is wrong.
      const number = parseDecimal(value);
      if (!Number.isFinite(Math.fround(number))) {
        readNumber(value, `feature ${JSON.stringify(header.names[c])}`, source,
          { line: lines[c], column: columns[c] });
      }
      features.push(number);
    }
  });
  if (header === undefined) throw csvError(source, 1, 1, 'empty file: expected a header row');
  const names = header.names;
  if (targetTexts.length === 0) {
    throw csvError(source, header.line + 1, 1, 'no data rows after the header');
  }
  const count = targetTexts.length;
  const targetName = names[target];
  const base = {
    count,
    x: features.result(),
    xWidth: names.length - 1,
    featureNames: names.filter((_, c) => c !== target),
    targetName,
  };
  const kind = chooseTarget(options, targetTexts, source);
  const what = `target ${JSON.stringify(targetName)}`;
  if (kind.kind === 'values') {
    const y = new Float32Array(count);
    targetTexts.forEach((value, r) => {
      y[r] = readNumber(value, what, source, targetAt[r]);
    });
    return { ...base, y, yWidth: 1 };
  }
  const mapping = kind.mapping ?? classMappingOf(targetTexts);
  const y = new Int32Array(count);
  targetTexts.forEach((value, r) => {
    const index = mapping.indexOf(value);
    if (index === undefined) {
      const { line, column } = targetAt[r];
      throw csvError(source, line, column,
        `${what} is ${shown(value)}, not one of the ${mapping.names.length} classes of the ` +
          `data it must match (${listed(mapping.names)})`);
    }
    y[r] = index;
  });
  return { ...base, y, yWidth: 1, classes: mapping.names.length, classNames: [...mapping.names] };
}
