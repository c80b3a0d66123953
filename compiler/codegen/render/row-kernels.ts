/**
 * Row kernels and reduction prologues (compiler/rows.ts makes them): each row's per-row values
 * folded serially over the row (`rowScalarLines`), a row kernel's lines for one row
 * (`rowKernelLines`), a reduction's prologue as a function of the element index
 * (`prologueFunction`) and the reduced element read through it (`reducedElement`).
 */
import type { MapKernel, ReduceKernel, RowScalars } from '../kernel-ir.ts';
import type { CStyleLanguage } from './language.ts';
import { inputName, OUTPUT_NAME, OUTPUT_INDEX } from './language.ts';
import { renderExpr, rowScalarName, viewLoad, exprCost } from './expr.ts';

export function indented(lines: readonly string[]): string[] {
  return lines.map((line) => `  ${line}`);
}

/**
 * The lines that compute row `row`'s per-row values, each a loop over the row's elements
 * `rx = row * width + rj`: max over rows of 10 in C → `float rs0 = (-INFINITY);` /
 * `for (int rj = 0; rj < 10; rj++) {` / `const int rx = r * 10 + rj;` /
 * `rs0 = gradc_maximum(rs0, in0[rx]);` / `}`. A `value` is computed once, at the row's first
 * element, in a block of its own: `float rs1 = 0.0f;` / `{` / `const int rx = r * 10;` /
 * `rs1 = logf(rs0);` / `}`.
 */
export function rowScalarLines(lang: CStyleLanguage, rows: RowScalars, row: string): string[] {
  return rows.scalars.flatMap((scalar, k) => {
    const name = rowScalarName(k);
    const { statements, value } = renderExpr(lang, scalar.expr, viewLoad(lang, 'rx'), 'rx');
    if (scalar.op === 'value') {
      // The row's first element, declared only where the expression reads it (an index leaf or a load).
      const reads = [...statements, value].some((line) => /\brx\b/.test(line));
      const firstElement = reads ? [lang.declareIndex('rx', `${row} * ${rows.width}`)] : [];
      return [
        lang.declareAccumulator(name, lang.floatLiteral(0)),
        '{',
        ...indented([...firstElement, ...statements, `${name} = ${value};`]),
        '}',
      ];
    }
    const combine = scalar.op === 'sum' ? lang.codeForOp.add : lang.codeForOp.maximum;
    return [
      lang.declareAccumulator(name, lang.floatLiteral(scalar.op === 'sum' ? 0 : -Infinity)),
      lang.countedLoop('rj', rows.width),
      ...indented([lang.declareIndex('rx', `${row} * ${rows.width} + rj`), ...statements, `${name} = ${combine([name, value])};`]),
      '}',
    ];
  });
}

/**
 * A row kernel's lines for row `row`: its per-row values, then its elements of that row,
 * `out[i] = ...` for i = row * perRow + q (just `row` with one element per row).
 */
export function rowKernelLines(lang: CStyleLanguage, kernel: MapKernel, rows: RowScalars, row: string): string[] {
  const { statements, value } = renderExpr(lang, kernel.expr, viewLoad(lang, OUTPUT_INDEX), OUTPUT_INDEX);
  const element = [...statements, `${OUTPUT_NAME}[${OUTPUT_INDEX}] = ${value};`];
  const scalars = rowScalarLines(lang, rows, row);
  if (rows.perRow === 1) return [...scalars, lang.declareIndex(OUTPUT_INDEX, row), ...element];
  return [
    ...scalars,
    lang.countedLoop('q', rows.perRow),
    ...indented([lang.declareIndex(OUTPUT_INDEX, `${row} * ${rows.perRow} + q`), ...element]),
    '}',
  ];
}

/** About how many operations a row kernel does: each row's values over the row, then its elements. */
export function rowKernelWork(kernel: MapKernel, rows: RowScalars): number {
  const perRowValues = rows.scalars.reduce((sum, s) => sum + (s.op === 'value' ? 1 : rows.width) * exprCost(s.expr), 0);
  return (kernel.size / rows.perRow) * perRowValues + kernel.size * exprCost(kernel.expr);
}

/** The function computing a reduction's elements from its prologue: `<kernel>_element`. */
export function prologueName(kernel: ReduceKernel): string {
  return `${kernel.name}_element`;
}

/** Element `index` of a reduction: `in0[index]`, or its prologue's function at `index`. */
export function reducedElement(lang: CStyleLanguage, kernel: ReduceKernel, index: string): string {
  return kernel.prologue ? lang.callElement(prologueName(kernel), kernel.inputs.length, index) : `${inputName(0)}[${index}]`;
}

/**
 * A reduction's prologue as a function of element index `e`: its row's values when it has
 * some (row `e / perRow`), then `return value;`. Empty for a reduction without one.
 */
export function prologueFunction(lang: CStyleLanguage, kernel: ReduceKernel): string[] {
  const { prologue } = kernel;
  if (!prologue) return [];
  const rows = prologue.rows;
  const row = rows ? [lang.declareIndex('r', rows.perRow === 1 ? 'e' : lang.indexDiv('e', rows.perRow)), ...rowScalarLines(lang, rows, 'r')] : [];
  const { statements, value } = renderExpr(lang, prologue.expr, viewLoad(lang, 'e'), 'e');
  return [
    lang.elementFunction(prologueName(kernel), kernel.inputs.length, 'e'),
    ...indented([...row, ...statements, `return ${value};`]),
    '}',
  ];
}
