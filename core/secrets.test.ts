import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadSecrets, parseKey } from './secrets.js';
import { problemsOf } from '../test/helpers/config-problems.js';

describe('secrets', () => {
  it('takes secrets from the environment only', () => {
    expect(loadSecrets({ ADMIN_TOKEN: 's3cret' })).toEqual({ adminToken: 's3cret', allocatorApiKeys: [], allocatorTls: undefined });
    expect(loadSecrets({ ADMIN_TOKEN: '' }).adminToken).toBeUndefined();
  });

  it('reads allocator API keys from the environment and a mounted file, and mutual TLS file paths', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-keys-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, '# allocator clients\nmatchmaker=mm-0123456789abcdef\n\nops=ops-0123456789abcdef\n');
    const s = loadSecrets({ ALLOCATOR_API_KEYS: 'bots=bots-0123456789abcdef', ALLOCATOR_API_KEYS_FILE: file, ALLOCATOR_TLS_CERT_FILE: 'c', ALLOCATOR_TLS_KEY_FILE: 'k', ALLOCATOR_TLS_CA_FILE: 'ca' });
    expect(s.allocatorApiKeys).toEqual([
      { client: 'bots', key: 'bots-0123456789abcdef', source: 'ALLOCATOR_API_KEYS' },
      { client: 'matchmaker', key: 'mm-0123456789abcdef', source: 'ALLOCATOR_API_KEYS_FILE' },
      { client: 'ops', key: 'ops-0123456789abcdef', source: 'ALLOCATOR_API_KEYS_FILE' },
    ]);
    expect(s.allocatorApiKeysFile).toBe(file);
    expect(s.allocatorTls).toEqual({ certFile: 'c', keyFile: 'k', caFile: 'ca' });
  });

  it('keeps every key of a client (a rotation: old and new valid at once), and refuses one key given to two clients', () => {
    const rotating = loadSecrets({ ALLOCATOR_API_KEYS: 'matchmaker=old-0123456789abcdef,matchmaker=new-0123456789abcdef' });
    expect(rotating.allocatorApiKeys.map((k) => `${k.client}=${k.key}`)).toEqual(['matchmaker=old-0123456789abcdef', 'matchmaker=new-0123456789abcdef']);
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-keys-'));
    const file = path.join(dir, 'keys');
    writeFileSync(file, 'ops=same-0123456789abcdef\n');
    expect(problemsOf(() => loadSecrets({ ALLOCATOR_API_KEYS: 'bots=same-0123456789abcdef', ALLOCATOR_API_KEYS_FILE: file }))).toEqual([
      'ALLOCATOR_API_KEYS_FILE: client ops has the same key as client bots (ALLOCATOR_API_KEYS); give each client its own',
    ]);
  });

  it('names every bad secret setting', () => {
    expect(problemsOf(() => loadSecrets({ ALLOCATOR_API_KEYS: 'short=abc,=nokey0123456789abcdef', ALLOCATOR_API_KEYS_FILE: '/nonexistent/keys', ALLOCATOR_TLS_CERT_FILE: 'c', ENCRYPTION_KEY: 'abc123' }))).toEqual([
      'ALLOCATOR_API_KEYS entry 1: expected name=key with a key of at least 16 characters',
      'ALLOCATOR_API_KEYS entry 2: expected name=key with a key of at least 16 characters',
      "ALLOCATOR_API_KEYS_FILE: cannot read /nonexistent/keys: ENOENT: no such file or directory, open '/nonexistent/keys'",
      'mutual TLS needs all of ALLOCATOR_TLS_CERT_FILE, ALLOCATOR_TLS_KEY_FILE, ALLOCATOR_TLS_CA_FILE; missing ALLOCATOR_TLS_KEY_FILE, ALLOCATOR_TLS_CA_FILE',
      'ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has 6 characters',
    ]);
  });

  it('takes the connect-token key from ENCRYPTION_KEY when it is set', () => {
    const raw = Buffer.alloc(32, 9);
    expect(loadSecrets({ ENCRYPTION_KEY: ` ${raw.toString('base64')}\n` }).encryptionKey).toEqual(raw);
    expect(loadSecrets({ ENCRYPTION_KEY: '' }).encryptionKey).toBeUndefined();
    expect(loadSecrets({}).encryptionKey).toBeUndefined();
  });

  it('takes keys as hex or base64, 32 bytes only', () => {
    const raw = Buffer.alloc(32, 7);
    expect(parseKey(raw.toString('hex'))).toEqual(raw);
    expect(parseKey(raw.toString('base64'))).toEqual(raw);
    expect(parseKey(Buffer.alloc(31).toString('base64'))).toBeUndefined();
    expect(parseKey('zz'.repeat(32))).toBeUndefined();
  });
});
