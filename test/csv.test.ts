import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dataErrorOf as errorOf } from './data-error.ts';
import { AUTO_MAX_CLASSES, forEachCsvRecord, parseCsv } from '../runtime/data/csv.ts';
import type { CsvOptions } from '../runtime/data/csv.ts';

const parse = (text: string, options: Partial<CsvOptions> = {}) =>
  parseCsv(text, { source: 'd.csv', target: 'y', ...options });

/** The bits of a float32 array, so that -0 and 0 differ. */
const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length));

/** A CSV field: quoted (quotes doubled) when asked or when it must be. */
function field(text: string, quote: boolean): string {
  return quote || /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** A float32 as text that reads back to the same bits: shortest decimal or exponent form. */
function formatFloat(value: number, exponent: boolean): string {
  if (Object.is(value, -0)) return exponent ? '-0e0' : '-0';
  return exponent ? value.toExponential() : String(value);
}

const nameUnit = fc.constantFrom('a', 'b', 'Z', ',', '"', '\n', '\r', '\r\n', ' ', 'é', '😀', '\t');

/** A table: header names, float32 rows (the target is one of the columns), how to write it. */
const tableArb = fc
  .record({ features: fc.integer({ min: 1, max: 5 }), rows: fc.integer({ min: 1, max: 12 }) })
  .chain(({ features, rows }) =>
    fc.record({
      names: fc.tuple(...Array.from({ length: features + 1 }, (_, c) =>
        fc.string({ unit: nameUnit, maxLength: 6 }).map((s) => `c${c}${s}.`))),
      values: fc.array(
        fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }),
          { minLength: features + 1, maxLength: features + 1 }),
        { minLength: rows, maxLength: rows }),
      target: fc.integer({ min: 0, max: features }),
      quote: fc.array(fc.boolean(), { minLength: (rows + 1) * (features + 1), maxLength: (rows + 1) * (features + 1) }),
      exponent: fc.array(fc.boolean(), { minLength: rows * (features + 1), maxLength: rows * (features + 1) }),
      pad: fc.array(fc.constantFrom('', ' ', '\t', '  '), { minLength: rows * (features + 1), maxLength: rows * (features + 1) }),
      newline: fc.constantFrom('\n', '\r\n'),
      trailing: fc.constantFrom('', 'newline', 'blank'),
      bom: fc.boolean(),
    }));

describe('parseCsv round trips', () => {
  it('reads random numeric tables back bit for bit as float32, whatever the quoting', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        const width = t.names.length;
        const lines = [t.names.map((name, c) => field(name, t.quote[c])).join(',')];
        t.values.forEach((row, r) => {
          lines.push(row.map((v, c) => {
            const k = r * width + c;
            const text = t.pad[k] + formatFloat(v, t.exponent[k]) + t.pad[k];
            return field(text, t.quote[(r + 1) * width + c]);
          }).join(','));
        });
        const end = t.trailing === 'newline' ? t.newline : t.trailing === 'blank' ? t.newline + t.newline : '';
        const text = (t.bom ? '\ufeff' : '') + lines.join(t.newline) + end;
        const data = parseCsv(text, { source: 't.csv', target: t.names[t.target], classification: false });
        const features = (row: number[]) => row.filter((_, c) => c !== t.target);
        expect(data.count).toBe(t.values.length);
        expect(data.xWidth).toBe(width - 1);
        expect(data.yWidth).toBe(1);
        expect(data.classes).toBeUndefined();
        expect(data.targetName).toBe(t.names[t.target]);
        expect(data.featureNames).toEqual(features(t.names.map((_, c) => c)).map((c) => t.names[c]));
        expect(bits(data.x)).toEqual(bits(Float32Array.from(t.values.flatMap(features))));
        expect(bits(data.y as Float32Array)).toEqual(bits(Float32Array.from(t.values.map((row) => row[t.target]))));
        // The same table with the target chosen by index.
        const byIndex = parseCsv(text, { source: 't.csv', target: t.target, classification: false });
        expect(bits(byIndex.x)).toEqual(bits(data.x));
      }),
      { numRuns: 300 },
    );
  });

  it('maps class names to indices in code-unit order and keeps the names', () => {
    const labelArb = fc.string({ unit: nameUnit, maxLength: 5 }).map((s) => `k${s}`);
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.float({ noNaN: true, noDefaultInfinity: true }), labelArb), { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        (rows, quoteAll) => {
          const text = ['x,y', ...rows.map(([v, label]) => `${formatFloat(v, false)},${field(label, quoteAll)}`)].join('\n');
          const data = parse(text);
          // Labels are trimmed of spaces and tabs, like every field.
          const labels = rows.map(([, label]) => label.replace(/^[ \t]+|[ \t]+$/g, ''));
          const expected = [...new Set(labels)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
          expect(data.classNames).toEqual(expected);
          expect(data.classes).toBe(expected.length);
          expect(data.y).toBeInstanceOf(Int32Array);
          expect(Array.from(data.y, (index) => data.classNames![index])).toEqual(labels);
        },
      ),
    );
  });
});

