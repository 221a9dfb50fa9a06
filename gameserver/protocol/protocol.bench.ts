import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ClientEndpoint } from './client-endpoint.js';
import { mintConnectToken } from './connect-token.js';
import { aeadKey, newNonce, openPacketBody, packetKey, sealPacketBody } from './aead.js';
import { Connection, type ConnectionHost } from './connection.js';
import { ACK_HEADER_BYTES, HANGAR_PROTOCOL_ID, MAX_PAYLOAD_BYTES } from './protocol-constants.js';
import { packetAdditionalData, PacketType, writeSequenceNonce, type Channel } from './packet-codec.js';
import { ServerEndpoint } from './server-endpoint.js';

// The netcode's CPU cost per packet, beside its floor (the bare packet AEAD), in one
// run. Not a test: timings on shared machines move, so only same-run ratios mean much.
//   npx tsc -p tsconfig.json && node dist/gameserver/protocol/protocol.bench.js

const ROUNDS = 9;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Runs every case once per round, interleaved, and returns each case's median µs per operation. */
function measure(cases: Record<string, { ops: number; run: () => void }>): Record<string, number> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const c of Object.values(cases)) c.run(); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, c] of Object.entries(cases)) {
      const start = process.hrtime.bigint();
      c.run();
      samples[name]!.push(Number(process.hrtime.bigint() - start) / 1000 / c.ops);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

// ---- 1. The AEAD floor: seal then open one small packet body. ----

/** Through node:crypto, a cipher object per operation: the tokens' AEAD, and the packets' until libsodium. */
function nodeCryptoRoundTrip(algorithm: 'aes-256-gcm' | 'chacha20-poly1305', bodyBytes: number, ops: number): () => void {
  const key = aeadKey(randomBytes(32));
  const nonce = Buffer.alloc(12);
  const ad = Buffer.alloc(12, 1);
  const body = randomBytes(bodyBytes);
  const options = { authTagLength: 16 } as const;
  return () => {
    for (let i = 0; i < ops; i++) {
      nonce.writeUInt32BE(i, 8);
      const c = createCipheriv(algorithm as 'aes-256-gcm', key, nonce, options);
      c.setAAD(ad);
      const ct = c.update(body);
      c.final();
      const tag = c.getAuthTag();
      const d = createDecipheriv(algorithm as 'aes-256-gcm', key, nonce, options);
      d.setAAD(ad);
      d.setAuthTag(tag);
      d.update(ct);
      d.final();
    }
  };
}

/** The packets' AEAD (aead.ts): libsodium's ChaCha20-Poly1305, sealed into a buffer and opened in place. */
function packetRoundTrip(bodyBytes: number, ops: number): () => void {
  const key = packetKey(randomBytes(32));
  const nonce = newNonce();
  const ad = Buffer.alloc(12, 1);
  const body = randomBytes(bodyBytes);
  const sealed = Buffer.alloc(bodyBytes + 16);
  return () => {
    for (let i = 0; i < ops; i++) {
      writeSequenceNonce(nonce, i);
      sealPacketBody(key, nonce, ad, body, sealed, 0);
      if (!openPacketBody(key, nonce, ad, sealed, 0, sealed.length)) throw new Error('a packet sealed here failed to open');
    }
  };
}

// ---- 2. One connection to itself: encode + encrypt (flush), decode + decrypt (receive). ----

class LoopHost implements ConnectionHost {
  readonly ads = packetAdditionalData(HANGAR_PROTOCOL_ID);
  readonly nonce = newNonce();
  readonly body = Buffer.allocUnsafe(ACK_HEADER_BYTES + MAX_PAYLOAD_BYTES);
  last: Buffer = Buffer.alloc(0);
  delivered = 0;
  transmit(_c: Connection, data: Buffer): void {
    this.last = data;
  }
  deliver(_c: Connection, _channel: Channel, _payload: Buffer): void {
    this.delivered++;
  }
}

function connectionPair(messageBytes: number, ops: number): { encode: () => void; decode: () => void } {
  const host = new LoopHost();
  const a = randomBytes(32);
  const b = randomBytes(32);
  const sender = new Connection({ host, sendKey: packetKey(a), receiveKey: packetKey(b), timeoutMs: 5000, now: 0, address: 'x', port: 1 });
  const receiver = new Connection({ host, sendKey: packetKey(b), receiveKey: packetKey(a), timeoutMs: 5000, now: 0, address: 'x', port: 1 });
  const message = randomBytes(messageBytes);
  const packets: Buffer[] = new Array(ops);
  let now = 0;
  return {
    encode: () => {
      for (let i = 0; i < ops; i++) {
        sender.queue('unreliable', message);
        sender.flush(++now);
        packets[i] = host.last;
      }
    },
    decode: () => {
      for (let i = 0; i < ops; i++) receiver.receive(packets[i]!, PacketType.Payload, now);
    },
  };
}

// ---- 3. A server and many clients over an in-memory link, a tick at a time. ----

function gameLoop(clients: number, ticks: number): { serverOnly: () => void; whole: () => void; serverMs: () => number } {
  const key = randomBytes(32);
  let now = Date.now();
  const toServer: Array<[Buffer, string, number]> = [];
  const toClient: Array<Buffer[]> = Array.from({ length: clients }, () => []);
  const server = new ServerEndpoint({
    protocolId: HANGAR_PROTOCOL_ID,
    tokenKey: key,
    serverId: 'bench',
    maxClients: clients,
    now: () => now,
    send: (data, _address, port) => toClient[port - 1]!.push(data),
    onConnect: () => {},
    onDisconnect: () => {},
    onMessage: () => {},
  });
  const endpoints = Array.from({ length: clients }, (_, i) => {
    const token = mintConnectToken({ key, protocolId: HANGAR_PROTOCOL_ID, serverId: 'bench', playerId: `p${i}`, addresses: ['10.0.0.1:7000'], expiresInSeconds: 3600, now });
    return new ClientEndpoint({ token, now: () => now, send: (data) => toServer.push([data, '192.0.2.1', i + 1]), onMessage: () => {} });
  });
  const pump = () => {
    for (const [data, address, port] of toServer.splice(0)) server.receive(data, address, port);
    for (let i = 0; i < clients; i++) for (const data of toClient[i]!.splice(0)) endpoints[i]!.receive(data);
  };
  for (const e of endpoints) e.connect();
  for (let i = 0; i < 10; i++) {
    pump();
    now += 34;
    for (const e of endpoints) e.update();
    server.update();
  }
  if (server.connectedCount !== clients) throw new Error(`only ${server.connectedCount} of ${clients} clients connected`);
  const input = randomBytes(24);
  const snapshot = randomBytes(160);
  let serverNs = 0n;
  const tick = (timeServer: boolean) => {
    now += 1000 / 30;
    for (const e of endpoints) {
      e.send('unreliable', input);
      e.update();
    }
    const start = process.hrtime.bigint();
    for (const [data, address, port] of toServer.splice(0)) server.receive(data, address, port);
    for (let i = 0; i < clients; i++) server.send(i, 'unreliable', snapshot);
    server.update();
    if (timeServer) serverNs += process.hrtime.bigint() - start;
    for (let i = 0; i < clients; i++) for (const data of toClient[i]!.splice(0)) endpoints[i]!.receive(data);
  };
  return {
    whole: () => {
      for (let t = 0; t < ticks; t++) tick(false);
    },
    serverOnly: () => {
      serverNs = 0n;
      for (let t = 0; t < ticks; t++) tick(true);
    },
    serverMs: () => Number(serverNs) / 1e6,
  };
}

function main(): void {
  const OPS = 20_000;
  const floor = measure({
    'libsodium chacha20-poly1305, 64-byte body': { ops: OPS, run: packetRoundTrip(64, OPS) },
    'node:crypto aes-256-gcm, 64-byte body': { ops: OPS, run: nodeCryptoRoundTrip('aes-256-gcm', 64, OPS) },
    'node:crypto chacha20-poly1305, 64-byte body': { ops: OPS, run: nodeCryptoRoundTrip('chacha20-poly1305', 64, OPS) },
    'libsodium chacha20-poly1305, 200-byte body': { ops: OPS, run: packetRoundTrip(200, OPS) },
    'node:crypto aes-256-gcm, 200-byte body': { ops: OPS, run: nodeCryptoRoundTrip('aes-256-gcm', 200, OPS) },
    'libsodium chacha20-poly1305, 1,200-byte body': { ops: OPS, run: packetRoundTrip(1200, OPS) },
    'node:crypto aes-256-gcm, 1,200-byte body': { ops: OPS, run: nodeCryptoRoundTrip('aes-256-gcm', 1200, OPS) },
  });
  console.log('AEAD floor: seal + open of one packet body (µs, median of 9 interleaved rounds)');
  for (const [name, us] of Object.entries(floor)) console.log(`  ${name.padEnd(48)} ${us.toFixed(2)}`);

  const small = connectionPair(64, OPS);
  const large = connectionPair(1000, OPS);
  const packet = measure({
    'encode + encrypt, 64-byte message': { ops: OPS, run: small.encode },
    'decode + decrypt, 64-byte message': { ops: OPS, run: small.decode },
    'encode + encrypt, 1,000-byte message': { ops: OPS, run: large.encode },
    'decode + decrypt, 1,000-byte message': { ops: OPS, run: large.decode },
  });
  console.log('\nOne payload packet through a Connection (µs per packet, median):');
  for (const [name, us] of Object.entries(packet)) console.log(`  ${name.padEnd(36)} ${us.toFixed(2)}`);
  const sum64 = packet['encode + encrypt, 64-byte message']! + packet['decode + decrypt, 64-byte message']!;
  console.log(`  both, 64-byte message: ${sum64.toFixed(2)} µs = ${(sum64 / floor['libsodium chacha20-poly1305, 64-byte body']!).toFixed(2)}× the bare AEAD`);

  const CLIENTS = 500;
  const TICKS = 20;
  const loop = gameLoop(CLIENTS, TICKS);
  const serverTimes: number[] = [];
  const wholeTimes: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    loop.serverOnly();
    serverTimes.push((loop.serverMs() * 1000) / (CLIENTS * TICKS));
    const start = process.hrtime.bigint();
    loop.whole();
    wholeTimes.push(Number(process.hrtime.bigint() - start) / 1000 / (CLIENTS * TICKS));
  }
  const serverUs = median(serverTimes);
  const wholeUs = median(wholeTimes);
  console.log(`\n${CLIENTS} clients, 30 Hz, a 24-byte input up and a 160-byte snapshot down per client per tick, in memory:`);
  console.log(`  client → server → client round trip, both ends: ${wholeUs.toFixed(2)} µs per player per tick`);
  console.log(`  the server's share (receive, decrypt, deliver, encode, encrypt, send): ${serverUs.toFixed(2)} µs per player per tick`);
  console.log(`  = ${Math.floor(1e6 / (30 * serverUs))} players at 30 Hz on one core for the netcode alone (${(serverUs / floor['libsodium chacha20-poly1305, 64-byte body']!).toFixed(2)}× the AEAD floor)`);
}

main();
