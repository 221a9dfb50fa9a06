import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, UsageError } from '../core/errors.js';
import { openPrivateToken, privateTokenAd, readPublicToken } from '../gameserver/protocol/connect-token.js';
import { aeadKey } from '../gameserver/protocol/aead.js';
import { HANGAR_PROTOCOL_ID } from '../gameserver/protocol/protocol-constants.js';
import { LocalSecrets } from '../fleets/local-secrets.js';
import { runCli } from './commands.js';
import { localStackKeyMismatch, runToken } from './token.js';
import { localStackHere } from './local-stack.js';

const HEX_KEY = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const NOW = Date.UTC(2026, 0, 1);

/** A working directory with no local stack in it. */
const NO_STACK = mkdtempSync(path.join(tmpdir(), 'hangar-token-'));

function token(args: string[], encryptionKey: string | undefined, cwd = NO_STACK) {
  const stdout: string[] = [];
  const code = runToken(args, { stdout: (l) => stdout.push(l), stderr: () => {} }, { encryptionKey, cwd, now: () => NOW });
  return { code, stdout };
}

function opened(base64: string, key: Buffer) {
  const raw = Buffer.from(base64, 'base64');
  const pub = readPublicToken(raw);
  const wire = Buffer.alloc(16);
  wire.writeBigUInt64BE(pub.protocolId, 0);
  wire.writeBigUInt64BE(BigInt(pub.expiresAt), 8);
  return { pub, priv: openPrivateToken(aeadKey(key), privateTokenAd(wire.subarray(0, 8), wire.subarray(8)), pub.nonce, pub.privateToken) };
}

const REQUIRED = ['--server', 'simple-2xk7q', '--player', 'alice', '--address', '127.0.0.1:7000'];