describe('class mapping', () => {
  it('does not depend on row order, and a validation file gets the same indices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('setosa', 'versicolor', 'virginica', 'Iris', 'ä'), { minLength: 1, maxLength: 20 }),
        fc.integer(),
        (labels, seed) => {
          const csv = (rows: string[]) => ['a,species', ...rows.map((label, i) => `${i},${label}`)].join('\n');
          const shuffled = fc.sample(fc.shuffledSubarray(labels, { minLength: labels.length }), { seed, numRuns: 1 })[0];
          const train = parseCsv(csv(labels), { source: 'train.csv', target: 'species' });
          const again = parseCsv(csv(shuffled), { source: 'again.csv', target: 'species' });
          expect(again.classNames).toEqual(train.classNames);
          const validation = parseCsv(csv(shuffled.slice(0, 3)), { source: 'valid.csv', like: train });
          expect(validation.classNames).toEqual(train.classNames);
          expect(Array.from(validation.y, (i) => validation.classNames![i])).toEqual(shuffled.slice(0, 3));
        },
      ),
    );
  });

  it('keeps a training class order in a validation file that lacks some classes', () => {
    const train = parse('a,y\n1,cat\n2,dog\n3,emu\n');
    const validation = parse('a,y\n4,emu\n', { like: train });
    expect(validation.classes).toBe(3);
    expect(Array.from(validation.y)).toEqual([2]);
  });

  it('orders integer classes numerically and reads 1, 1.0 and 01 as one class', () => {
    const data = parse('a,y\n0,10\n0,2\n0,1.0\n0,01\n0,1\n0,-3\n');
    expect(data.classNames).toEqual(['-3', '1', '2', '10']);
    expect(Array.from(data.y)).toEqual([3, 2, 1, 1, 1, 0]);
    const validation = parse('a,y\n0,1e1\n0,+2\n', { like: data });
    expect(Array.from(validation.y)).toEqual([3, 2]);
  });

  it('reads mixed numbers and names as names, in code-unit order', () => {
    const data = parse('a,y\n0,10\n0,2\n0,b\n0,B\n');
    expect(data.classNames).toEqual(['10', '2', 'B', 'b']);
  });

  it(`'auto' picks classes for names or at most ${AUTO_MAX_CLASSES} distinct integers, else numbers`, () => {
    const csv = (values: (string | number)[]) => ['a,y', ...values.map((v) => `0,${v}`)].join('\n');
    const few = Array.from({ length: AUTO_MAX_CLASSES }, (_, i) => i * 7);
    expect(parse(csv(few)).classes).toBe(AUTO_MAX_CLASSES);
    expect(parse(csv([...few, 1000])).classes).toBeUndefined();
    expect(parse(csv([0, 1, 0.5])).classes).toBeUndefined();
    expect(parse(csv([0, 1, 'x'])).classes).toBe(3);
    expect(parse(csv([0, 1, 0.5]), { classification: true }).classNames).toEqual(['0', '0.5', '1']);
    const regression = parse(csv([0, 1, 1]), { classification: false });
    expect(regression.classes).toBeUndefined();
    expect(Array.from(regression.y)).toEqual([0, 1, 1]);
  });

  it('gives an array-built training set\'s integer classes to a validation file', () => {
    const train = { count: 1, x: new Float32Array(1), xWidth: 1, y: new Int32Array(1), yWidth: 1, classes: 3 };
    expect(Array.from(parse('a,y\n0,2\n0,0\n', { like: train }).y)).toEqual([2, 0]);
    expect(errorOf(() => parse('a,y\n0,3\n', { like: train })))
      .toBe('d.csv:2:3: target "y" is "3", not one of the 3 classes of the data it must match ("0", "1", "2")');
  });
});

