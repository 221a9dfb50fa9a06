import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseKey } from '../core/secrets.js';

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
    const value = make();
    this.write(name, key, value);
    return value;
  }

  /** The shared key that signs connect tokens: 32 random bytes, hex. */
  ensureEncryptionKey(): string {
    return this.ensure(HANGAR_SECRET, ENCRYPTION_KEY_SECRET, () => randomBytes(32).toString('hex'));
  }

  /**
   * Makes `key` the shared key (ENCRYPTION_KEY given to `hangar up`), written where the fleets'
   * secretKeyRef, `hangar token` and `hangar bots` read it; true when it replaced another key.
   */
  setEncryptionKey(key: Buffer): boolean {
    const existing = this.read(HANGAR_SECRET, ENCRYPTION_KEY_SECRET);
    if (existing !== undefined && parseKey(existing)?.equals(key)) return false;
    this.write(HANGAR_SECRET, ENCRYPTION_KEY_SECRET, key.toString('hex'));
    return existing !== undefined;
  }

  private write(name: string, key: string, value: string): void {
    const file = this.file(name, key);
    if (!file) throw new Error(`invalid secret reference ${name}/${key}`);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }

  /** Secret names and keys are DNS-like in Kubernetes; anything else (a path) is refused. */
  private file(name: string, key: string): string | undefined {
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name) || !/^[-._a-zA-Z0-9]+$/.test(key) || key === '.' || key === '..') return undefined;
    return path.join(this.dir, name, key);
  }
}
