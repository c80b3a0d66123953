/** The message of the DataError that `action` throws (fails the test if it throws none). */
import { expect } from 'vitest';
import { DataError } from '../runtime/data/idx-parse.ts';

export function dataErrorOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(DataError);
    return (error as Error).message;
  }
  throw new Error('expected a DataError, but nothing was thrown');
}
