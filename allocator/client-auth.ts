import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { bearerSecret, fromLoopback, secretDigest } from '../core/request-auth.js';

// Who may allocate. With mutual TLS, a client certificate the allocator's CA signed (its subject CN
// names the client); with API keys, `Authorization: Bearer <key>` (keys from the environment or a
// mounted secret, compared in constant time); with neither configured, loopback callers only, so a
// development stack is never open to the network by accident.

export type AuthOutcome = { client: string } | { status: 401 | 403; code: 'UNAUTHENTICATED' | 'FORBIDDEN'; message: string };

export interface ClientAuthOptions {
  apiKeys: ReadonlyMap<string, string>;
  /** The server asks for client certificates (the HTTPS server's requestCert). */
  mutualTls: boolean;
}

export class ClientAuth {
  private readonly keys: Array<{ name: string; digest: Buffer }>;

  constructor(private readonly options: ClientAuthOptions) {
    this.keys = [...options.apiKeys].map(([name, key]) => ({ name, digest: secretDigest(key) }));
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
      return match ? { client: match } : unauthenticated('the API key is not valid');
    }
    if (this.options.mutualTls) return unauthenticated('present a client certificate signed by the allocator CA');
    if (fromLoopback(req)) return { client: 'local' };
    return { status: 403, code: 'FORBIDDEN', message: 'no API keys or client certificates are configured, so only loopback callers may allocate' };
  }
}

function unauthenticated(message: string): AuthOutcome {
  return { status: 401, code: 'UNAUTHENTICATED', message };
}
