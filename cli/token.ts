import path from 'node:path';
import { parseCliArgs } from './args.js';
import { UsageError } from '../core/errors.js';
import { mintConnectToken } from '../gameserver/protocol/connect-token.js';
import { DEFAULT_TIMEOUT_SECONDS, HANGAR_PROTOCOL_ID, MAX_TIMEOUT_SECONDS, MAX_USER_DATA_BYTES } from '../gameserver/protocol/protocol-constants.js';
import { ConnectTokenError } from '../gameserver/protocol/protocol-errors.js';
import { serverAddressProblem } from '../gameserver/protocol/server-address.js';
import { parseKey, requireKey } from '../core/secrets.js';
import { ENCRYPTION_KEY_SECRET, HANGAR_SECRET, LocalSecrets } from '../fleets/local-secrets.js';
import type { CliIo } from './io.js';

// `hangar token`: mints a connect token by hand, as the matchmaker will, for bots and manual tests.
// Prints it in base64 on one line. The key is ENCRYPTION_KEY's, else the local stack's.

/** Long enough to paste a token into a client by hand. */
export const DEFAULT_TOKEN_EXPIRY_SECONDS = 300;
export const ENCRYPTION_KEY_VARIABLE = 'ENCRYPTION_KEY';

export interface TokenCommandOptions {
  /** The value of ENCRYPTION_KEY, read by the caller. */
  encryptionKey: string | undefined;
  /** The directory `hangar up` runs in: its state directory's key serves when ENCRYPTION_KEY is not set. */
  cwd: string;
  /** That state directory, relative to cwd (localStackHere); .hangar when not given. */
  stateDir?: () => string;
  now?: () => number;
}

function localSecrets(cwd: string, stateDir: string | undefined): LocalSecrets {
  return new LocalSecrets(path.resolve(cwd, stateDir ?? '.hangar', 'secrets'));
}

/** The key `hangar up` made for its game servers (<state dir>/secrets/hangar/encryption-key); names both places when there is none. */
export function localStackKey(cwd: string, stateDir: string | undefined): Buffer {
  const secrets = localSecrets(cwd, stateDir);
  return requireKey(secrets.read(HANGAR_SECRET, ENCRYPTION_KEY_SECRET), `${ENCRYPTION_KEY_VARIABLE} (or the local stack's key in ${secrets.dir}/${HANGAR_SECRET}/${ENCRYPTION_KEY_SECRET})`);
}

/**
 * Why tokens of `key` (ENCRYPTION_KEY's) would fail on the local stack's game servers: the stack here
 * signs with another key. A server drops a token it cannot open without a word (no amplification),
 * so without this a bot only times out. Undefined when there is no local stack key or it is the same.
 */
export function localStackKeyMismatch(key: Buffer, cwd: string, stateDir: string | undefined): string | undefined {
  const secrets = localSecrets(cwd, stateDir);
  const stackKey = secrets.read(HANGAR_SECRET, ENCRYPTION_KEY_SECRET);
  if (stackKey === undefined || parseKey(stackKey)?.equals(key)) return undefined;
  return `${ENCRYPTION_KEY_VARIABLE} is not the key of the local stack in ${secrets.dir}/${HANGAR_SECRET}/${ENCRYPTION_KEY_SECRET}: that stack's game servers drop these tokens unanswered; unset ${ENCRYPTION_KEY_VARIABLE}, or start the stack with it`;
}

export function runToken(args: string[], io: CliIo, options: TokenCommandOptions): number {
  const { values } = parseCliArgs({
    args,
    options: {
      server: { type: 'string' },
      player: { type: 'string' },
      address: { type: 'string', multiple: true },
      expires: { type: 'string' },
      timeout: { type: 'string' },
      'user-data': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.server === undefined) throw new UsageError('token: --server NAME is required (the GameServer the token is for)');
  if (values.player === undefined) throw new UsageError('token: --player ID is required');
  const addresses = values.address ?? [];
  if (addresses.length === 0) throw new UsageError('token: --address HOST:PORT is required (repeat it for each of the server\'s ports)');
  for (const a of addresses) {
    const problem = serverAddressProblem(a);
    if (problem) throw new UsageError(`token: --address ${JSON.stringify(a)} ${problem}`);
  }
  const expiresInSeconds = values.expires === undefined ? DEFAULT_TOKEN_EXPIRY_SECONDS : Number(values.expires);
  if (!(expiresInSeconds > 0) || !Number.isFinite(expiresInSeconds)) throw new UsageError(`token: --expires ${JSON.stringify(values.expires)}: give a number of seconds, more than 0`);
  const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(`token: --timeout ${JSON.stringify(values.timeout)}: give a whole number of seconds from 1 to ${MAX_TIMEOUT_SECONDS}`);
  }
  const userData = Buffer.from(values['user-data'] ?? '', 'utf8');
  if (userData.length > MAX_USER_DATA_BYTES) throw new UsageError(`token: --user-data is ${userData.length} bytes, at most ${MAX_USER_DATA_BYTES}`);
  const key = options.encryptionKey ? requireKey(options.encryptionKey, ENCRYPTION_KEY_VARIABLE) : localStackKey(options.cwd, options.stateDir?.());
  let token: Buffer;
  try {
    token = mintConnectToken({
      key,
      protocolId: HANGAR_PROTOCOL_ID,
      serverId: values.server,
      playerId: values.player,
      addresses,
      expiresInSeconds,
      timeoutSeconds,
      userData,
      now: (options.now ?? Date.now)(),
    });
  } catch (err) {
    // What is left to refuse here is an argument: an id of the wrong length.
    if (err instanceof ConnectTokenError) throw new UsageError(`token: ${err.message}`);
    throw err;
  }
  io.stdout(token.toString('base64'));
  return 0;
}
