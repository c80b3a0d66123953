import type { SourceLoc } from './types.ts';
import { formatLoc } from './types.ts';

/**
 * A mistake in the user's model or command line. The CLI prints `message` without a stack
 * trace; everything else that escapes is a compiler bug and keeps its stack.
 */
export class GradcError extends Error {
  constructor(
    message: string,
    readonly loc?: SourceLoc,
  ) {
    super(loc ? `${formatLoc(loc)}: ${message}` : message);
    this.name = 'GradcError';
  }
}

/** Thrown by shape rules; the builder turns it into a GradcError at the user's line. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}