describe('hangar token', () => {
  it('prints one base64 token for the server, player and addresses, keyed by ENCRYPTION_KEY', () => {
    const { code, stdout } = token([...REQUIRED, '--address', '127.0.0.1:7001', '--expires', '60', '--timeout', '10', '--user-data', 'match-7'], HEX_KEY);
    expect(code).toBe(0);
    expect(stdout).toHaveLength(1);
    expect(stdout[0]).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const { pub, priv } = opened(stdout[0]!, Buffer.from(HEX_KEY, 'hex'));
    expect(pub).toMatchObject({ protocolId: HANGAR_PROTOCOL_ID, createdAt: NOW, expiresAt: NOW + 60_000, timeoutSeconds: 10, playerId: 'alice', addresses: ['127.0.0.1:7000', '127.0.0.1:7001'] });
    expect(priv).toMatchObject({ serverId: 'simple-2xk7q', playerId: 'alice', userData: Buffer.from('match-7'), timeoutSeconds: 10 });
  });

  it('expires in 300 s with a 5 s timeout by default, and takes the key in base64 too', () => {
    const base64Key = Buffer.from(HEX_KEY, 'hex').toString('base64');
    const { stdout } = token(REQUIRED, base64Key);
    const { pub, priv } = opened(stdout[0]!, Buffer.from(HEX_KEY, 'hex'));
    expect(pub).toMatchObject({ expiresAt: NOW + 300_000, timeoutSeconds: 5 });
    expect(priv?.userData).toEqual(Buffer.alloc(0));
  });

  const BAD: Array<[string, string[], string]> = [
    ['no --server', ['--player', 'alice', '--address', '127.0.0.1:7000'], 'token: --server NAME is required (the GameServer the token is for)'],
    ['no --player', ['--server', 's', '--address', '127.0.0.1:7000'], 'token: --player ID is required'],
    ['no --address', ['--server', 's', '--player', 'p'], "token: --address HOST:PORT is required (repeat it for each of the server's ports)"],
    ['an address without a port', [...REQUIRED, '--address', 'localhost'], 'token: --address "localhost" is not HOST:PORT'],
    ['a port past 65535', [...REQUIRED, '--address', '127.0.0.1:70000'], 'token: --address "127.0.0.1:70000" is not HOST:PORT: port 70000 is outside 1 to 65535'],
    ['port 0', [...REQUIRED, '--address', '127.0.0.1:0'], 'token: --address "127.0.0.1:0" is not HOST:PORT: port 0 is outside 1 to 65535'],
    ['a bracketed host that is not IPv6', [...REQUIRED, '--address', '[10.0.0.1]:7000'], 'token: --address "[10.0.0.1]:7000" is not HOST:PORT: [10.0.0.1] is not an IPv6 address'],
    ['--expires 0', [...REQUIRED, '--expires', '0'], 'token: --expires "0": give a number of seconds, more than 0'],
    ['--expires soon', [...REQUIRED, '--expires', 'soon'], 'token: --expires "soon": give a number of seconds, more than 0'],
    ['a fractional --timeout', [...REQUIRED, '--timeout', '2.5'], 'token: --timeout "2.5": give a whole number of seconds from 1 to 3600'],
    ['--timeout 0', [...REQUIRED, '--timeout', '0'], 'token: --timeout "0": give a whole number of seconds from 1 to 3600'],
    ['too much --user-data', [...REQUIRED, '--user-data', 'x'.repeat(257)], 'token: --user-data is 257 bytes, at most 256'],
    ['a 129-byte --player', ['--server', 's', '--player', 'p'.repeat(129), '--address', '127.0.0.1:7000'], 'token: cannot mint a connect token: playerId must be 1 to 128 bytes of UTF-8, not 129'],
  ];

  it.each(BAD)('refuses %s', (_name, args, message) => {
    expect(() => token(args, HEX_KEY)).toThrow(new UsageError(message));
  });

  it("without ENCRYPTION_KEY, keys the token with the local stack's key, as its game servers are", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-token-stack-'));
    const stackKey = Buffer.from(new LocalSecrets(path.join(dir, '.hangar', 'secrets')).ensureEncryptionKey(), 'hex');
    const { code, stdout } = token(REQUIRED, undefined, dir);
    expect(code).toBe(0);
    expect(opened(stdout[0]!, stackKey).priv).toMatchObject({ serverId: 'simple-2xk7q', playerId: 'alice' });
    expect(() => token(REQUIRED, undefined)).toThrow(
      expect.objectContaining({ problems: [expect.stringMatching(new RegExp(`^ENCRYPTION_KEY \\(or the local stack's key in ${NO_STACK}/\\.hangar/secrets/hangar/encryption-key\\) is not set`))] }),
    );
  });

  it("finds the stack's key where `hangar up` keeps its state: HANGAR_LOCAL__STATE_DIR, or its config's local.state_dir", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'hangar-token-state-'));
    const stackKey = Buffer.from(new LocalSecrets(path.join(stateDir, 'secrets')).ensureEncryptionKey(), 'hex');
    const stdout: string[] = [];
    const code = await runCli(['token', ...REQUIRED], { stdout: (l) => stdout.push(l), stderr: () => {} }, { HANGAR_LOCAL__STATE_DIR: stateDir }, NO_STACK);
    expect(code).toBe(0);
    expect(opened(stdout[0]!, stackKey).priv).toMatchObject({ serverId: 'simple-2xk7q', playerId: 'alice' });

    const cwd = mkdtempSync(path.join(tmpdir(), 'hangar-token-cwd-'));
    expect(localStackHere({}, cwd).stateDir()).toBe('.hangar');
    expect(localStackHere({ HANGAR_LOCAL__STATE_DIR: '/srv/h' }, cwd).stateDir()).toBe('/srv/h');
    mkdirSync(path.join(cwd, 'config'));
    writeFileSync(path.join(cwd, 'config', 'staging.yaml'), 'local:\n  state_dir: var/hangar\n');
    expect(localStackHere({ GAME_SERVER_ENV: 'staging' }, cwd).stateDir()).toBe('var/hangar');
  });

  it("says when ENCRYPTION_KEY is not the local stack's key, whose servers would drop its tokens unanswered", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-token-mismatch-'));
    const key = Buffer.from(HEX_KEY, 'hex');
    expect(localStackKeyMismatch(key, dir, undefined)).toBeUndefined();
    const secrets = new LocalSecrets(path.join(dir, '.hangar', 'secrets'));
    secrets.ensureEncryptionKey();
    expect(localStackKeyMismatch(key, dir, undefined)).toBe(
      `ENCRYPTION_KEY is not the key of the local stack in ${dir}/.hangar/secrets/hangar/encryption-key: that stack's game servers drop these tokens unanswered; unset ENCRYPTION_KEY, or start the stack with it`,
    );
    secrets.setEncryptionKey(key);
    expect(localStackKeyMismatch(key, dir, undefined)).toBeUndefined();
    expect(localStackKeyMismatch(key, dir, 'elsewhere')).toBeUndefined();
  });

  it('names ENCRYPTION_KEY when it is missing or malformed, without echoing it', () => {
    expect(() => token(REQUIRED, undefined)).toThrow(ConfigError);
    expect(() => token(REQUIRED, '  ')).toThrow(expect.objectContaining({ problems: [expect.stringMatching(/^ENCRYPTION_KEY is not set/)] }));
    expect(() => token(REQUIRED, 'hunter2')).toThrow(
      expect.objectContaining({ problems: ['ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has 7 characters'] }),
    );
  });

  it('through the CLI: exit 0 with the token, 2 with the usage for bad arguments, 1 naming the variable for a bad key', async () => {
    const run = async (argv: string[], env: NodeJS.ProcessEnv) => {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runCli(argv, { stdout: (l) => stdout.push(l), stderr: (l) => stderr.push(l) }, env, NO_STACK);
      return { code, stdout, stderr };
    };
    const ok = await run(['token', ...REQUIRED], { ENCRYPTION_KEY: HEX_KEY });
    expect(ok.code).toBe(0);
    expect(readPublicToken(Buffer.from(ok.stdout[0]!, 'base64')).playerId).toBe('alice');

    const usage = await run(['token', '--server', 's'], { ENCRYPTION_KEY: HEX_KEY });
    expect(usage.code).toBe(2);
    expect(usage.stderr[0]).toBe('hangar: token: --player ID is required');
    expect(usage.stderr[1]).toMatch(/\n {2}token --server NAME --player ID --address HOST:PORT/);

    const unknown = await run(['token', ...REQUIRED, '--ttl', '5'], { ENCRYPTION_KEY: HEX_KEY });
    expect(unknown.code).toBe(2);

    expect(await run(['token', ...REQUIRED], { ENCRYPTION_KEY: HEX_KEY.slice(2) })).toEqual({
      code: 1,
      stdout: [],
      stderr: ['ENCRYPTION_KEY must be 32 bytes, as 64 hex characters or base64 (43 or 44 characters); it has 62 characters'],
    });
  });
});
