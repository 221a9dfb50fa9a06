import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

// Secrets and keys, only ever from the environment (or a file a mounted secret provides), never
// from YAML. Apart from core/config.ts so that a game server, which needs them, loads none of the
// YAML config's machinery (zod and yaml cost it ~8 MiB of RSS).

export interface Secrets {
  /** Bearer token that POST /admin/drain requires when set. */
  adminToken?: string;
  /** Allocator API keys by client name, from ALLOCATOR_API_KEYS ("name=key,...") and/or ALLOCATOR_API_KEYS_FILE (one "name=key" a line). */
  allocatorApiKeys: Map<string, string>;
  /** Mutual TLS for the allocator: its certificate and key, and the CA its clients' certificates must chain to (PEM file paths). */
  allocatorTls?: { certFile: string; keyFile: string; caFile: string };
  /** The API key a standalone matchmaker presents to the allocator (ALLOCATOR_API_KEY). */
  allocatorApiKey?: string;
  /** The connect-token key shared with the game servers (ENCRYPTION_KEY), when it is set. */
  encryptionKey?: Buffer;
}

export function loadSecrets(env: NodeJS.ProcessEnv): Secrets {
  const problems: string[] = [];
  const allocatorApiKeys = new Map<string, string>();
  const addKeys = (text: string, source: string) => {
    for (const [i, entry] of text.split(source === 'ALLOCATOR_API_KEYS' ? ',' : '\n').entries()) {
      const line = entry.trim();
      if (!line || line.startsWith('#')) continue;
      const eq = line.indexOf('=');
      const name = line.slice(0, eq).trim();
      const key = line.slice(eq + 1).trim();
      if (eq < 1 || !/^[A-Za-z0-9._-]+$/.test(name) || key.length < 16) {
        problems.push(`${source} entry ${i + 1}: expected name=key with a key of at least 16 characters`);
      } else {
        allocatorApiKeys.set(name, key);
      }
    }
  };
  if (env.ALLOCATOR_API_KEYS) addKeys(env.ALLOCATOR_API_KEYS, 'ALLOCATOR_API_KEYS');
  if (env.ALLOCATOR_API_KEYS_FILE) {
    try {
      addKeys(readFileSync(env.ALLOCATOR_API_KEYS_FILE, 'utf8'), 'ALLOCATOR_API_KEYS_FILE');
    } catch (err) {
      problems.push(`ALLOCATOR_API_KEYS_FILE: cannot read ${env.ALLOCATOR_API_KEYS_FILE}: ${(err as Error).message}`);
    }
  }
  const tlsVars = ['ALLOCATOR_TLS_CERT_FILE', 'ALLOCATOR_TLS_KEY_FILE', 'ALLOCATOR_TLS_CA_FILE'] as const;
  const tlsSet = tlsVars.filter((v) => env[v]);
  if (tlsSet.length && tlsSet.length < tlsVars.length) problems.push(`mutual TLS needs all of ${tlsVars.join(', ')}; missing ${tlsVars.filter((v) => !env[v]).join(', ')}`);
  let encryptionKey: Buffer | undefined;
  if (env.ENCRYPTION_KEY?.trim()) {
    try {
      encryptionKey = requireKey(env.ENCRYPTION_KEY, 'ENCRYPTION_KEY');
    } catch (err) {
      problems.push(...(err as ConfigError).problems);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return {
    adminToken: env.ADMIN_TOKEN || undefined,
    allocatorApiKey: env.ALLOCATOR_API_KEY || undefined,
    allocatorApiKeys,
    allocatorTls: tlsSet.length ? { certFile: env.ALLOCATOR_TLS_CERT_FILE!, keyFile: env.ALLOCATOR_TLS_KEY_FILE!, caFile: env.ALLOCATOR_TLS_CA_FILE! } : undefined,
    encryptionKey,
  };
}

/** A 32-byte key from 64 hex digits or base64; undefined when it is neither. */
export function parseKey(text: string): Buffer | undefined {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(t)) {
    const b = Buffer.from(t, 'base64');
    if (b.length === 32) return b;
  }
  return undefined;
}

/** The key in `value` (an environment variable's), or a ConfigError naming `variable` and what is wrong. */
export function requireKey(value: string | undefined, variable: string): Buffer {
  const v = value?.trim() ?? '';
  if (v === '') throw new ConfigError([`${variable} is not set: give the 32-byte key shared with the game servers, as 64 hex characters or base64`]);
  const key = parseKey(v);
  if (!key) throw new ConfigError([`${variable} must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has ${v.length} characters`]);
  return key;
}
