import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Cancel, Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { bearerSecret, fromLoopback, secretDigest } from '../core/request-auth.js';
import { readApiKeysFile, sharedApiKeyProblems, type ApiKey } from '../core/secrets.js';

// Who may allocate. With mutual TLS, a client certificate the allocator's CA signed (its subject CN
// names the client); with API keys, `Authorization: Bearer <key>` (keys from the environment or a
// mounted secret, compared in constant time); with neither configured, loopback callers only, so a
// development stack is never open to the network by accident.

/** Who called; `keyDigest` is the digest of the API key it used, for checking later that the key is still valid. */
export type AuthOutcome = { client: string; keyDigest?: Buffer } | { status: 401 | 403; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; message: string };

/** A key and the client it names; a client may have several (old and new during a rotation). */
export interface ClientKey {
  client: string;
  key: string;
}

export interface ClientAuthOptions {
  apiKeys: readonly ClientKey[];
  /** The server asks for client certificates (the HTTPS server's requestCert). */
  mutualTls: boolean;
}

export class ClientAuth {
  private keys: Array<{ name: string; digest: Buffer }> = [];
  private readonly keyListeners: Array<() => void> = [];

  constructor(private readonly options: ClientAuthOptions) {
    this.setKeys(options.apiKeys);
  }

  /** Replaces the API keys (a reload of the keys file): requests from now on are checked against these, and `onKeysChanged` listeners told. */
  setKeys(keys: readonly ClientKey[]): void {
    this.keys = keys.map(({ client, key }) => ({ name: client, digest: secretDigest(key) }));
    for (const listener of this.keyListeners) listener();
  }

  /** Calls `listener` after every setKeys, so connections opened with a key that is gone can be closed. */
  onKeysChanged(listener: () => void): void {
    this.keyListeners.push(listener);
  }

  /** Whether the key with this digest is still one of the keys. */
  isKeyValid(digest: Buffer): boolean {
    let valid = false;
    for (const k of this.keys) if (timingSafeEqual(k.digest, digest)) valid = true;
    return valid;
  }

  authenticate(req: IncomingMessage): AuthOutcome {
    const socket = req.socket as Partial<TLSSocket>;
    if (this.options.mutualTls && socket.authorized) {
      const cn = socket.getPeerCertificate?.().subject?.CN;
      return { client: typeof cn === 'string' && cn ? cn : 'tls-client' };
    }
    if (this.keys.length) {
      const secret = bearerSecret(req);
      if (secret === undefined) return unauthenticated('send Authorization: Bearer <API key>');
      const offered = secretDigest(secret);
      // Every key is compared, so the time taken does not tell which one came close.
      let match: string | undefined;
      for (const k of this.keys) if (timingSafeEqual(k.digest, offered)) match ??= k.name;
      return match ? { client: match, keyDigest: offered } : unauthenticated('the API key is not valid');
    }
    if (this.options.mutualTls) return unauthenticated('present a client certificate signed by the allocator CA');
    if (fromLoopback(req)) return { client: 'local' };
    return { status: 403, code: 'FORBIDDEN', message: 'no API keys or client certificates are configured, so only loopback callers may allocate' };
  }
}

function unauthenticated(message: string): AuthOutcome {
  return { status: 401, code: 'UNAUTHENTICATED', message };
}

/** How often ALLOCATOR_API_KEYS_FILE is read again; the kubelet takes up to a minute or so to update a mounted Secret anyway. */
export const API_KEYS_RELOAD_MS = 10_000;

/**
 * Reads ALLOCATOR_API_KEYS_FILE again every API_KEYS_RELOAD_MS and gives `auth` its keys (with
 * ALLOCATOR_API_KEYS's, which do not change) when they changed: a key added to the mounted Secret
 * is valid, and a key removed refused, without a restart. A file that cannot be read or has a bad
 * entry changes nothing (the keys read before stay valid) and is logged once. Logs name clients,
 * never keys.
 */
export function reloadApiKeysFile(o: { file: string; auth: ClientAuth; keys: readonly ApiKey[]; clock: Clock; log: Logger }): Cancel {
  const fixed = o.keys.filter((k) => k.source === 'ALLOCATOR_API_KEYS');
  let current = keysFingerprint(o.keys);
  let reported = '';
  return o.clock.every(API_KEYS_RELOAD_MS, () => {
    const read = readApiKeysFile(o.file);
    const keys = [...fixed, ...read.keys];
    const problems = [...read.problems, ...sharedApiKeyProblems(keys)];
    if (problems.length) {
      if (problems.join('\n') !== reported) o.log.warn({ file: o.file, problems }, 'the allocator API keys file was not reloaded: the keys read before stay valid until it is fixed');
      reported = problems.join('\n');
      return;
    }
    reported = '';
    const next = keysFingerprint(keys);
    if (next === current) return;
    current = next;
    o.auth.setKeys(keys);
    const clients: Record<string, number> = {};
    for (const k of keys) clients[k.client] = (clients[k.client] ?? 0) + 1;
    o.log.info({ file: o.file, clients }, 'allocator API keys reloaded: requests and new streams are checked against these keys, and streams opened with a removed key are closed');
  });
}

/** The keys as a comparable string of clients and key digests (never the keys). */
function keysFingerprint(keys: readonly ApiKey[]): string {
  return keys
    .map((k) => `${k.client}:${secretDigest(k.key).toString('hex')}`)
    .sort()
    .join(',');
}
