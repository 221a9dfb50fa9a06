import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

// The local stand-in for Kubernetes Secrets: <state_dir>/secrets/<name>/<key>, one file per key,
// readable by the user only, as a mounted Secret volume lays them out. Fleet YAML refers to them
// with `valueFrom.secretKeyRef` exactly as on a cluster. The stack creates the ones Hangar itself
// needs on first start (random, never in the repository), so `npm start` works with no setup.

/** The Secret Hangar's parts share, and its keys. */
export const HANGAR_SECRET = 'hangar';
export const ENCRYPTION_KEY_SECRET = 'encryption-key';

export class LocalSecrets {
  constructor(readonly dir: string) {}

  read(name: string, key: string): string | undefined {
    const file = this.file(name, key);
    if (!file || !existsSync(file)) return undefined;
    return readFileSync(file, 'utf8').trim();
  }

  /** Creates the key with `make()` unless it exists; returns its value. */
  ensure(name: string, key: string, make: () => string): string {
    const existing = this.read(name, key);
    if (existing !== undefined) return existing;
    const file = this.file(name, key);
    if (!file) throw new Error(`invalid secret reference ${name}/${key}`);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const value = make();
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
    return value;
  }

  /** The shared key that signs connect tokens: 32 random bytes, hex. */
  ensureEncryptionKey(): string {
    return this.ensure(HANGAR_SECRET, ENCRYPTION_KEY_SECRET, () => randomBytes(32).toString('hex'));
  }

  /** Secret names and keys are DNS-like in Kubernetes; anything else (a path) is refused. */
  private file(name: string, key: string): string | undefined {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || !/^[-._a-zA-Z0-9]+$/.test(key) || key === '.' || key === '..') return undefined;
    return path.join(this.dir, name, key);
  }
}
