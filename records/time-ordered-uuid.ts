import { randomUUID } from 'node:crypto';

// UUIDv7 (RFC 9562): the first 48 bits are Unix time in milliseconds, the other 74 (beside the
// version and variant) random, so ids from any number of processes stay unique. Ids made close in
// time sort close together: a B-tree on them grows at its right edge, as one on the time does,
// where a random (v4) id lands on a random page of the index every row (and that page's first
// change after each checkpoint writes the whole page to the WAL).

const MAX_MS = 2 ** 48 - 1;

// Thousands of ids share a millisecond at full rate: its hex is formatted once.
let lastMs = -1;
let lastPrefix = '';

/** A version-7 UUID for the time `ms` (epoch milliseconds, clamped to what 48 bits hold). */
export function timeOrderedUuid(ms: number): string {
  const t = Math.min(MAX_MS, Math.max(0, Math.trunc(ms)));
  if (t !== lastMs) {
    const hex = t.toString(16).padStart(12, '0');
    lastMs = t;
    lastPrefix = `${hex.slice(0, 8)}-${hex.slice(8)}-7`;
  }
  // randomUUID() is "xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx" (V the variant): its random tail after the version digit.
  return lastPrefix + randomUUID().slice(15);
}
