// The DriftlessError a call fails with, so a test can assert its reason,
// message and location; anything else (or no failure) fails the test.

import { DriftlessError } from '../../lib/errors.js';

export async function rejection(p: Promise<unknown>): Promise<DriftlessError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DriftlessError) return e;
    throw e;
  }
  throw new Error('expected a DriftlessError');
}

export function thrown(fn: () => unknown): DriftlessError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DriftlessError) return e;
    throw e;
  }
  throw new Error('expected a DriftlessError');
}