describe('parseCsv reads', () => {
  it('quoted fields with commas, doubled quotes and line breaks, CRLF and a BOM', () => {
    const text = '\ufeff"a,1","say ""hi""\r\nthere",y\r\n"1.5",2,"x,z"\r\n3,"4",w\r\n';
    const data = parse(text);
    expect(data.featureNames).toEqual(['a,1', 'say "hi"\r\nthere']);
    expect(Array.from(data.x)).toEqual([1.5, 2, 3, 4]);
    expect(data.classNames).toEqual(['w', 'x,z']);
    expect(Array.from(data.y)).toEqual([1, 0]);
  });

  it('a negative target index from the end, and old Mac line endings', () => {
    const data = parseCsv('a,b,c\r1,2,3\r4,5,6\r', { source: 'd.csv', target: -2, classification: false });
    expect(data.targetName).toBe('b');
    expect(Array.from(data.y)).toEqual([2, 5]);
    expect(Array.from(data.x)).toEqual([1, 3, 4, 6]);
  });

  it('records field by field with their lines and columns', () => {
    const seen: [string[], number[], number[], boolean][] = [];
    forEachCsvRecord('a,"b\nc",d\n\n"",e', 's', (r) => seen.push([[...r.fields], [...r.lines], [...r.columns], r.blank]));
    expect(seen).toEqual([
      [['a', 'b\nc', 'd'], [1, 1, 2], [1, 3, 4], false],
      [[''], [3], [1], true],
      [['', 'e'], [4, 4], [1, 4], false],
    ]);
  });
});

