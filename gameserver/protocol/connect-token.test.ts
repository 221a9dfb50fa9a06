import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { aeadKey } from './aead.js';
import { ConnectTokenMinter, mintConnectToken, openPrivateToken, privateTokenAd, readPublicToken, type ConnectTokenOptions } from './connect-token.js';
import { HANGAR_PROTOCOL_ID } from './protocol-constants.js';
import { ConnectTokenError } from './protocol-errors.js';
import { parseServerAddress, pickServerAddress } from './server-address.js';

const KEY = Buffer.alloc(32, 0x42);
const NOW = Date.UTC(2026, 0, 1); // 0x0000019b76daa800 ms
const OPTIONS: ConnectTokenOptions = {
  key: KEY,
  protocolId: HANGAR_PROTOCOL_ID,
  serverId: 'simple-2xk7q',
  playerId: 'alice',
  addresses: ['10.0.0.1:7000', '[::1]:7001'],
  expiresInSeconds: 30,
  userData: Buffer.from('match-7'),
  now: NOW,
};

function bytes(...parts: string[]): Buffer {
  return Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
}

describe('connect tokens', () => {
  it('lay out the public part as PROTOCOL.md says', () => {
    const token = mintConnectToken(OPTIONS);
    const pub = readPublicToken(token);
    const expected = Buffer.concat([
      bytes('48 47 43 54'), // magic "HGCT"
      bytes('02'), // version
      bytes('48 41 4e 47 41 52 00 02'), // protocol id
      bytes('00 00 01 9b 76 da a8 00'), // created at: 2026-01-01T00:00:00Z
      bytes('00 00 01 9b 76 db 1d 30'), // expires at: 30 s later, 2026-01-01T00:00:30Z
      bytes('00 05'), // timeout: 5 s
      pub.nonce, // nonce (12, random)
      pub.privateToken, // sealed private part (1,024)
      pub.clientToServerKey, // client→server key (32, random)
      pub.serverToClientKey, // server→client key (32, random)
      bytes('05'), // player id: 5 bytes
      Buffer.from('alice'),
      bytes('02'), // addresses: 2
      bytes('0d'), //   13 bytes
      Buffer.from('10.0.0.1:7000'),
      bytes('0a'), //   10 bytes
      Buffer.from('[::1]:7001'),
    ]);
    expect(token.equals(expected)).toBe(true);
    expect(token.length).toBe(1131 + 1 + 5 + 1 + 14 + 11);
    expect(pub).toMatchObject({ protocolId: HANGAR_PROTOCOL_ID, createdAt: NOW, expiresAt: NOW + 30_000, timeoutSeconds: 5, playerId: 'alice', addresses: OPTIONS.addresses });
    expect(pub.nonce).toHaveLength(12);
    expect(pub.clientToServerKey.equals(pub.serverToClientKey)).toBe(false);
  });

  it('seal the private part with AES-256-GCM under the shared key, the nonce, and magic + version + protocol id + expiry as additional data', () => {
    const pub = readPublicToken(mintConnectToken(OPTIONS));
    const decipher = createDecipheriv('aes-256-gcm', KEY, pub.nonce, { authTagLength: 16 });
    decipher.setAAD(bytes('48 47 43 54', '02', '48 41 4e 47 41 52 00 02', '00 00 01 9b 76 db 1d 30'));
    decipher.setAuthTag(pub.privateToken.subarray(1008));
    const plaintext = Buffer.concat([decipher.update(pub.privateToken.subarray(0, 1008)), decipher.final()]);
    const expected = Buffer.concat([
      bytes('00 00 01 9b 76 da a8 00'), // created at
      bytes('00 05'), // timeout
      pub.clientToServerKey,
      pub.serverToClientKey,
      bytes('0c'), // server id: 12 bytes
      Buffer.from('simple-2xk7q'),
      bytes('05'), // player id: 5 bytes
      Buffer.from('alice'),
      bytes('00 07'), // user data: 7 bytes
      Buffer.from('match-7'),
    ]);
    expect(plaintext.subarray(0, expected.length).equals(expected)).toBe(true);
    expect(plaintext.subarray(expected.length).equals(Buffer.alloc(1008 - expected.length))).toBe(true); // zero padding

    const opened = openPrivateToken(aeadKey(KEY), privateTokenAd(bytes('48 41 4e 47 41 52 00 02'), bytes('00 00 01 9b 76 db 1d 30')), pub.nonce, pub.privateToken);
    expect(opened).toEqual({
      createdAt: NOW,
      timeoutSeconds: 5,
      clientToServerKey: pub.clientToServerKey,
      serverToClientKey: pub.serverToClientKey,
      serverId: 'simple-2xk7q',
      playerId: 'alice',
      userData: Buffer.from('match-7'),
    });
    expect(openPrivateToken(aeadKey(Buffer.alloc(32, 1)), privateTokenAd(bytes('48 41 4e 47 41 52 00 02'), bytes('00 00 01 9b 76 db 1d 30')), pub.nonce, pub.privateToken)).toBeUndefined();
  });

  it('are fresh every time: new keys and nonce for the same options', () => {
    const [a, b] = [readPublicToken(mintConnectToken(OPTIONS)), readPublicToken(mintConnectToken(OPTIONS))];
    expect(a.nonce.equals(b.nonce) || a.clientToServerKey.equals(b.clientToServerKey)).toBe(false);
  });

  const BAD: Array<[string, Partial<ConnectTokenOptions>, string]> = [
    ['a short key', { key: Buffer.alloc(16) }, 'key must be 32 bytes'],
    ['an empty server id', { serverId: '' }, 'serverId must be 1 to 253 bytes of UTF-8, not 0'],
    ['a long player id', { playerId: 'x'.repeat(129) }, 'playerId must be 1 to 128 bytes of UTF-8, not 129'],
    ['no address', { addresses: [] }, 'addresses: give 1 to 32, not 0'],
    ['33 addresses', { addresses: Array(33).fill('10.0.0.1:7000') }, 'addresses: give 1 to 32, not 33'],
    ['an address without a port', { addresses: ['10.0.0.1'] }, 'address "10.0.0.1" is not host:port'],
    ['port 0', { addresses: ['10.0.0.1:0'] }, 'address "10.0.0.1:0" is not host:port'],
    ['an expiry of 0', { expiresInSeconds: 0 }, 'expiresInSeconds must be a positive number, not 0'],
    ['a fractional timeout', { timeoutSeconds: 1.5 }, 'timeoutSeconds must be an integer from 1 to 3600, not 1.5'],
    ['too much user data', { userData: Buffer.alloc(257) }, 'userData is 257 bytes, at most 256'],
    ['a protocol id over 64 bits', { protocolId: 2n ** 64n }, 'protocolId must fit 64 unsigned bits'],
  ];

  it.each(BAD)('cannot be minted with %s', (_name, change, problem) => {
    expect(() => mintConnectToken({ ...OPTIONS, ...change })).toThrow(new ConnectTokenError(`cannot mint a connect token: ${problem}`));
  });

  it('from a minter read and open exactly as one-off tokens do', () => {
    const { key, ...options } = OPTIONS;
    const minter = new ConnectTokenMinter(key);
    const pub = readPublicToken(minter.forServer(options)(options.playerId));
    expect(pub).toMatchObject({ createdAt: NOW, expiresAt: NOW + 30_000, playerId: 'alice', addresses: OPTIONS.addresses });
    const opened = openPrivateToken(aeadKey(KEY), privateTokenAd(bytes('48 41 4e 47 41 52 00 02'), bytes('00 00 01 9b 76 db 1d 30')), pub.nonce, pub.privateToken);
    expect(opened).toMatchObject({ serverId: 'simple-2xk7q', playerId: 'alice', clientToServerKey: pub.clientToServerKey, serverToClientKey: pub.serverToClientKey, userData: Buffer.from('match-7') });
    expect(() => minter.forServer({ ...options, addresses: [] })).toThrow(new ConnectTokenError('cannot mint a connect token: addresses: give 1 to 32, not 0'));
    expect(() => new ConnectTokenMinter(Buffer.alloc(16))).toThrow(new ConnectTokenError('cannot mint connect tokens: key must be 32 bytes'));
  });

  it("from a minter for one server's players are each bound to that server and to their own player", () => {
    const { key, playerId: _, ...shared } = OPTIONS;
    const tokenFor = new ConnectTokenMinter(key).forServer(shared);
    const ad = privateTokenAd(bytes('48 41 4e 47 41 52 00 02'), bytes('00 00 01 9b 76 db 1d 30'));
    const opened = ['alice', 'bob'].map((player) => {
      const pub = readPublicToken(tokenFor(player));
      expect(pub).toMatchObject({ playerId: player, addresses: OPTIONS.addresses, expiresAt: NOW + 30_000 });
      return { pub, secret: openPrivateToken(aeadKey(KEY), ad, pub.nonce, pub.privateToken) };
    });
    for (const [i, player] of ['alice', 'bob'].entries()) expect(opened[i]!.secret).toMatchObject({ serverId: 'simple-2xk7q', playerId: player, userData: Buffer.from('match-7') });
    expect(opened[0]!.pub.nonce.equals(opened[1]!.pub.nonce)).toBe(false);
    expect(opened[0]!.pub.clientToServerKey.equals(opened[1]!.pub.clientToServerKey)).toBe(false);
    // The minter lays each private part over the last one's: a shorter player id after a longer one is still zero padded.
    const bob = opened[1]!.pub;
    const decipher = createDecipheriv('aes-256-gcm', KEY, bob.nonce, { authTagLength: 16 });
    decipher.setAAD(ad);
    decipher.setAuthTag(bob.privateToken.subarray(1008));
    const plaintext = Buffer.concat([decipher.update(bob.privateToken.subarray(0, 1008)), decipher.final()]);
    const fields = 8 + 2 + 64 + 1 + 'simple-2xk7q'.length + 1 + 'bob'.length + 2 + 'match-7'.length;
    expect(plaintext.subarray(fields - 'match-7'.length, fields).toString()).toBe('match-7');
    expect(plaintext.subarray(fields).equals(Buffer.alloc(1008 - fields))).toBe(true);
    expect(() => tokenFor('')).toThrow(new ConnectTokenError('cannot mint a connect token: playerId must be 1 to 128 bytes of UTF-8, not 0'));
    expect(() => new ConnectTokenMinter(key).forServer({ ...shared, serverId: '' })).toThrow(new ConnectTokenError('cannot mint a connect token: serverId must be 1 to 253 bytes of UTF-8, not 0'));
  });

  it('from a minter never share a nonce or a key, across the refills of its random bytes', () => {
    const { key, ...options } = OPTIONS;
    const minter = new ConnectTokenMinter(key);
    const seen = new Set<string>();
    const tokens = 1000; // several refills of the minter's random bytes
    for (let i = 0; i < tokens; i++) {
      const pub = readPublicToken(minter.forServer(options)(options.playerId));
      for (const part of [pub.nonce, pub.clientToServerKey, pub.serverToClientKey]) seen.add(part.toString('hex'));
    }
    expect(seen.size).toBe(3 * tokens);
  });

  it('are refused by a client when malformed, at every truncation, with trailing bytes, or of another version', () => {
    const token = mintConnectToken(OPTIONS);
    for (let n = 0; n < token.length; n++) expect(() => readPublicToken(token.subarray(0, n))).toThrow(ConnectTokenError);
    expect(() => readPublicToken(Buffer.concat([token, Buffer.of(0)]))).toThrow('not a usable connect token: trailing bytes');
    const v1 = Buffer.from(token);
    v1[4] = 1;
    expect(() => readPublicToken(v1)).toThrow('not a usable connect token: version 1, this client speaks 2');
    expect(() => readPublicToken(Buffer.from('eyJhbGciOi', 'latin1'))).toThrow('not a usable connect token: it does not start with HGCT');
  });
});

