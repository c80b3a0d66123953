/**
 * What a tensor's shape may be. Every dimension is a positive safe integer, and a tensor holds
 * at most MAX_ELEMENTS elements, because the kernels index elements with 32-bit integers: the
 * C renderer declares indices `int` and the TypeScript one divides indices with `| 0` (both
 * signed 32-bit: the tightest), WGSL and CUDA use 32-bit unsigned ones. Index expressions
 * never exceed the element count of the buffer they index, so a bound on every node's element
 * count bounds every index. The builder checks every node it makes (`GraphBuilder.make`), so
 * the inputs, parameters, states and fills a model declares and the results of broadcasts,
 * matrix products and reshapes are all refused at the user's line; the DSL checks the shapes
 * it receives first, for messages that name the tensor.
 */
import type { Shape } from './types.ts';

/** 2^31 - 1: the most elements a tensor (any node, buffer, input, parameter or state) holds. */
export const MAX_ELEMENTS = 2 ** 31 - 1;

/** 1234567 → "1,234,567" (locale-independent, for messages). */
export function groupDigits(n: number): string {
  return Number.isSafeInteger(n) ? String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : String(n);
}

/** A value as it reads in a one-line message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `${/^[aeiou]/.test(typeof value) ? 'an' : 'a'} ${typeof value}`;
}

/** A value as a message quotes an option: a number as written (`2.5`), anything else described. */
export function describeOption(value: unknown): string {
  return typeof value === 'number' ? String(value) : describeValue(value);
}

function formatDims(dims: readonly unknown[]): string {
  return `[${dims.map((d) => (typeof d === 'number' ? String(d) : JSON.stringify(d) ?? String(d))).join(',')}]`;
}

/**
 * Why `shape` cannot be a tensor's shape (one line, without the tensor's name), or undefined
 * when it can: e.g. "size 2.5 at axis 1 of [4,2.5] is not a positive integer".
 */
export function shapeProblem(shape: unknown): string | undefined {
  if (!Array.isArray(shape)) return `a shape is an array of sizes, got ${describeValue(shape)}`;
  for (let axis = 0; axis < shape.length; axis++) {
    const d: unknown = shape[axis];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d <= 0) {
      return `size ${describeOption(d)} at axis ${axis} of ${formatDims(shape)} is not a positive integer`;
    }
  }
  let elements = 1;
  for (const d of shape as number[]) elements *= d;
  if (elements > MAX_ELEMENTS) {
    return (
      `${formatDims(shape)} holds ${groupDigits(elements)} elements, more than ${groupDigits(MAX_ELEMENTS)}, ` +
      'the most a tensor can hold (the kernels index with 32-bit integers)'
    );
  }
  return undefined;
}

/** `shape` itself when it is a valid shape; throws `fail(problem)` otherwise. */
export function checkShape(shape: unknown, fail: (problem: string) => Error): Shape {
  const problem = shapeProblem(shape);
  if (problem !== undefined) throw fail(problem);
  return shape as Shape;
}