describe('parseCsv refuses, naming file:line:column', () => {
  const refusals: [string, string, Partial<CsvOptions>?][] = [
    ['', 'd.csv:1:1: empty file: expected a header row'],
    ['\ufeff', 'd.csv:1:1: empty file: expected a header row'],
    ['\n\r\n', 'd.csv:1:1: empty file: expected a header row'],
    ['a,y\n', 'd.csv:2:1: no data rows after the header'],
    ['a,y\n1,2,3\n', 'd.csv:2:5: 3 fields, but the header has 2 ("a", "y")'],
    ['a,b,y\n1,2,3\n4,5\n', 'd.csv:3:3: 2 fields, but the header has 3 ("a", "b", "y")'],
    ['a,y\n1,2\n\n3,4\n', 'd.csv:3:1: blank line inside the data (only blank lines at the end are ignored)'],
    ['a,y\n1,2\n 12x,4\n', 'd.csv:3:1: feature "a" is "12x", not a number'],
    ['a,y\n0x10,4\n', 'd.csv:2:1: feature "a" is "0x10", not a number'],
    ['a,b,y\n1,,4\n', 'd.csv:2:3: feature "b" is empty (missing values are not supported)'],
    ['a,b,y\n1,"",4\n', 'd.csv:2:3: feature "b" is empty (missing values are not supported)'],
    ['a,y\n1,2\n2,NaN\n', 'd.csv:3:3: target "y" is "NaN": non-finite values are refused'],
    ['a,y\n-inf,2\n', 'd.csv:2:1: feature "a" is "-inf": non-finite values are refused'],
    ['a,y\nInfinity,2\n', 'd.csv:2:1: feature "a" is "Infinity": non-finite values are refused'],
    ['a,y\n1e39,2\n', 'd.csv:2:1: feature "a" is "1e39", outside the float32 range (magnitude up to 3.4028235e38)'],
    ['a,y\n1,-1e39\n2,0.5\n', 'd.csv:2:3: target "y" is "-1e39", outside the float32 range (magnitude up to 3.4028235e38)'],
    ['a,y\n1,\n', 'd.csv:2:3: target "y" is empty (missing values are not supported)'],
    ['a,y\n1,cat\n', 'd.csv:2:3: target "y" is "cat", not a number', { classification: false }],
    ['a,b\n1,2\n', 'd.csv:1:1: no target column "y" in the header (columns: "a", "b")'],
    ['a,b\n1,2\n', 'd.csv:1:1: target column index 2 is out of range: the header has 2 columns', { target: 2 }],
    ['a,b\n1,2\n', 'd.csv:1:1: target column index -3 is out of range: the header has 2 columns', { target: -3 }],
    ['y\n1\n', 'd.csv:1:1: the header has 1 column: need a target and at least one feature'],
    ['a, y,a\n1,2,3\n', 'd.csv:1:6: duplicate column name "a" in the header (columns 1 and 3)'],
    ['a,y\n1,"2\n', 'd.csv:2:3: quoted field is never closed (a quote inside a quoted field must be doubled)'],
    ['a,y\n"1"2,3\n', 'd.csv:2:4: unexpected "2" after the closing quote of a field (a quote inside a quoted field must be doubled)'],
    ['a,y\n1,2"\n', 'd.csv:2:4: quote inside an unquoted field (quote the whole field and double the quote)'],
    // Lines count the line breaks inside quoted fields; columns restart after them.
    ['"a\nb",y\r\n"x\r\n",2\n', 'd.csv:3:1: feature "a\\nb" is "x\\r\\n", not a number'],
    ['"a\nb",y\r\n1,"7"\r\n2,?\n', 'd.csv:4:3: target "y" is "?", not a number', { classification: false }],
    ['a,y,b\n1,"p\nq",zz\n', 'd.csv:3:4: feature "b" is "zz", not a number'],
  ];
  for (const [text, message, options] of refusals) {
    it(JSON.stringify(text), () => {
      expect(errorOf(() => parse(text, options))).toBe(message);
    });
  }

  it('a missing target option and a headerless layout', () => {
    expect(errorOf(() => parseCsv('a,b\n1,2\n', { source: 'd.csv' }))).toBe('d.csv: no target column given (options.target)');
    expect(errorOf(() => parse('a,y\n1,2\n', { header: false as unknown as true })))
      .toBe('d.csv: header must be true (a header row is required)');
  });

  it('a validation file whose features or target differ from the training file', () => {
    const train = parse('a,b,y\n1,2,cat\n');
    const like = { like: train, source: 'v.csv' };
    expect(errorOf(() => parse('a,b,y\n1,2,dog\n', like)))
      .toBe('v.csv:2:5: target "y" is "dog", not one of the 1 classes of the data it must match ("cat")');
    expect(errorOf(() => parse('b,a,y\n1,2,cat\n', like)))
      .toBe('v.csv:1:1: feature column 1 is "b" where the data it must match has "a" (expected features: "a", "b")');
    expect(errorOf(() => parse('a,y\n1,cat\n', like)))
      .toBe('v.csv:1:1: 1 feature columns, but the data it must match has 2 ("a", "b")');
    expect(errorOf(() => parse('a,b,z\n1,2,cat\n', { ...like, target: 'z' })))
      .toBe('v.csv:1:5: target column "z", but the data it must match has "y"');
    expect(errorOf(() => parse('a,b,y\n1,2,cat\n', { ...like, classification: false })))
      .toBe('v.csv: classification is false but the data it must match has classes');
    const regression = parse('a,b,y\n1,2,0.5\n');
    expect(parse('a,b,y\n1,2,7\n', { like: regression }).y).toBeInstanceOf(Float32Array);
    expect(errorOf(() => parse('a,b,y\n1,2,cat\n', { like: regression, source: 'v.csv' })))
      .toBe('v.csv:2:5: target "y" is "cat", not a number');
  });
});