describe('server addresses', () => {
  it('parse host:port, with IPv6 in brackets', () => {
    expect(parseServerAddress('10.0.0.1:7000')).toEqual({ address: '10.0.0.1', port: 7000 });
    expect(parseServerAddress('game-1.example.com:7777')).toEqual({ address: 'game-1.example.com', port: 7777 });
    expect(parseServerAddress('[2001:db8::1]:7000')).toEqual({ address: '2001:db8::1', port: 7000 });
    for (const bad of ['10.0.0.1', ':7000', '10.0.0.1:70000', '2001:db8::1:7000', '[nope]:7000', 'host :7000']) expect(parseServerAddress(bad)).toBeUndefined();
  });

  it('are picked by FNV-1a of the player id: the same one every time, spread over all of them', () => {
    const addresses = ['a:1', 'b:2', 'c:3', 'd:4'];
    expect(pickServerAddress(addresses, 'a')).toBe(addresses[0xe40c292c % 4]); // FNV-1a("a") = 0xe40c292c
    expect(pickServerAddress(addresses, 'player-17')).toBe(pickServerAddress(addresses, 'player-17'));
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const a = pickServerAddress(addresses, `player-${i}`);
      counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    for (const a of addresses) expect(counts.get(a)).toBeGreaterThan(800);
  });
});
