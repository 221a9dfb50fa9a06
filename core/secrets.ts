import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

// Secrets and keys, only ever from the environment (or a file a mounted secret provides), never
// from YAML. Apart from core/config.ts so that a game server, which needs them, loads none of the
// YAML config's machinery (zod and yaml cost it ~8 MiB of RSS).

/** One allocator API key: the client it names, and where it was read. A client may have several (a rotation: old and new both valid). */
export interface ApiKey {
  client: string;
  key: string;
  source: 'ALLOCATOR_API_KEYS' | 'ALLOCATOR_API_KEYS_FILE';
}

export interface Secrets {
  /** Bearer token that POST /admin/drain requires when set. */
  adminToken?: string;
  /** Allocator API keys, from ALLOCATOR_API_KEYS ("name=key,...") and/or ALLOCATOR_API_KEYS_FILE (one "name=key" a line). */
  allocatorApiKeys: ApiKey[];
  /** ALLOCATOR_API_KEYS_FILE, which the allocator reads again while it runs (a mounted Secret changes in place). */
  allocatorApiKeysFile?: string;
  /** Mutual TLS for the allocator: its certificate and key, and the CA its clients' certificates must chain to (PEM file paths). */
  allocatorTls?: { certFile: string; keyFile: string; caFile: string };
  /** The API key a standalone matchmaker presents to the allocator (ALLOCATOR_API_KEY). */
  allocatorApiKey?: string;
  /** The connect-token key shared with the game servers (ENCRYPTION_KEY), when it is set. */
  encryptionKey?: Buffer;
}

/** The keys in `text` (ALLOCATOR_API_KEYS's "name=key,..." or the file's "name=key" lines), and each entry that is not one; problems never quote a key. */
export function parseApiKeys(text: string, source: ApiKey['source']): { keys: ApiKey[]; problems: string[] } {
  const keys: ApiKey[] = [];
  const problems: string[] = [];
  for (const [i, entry] of text.split(source === 'ALLOCATOR_API_KEYS' ? ',' : '\n').entries()) {
    const line = entry.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const client = line.slice(0, eq).trim();
    const key = line.slice(eq + 1).trim();
    if (eq < 1 || !/^[A-Za-z0-9._-]+$/.test(client) || key.length < 16) {
      problems.push(`${source} entry ${i + 1}: expected name=key with a key of at least 16 characters`);
    } else {
      keys.push({ client, key, source });
    }
  }
  return { keys, problems };
}

/** Each key given to two clients: the allocator could not tell which one calls. */
export function sharedApiKeyProblems(keys: readonly ApiKey[]): string[] {
  const owner = new Map<string, ApiKey>();
  const problems: string[] = [];
  for (const k of keys) {
    const first = owner.get(k.key);
    if (first && first.client !== k.client) problems.push(`${k.source}: client ${k.client} has the same key as client ${first.client} (${first.source}); give each client its own`);
    owner.set(k.key, first ?? k);
  }
  return problems;
}

/** ALLOCATOR_API_KEYS_FILE's keys, or why they cannot be read. */
export function readApiKeysFile(file: string): { keys: ApiKey[]; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { keys: [], problems: [`ALLOCATOR_API_KEYS_FILE: cannot read ${file}: ${(err as Error).message}`] };
  }
  return parseApiKeys(text, 'ALLOCATOR_API_KEYS_FILE');
}

export function loadSecrets(env: NodeJS.ProcessEnv): Secrets {
  const problems: string[] = [];
  const allocatorApiKeys: ApiKey[] = [];
  for (const read of [env.ALLOCATOR_API_KEYS ? parseApiKeys(env.ALLOCATOR_API_KEYS, 'ALLOCATOR_API_KEYS') : undefined, env.ALLOCATOR_API_KEYS_FILE ? readApiKeysFile(env.ALLOCATOR_API_KEYS_FILE) : undefined]) {
    allocatorApiKeys.push(...(read?.keys ?? []));
    problems.push(...(read?.problems ?? []));
  }
  problems.push(...sharedApiKeyProblems(allocatorApiKeys));
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
    allocatorApiKeysFile: env.ALLOCATOR_API_KEYS_FILE || undefined,
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
