import { createSocket, type Socket } from 'node:dgram';
import { numericLookup, SOCKET_BUFFER_BYTES } from '../gameserver/net/network-path.js';

// The bare node:dgram echo the game server is compared with (bench/arena-load.ts runs both sides,
// each pinned to its own core):
//   node dist/bench/udp-echo.js server PORT
//       echoes every datagram to its sender, with the game server's socket buffers and its numeric
//       address lookup (node:dgram's default defers every send to a later tick): the cheapest
//       datagram node:dgram can turn around, so the ratio to it is the protocol's and game's cost.
//   node dist/bench/udp-echo.js load PORT RATE SECONDS [SOCKETS=200] [BYTES=64]
//       SOCKETS connected client sockets send BYTES-byte datagrams, RATE a second in all, round
//       robin, for SECONDS; prints {"type":"started"} when it starts sending and, 300 ms after it
//       stops, {"type":"done","sent":…,"received":…,"seconds":…}.

const [mode, portText, rateText, secondsText, socketsText, bytesText] = process.argv.slice(2);
const port = Number(portText);

if (mode === 'server') {
  const s = createSocket({ type: 'udp4', recvBufferSize: SOCKET_BUFFER_BYTES, sendBufferSize: SOCKET_BUFFER_BYTES, lookup: numericLookup });
  s.on('message', (msg, from) => s.send(msg, from.port, from.address));
  s.bind(port, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ type: 'listening', pid: process.pid })}\n`));
} else if (mode === 'load') {
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  const count = Number(socketsText ?? 200);
  const payload = Buffer.alloc(Number(bytesText ?? 64), 7);
  let received = 0;
  const sockets: Socket[] = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve) => {
          const s = createSocket('udp4');
          s.on('message', () => void received++);
          s.on('error', () => undefined);
          s.bind(0, '127.0.0.1', () => s.connect(port, '127.0.0.1', () => resolve(s)));
        }),
    ),
  );
  process.stdout.write(`${JSON.stringify({ type: 'started' })}\n`);
  const t0 = performance.now();
  let sent = 0;
  let next = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = (performance.now() - t0) / 1000;
      const due = Math.floor(Math.min(elapsed, seconds) * rate);
      for (; sent < due; sent++) {
        sockets[next]!.send(payload);
        next = (next + 1) % count;
      }
      if (elapsed >= seconds) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  const sendSeconds = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 300));
  process.stdout.write(`${JSON.stringify({ type: 'done', sent, received, seconds: sendSeconds })}\n`);
  for (const s of sockets) s.close();
} else {
  throw new Error('usage: udp-echo.js server PORT | load PORT RATE SECONDS [SOCKETS] [BYTES]');
}
