import { ConfigError } from '../../core/errors.js';

/** The problems of the ConfigError `fn` throws; fails the test if it throws anything else, or nothing. */
export function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
