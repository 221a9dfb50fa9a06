import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

// What Hangar's HTTP servers check of a caller when no identity provider is involved: whether it
// is on this machine, and the bearer secret it sent, whose digest callers compare with
// timingSafeEqual, so the time an answer takes does not tell how much of a guess was right.

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export function fromLoopback(req: IncomingMessage): boolean {
  return LOOPBACK.has(req.socket.remoteAddress ?? '');
}

/** A secret's SHA-256: digests have the one length timingSafeEqual needs, whatever was sent. One call, no Hash object: this runs for every REST request. */
export function secretDigest(secret: string): Buffer {
  return hash('sha256', secret, 'buffer');
}

/** The secret of an `Authorization: Bearer <secret>` header, or undefined when there is no such header. */
export function bearerSecret(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/**
 * Whether a caller may do an operator's action (a drain, a change to fleets): with an admin token,
 * whoever sends it (compared in constant time); without one, callers on this machine only.
 */
export function mayAdminister(req: IncomingMessage, adminTokenDigest: Buffer | undefined): boolean {
  if (!adminTokenDigest) return fromLoopback(req);
  const offered = bearerSecret(req);
  return offered !== undefined && timingSafeEqual(adminTokenDigest, secretDigest(offered));
}
