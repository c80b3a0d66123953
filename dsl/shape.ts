/**
 * Type-level shapes. Tensors carry literal tuple shapes so that many mistakes fail in `tsc`;
 * the same rules run again at build time (ir/ops) for shapes that are only `number`.
 */
export type Shape = readonly number[];

/** The error a mismatched call shows in the editor. */
export interface ShapeMismatch<What extends string, A, B> {
  readonly 'shape error': What;
  readonly left: A;
  readonly right: B;
}

type BroadcastDim<A extends number, B extends number> = A extends 1
  ? B
  : B extends 1
    ? A
    : number extends A
      ? B
      : number extends B
        ? A
        : [A] extends [B]
          ? A
          : ShapeMismatch<'sizes differ', A, B>;

/** numpy broadcasting of two tuple shapes, aligned on the right. */
export type Broadcast<A extends Shape, B extends Shape> = A extends readonly []
  ? [...B]
  : B extends readonly []
    ? [...A]
    : A extends readonly [...infer AR extends Shape, infer AL extends number]
      ? B extends readonly [...infer BR extends Shape, infer BL extends number]
        ? [...Broadcast<AR, BR>, BroadcastDim<AL, BL>]
        : number[]
      : number[];

/** `unknown` when A and B broadcast, else an object type no tensor is assignable to. */
export type BroadcastCheck<A extends Shape, B extends Shape> =
  Broadcast<A, B> extends Shape ? unknown : ShapeMismatch<'operands do not broadcast', A, B>;

/** The shape without its last axis. */
export type Init<S extends Shape> = S extends readonly [...infer Rest extends Shape, number]
  ? [...Rest]
  : number[];

/** The last axis of a shape. */
export type Last<S extends Shape> = S extends readonly [...Shape, infer L extends number] ? L : number;
