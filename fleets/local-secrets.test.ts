import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { LocalSecrets } from './local-secrets.js';

describe('LocalSecrets', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hangar-secrets-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the encryption key once, readable by the user only, and keeps it', () => {
    const secrets = new LocalSecrets(dir);
    const key = secrets.ensureEncryptionKey();
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(new LocalSecrets(dir).ensureEncryptionKey()).toBe(key);
    expect(secrets.read('hangar', 'encryption-key')).toBe(key);
    expect(statSync(path.join(dir, 'hangar', 'encryption-key')).mode & 0o777).toBe(0o600);
  });

  it('takes a key given from outside as the encryption key, and says when it replaced another', () => {
    const secrets = new LocalSecrets(dir);
    const made = secrets.ensureEncryptionKey();
    const given = Buffer.alloc(32, 5);
    expect(secrets.setEncryptionKey(given)).toBe(true);
    expect(secrets.read('hangar', 'encryption-key')).toBe(given.toString('hex'));
    expect(secrets.read('hangar', 'encryption-key')).not.toBe(made);
    expect(statSync(path.join(dir, 'hangar', 'encryption-key')).mode & 0o777).toBe(0o600);
    // The same key again, or the first on a new stack, replaces nothing.
    expect(secrets.setEncryptionKey(Buffer.from(given))).toBe(false);
    const fresh = new LocalSecrets(path.join(dir, 'fresh'));
    expect(fresh.setEncryptionKey(given)).toBe(false);
    expect(fresh.ensureEncryptionKey()).toBe(given.toString('hex'));
  });

  it('has nothing for unknown keys and refuses names that would escape the folder', () => {
    const secrets = new LocalSecrets(dir);
    expect(secrets.read('hangar', 'nope')).toBeUndefined();
    expect(secrets.read('../etc', 'passwd')).toBeUndefined();
    expect(secrets.read('hangar', '..')).toBeUndefined();
    expect(() => secrets.ensure('Bad/Name', 'k', () => 'v')).toThrow('invalid secret reference Bad/Name/k');
  });
});
