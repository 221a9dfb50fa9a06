import { createSocket, type RemoteInfo } from 'node:dgram';
import { pino } from 'pino';
import { AgonesSDK, type SdkGameServer } from '../../gameserver/agones-sdk.js';
import { bindAddressFor } from '../../gameserver/bind-address.js';

// A small game server that uses nothing but the Agones SDK, so it runs unchanged under Hangar's
// local stack and on a real Agones cluster. It binds the UDP port its GameServer status gives it,
// marks itself Ready, pings health at twice the required rate and exits when it is shut down.
//
// Datagrams it answers (text):
//   PING → PONG        STATE → the current GameServer state        anything else → ACK
// From a loopback address only (a development aid, never reachable from other machines):
//   READY, ALLOCATE, RESERVE <seconds>, SHUTDOWN   call the SDK
//   UNHEALTHY   stop health pings (the server goes Unhealthy after the failure threshold)
//   EXIT <code> exit the process at once

const log = pino({ base: { gs: process.env.HOSTNAME } }, pino.destination({ dest: 1, sync: true }));
const portName = process.env.GAME_PORT_NAME ?? 'default';

async function main(): Promise<void> {
  const sdk = new AgonesSDK();
  await sdk.connect();
  const gs = await sdk.getGameServer();
  const port = gs.status.portsList.find((p) => p.name === portName) ?? gs.status.portsList[0];
  if (!port) throw new Error(`GameServer ${gs.objectMeta.name} has no ports in its status`);

  let state = gs.status.state;
  let healthy = true;
  const socket = createSocket('udp4');
  const stop = (code: number) => {
    clearInterval(pings);
    socket.close();
    sdk.close();
    log.info({ code }, 'exiting');
    process.exit(code);
  };

  const periodMs = Math.max(gs.spec.health.periodSeconds, 1) * 1000;
  const pings = setInterval(() => healthy && sdk.health((err) => log.warn({ err: err.message }, 'health ping failed')), periodMs / 2);

  sdk.watchGameServer(
    (update: SdkGameServer) => {
      if (update.status.state === state) return;
      log.info({ from: state, to: update.status.state }, 'state changed');
      state = update.status.state;
      if (state === 'Shutdown') stop(0);
    },
    (err) => {
      // The SDK server is gone (its controller died): nobody can manage this server any more.
      log.error({ err: err.message }, 'lost the SDK server; exiting');
      stop(1);
    },
  );

  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    const [command = '', arg] = msg.toString('utf8').trim().split(/\s+/);
    const reply = (text: string) => socket.send(text, from.port, from.address);
    const local = from.address === '127.0.0.1';
    switch (command.toUpperCase()) {
      case 'PING':
        return reply('PONG');
      case 'STATE':
        return reply(state);
      case 'READY':
        if (local) return void sdk.ready().then(() => reply('OK'), (e: Error) => reply(`ERR ${e.message}`));
        break;
      case 'ALLOCATE':
        if (local) return void sdk.allocate().then(() => reply('OK'), (e: Error) => reply(`ERR ${e.message}`));
        break;
      case 'RESERVE':
        if (local) return void sdk.reserve(Number(arg ?? 0)).then(() => reply('OK'), (e: Error) => reply(`ERR ${e.message}`));
        break;
      case 'SHUTDOWN':
        if (local) return void sdk.shutdown().then(() => reply('OK'), (e: Error) => reply(`ERR ${e.message}`));
        break;
      case 'UNHEALTHY':
        if (local) {
          healthy = false;
          return reply('OK');
        }
        break;
      case 'EXIT':
        if (local) return stop(Number(arg ?? 1));
        break;
    }
    reply('ACK');
  });

  const address = bindAddressFor(gs.status.address);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port.port, address, () => resolve());
  });
  log.info({ address, port: port.port }, 'listening');
  await sdk.ready();
  process.once('SIGTERM', () => stop(0));
}

main().catch((err: unknown) => {
  log.error({ err }, 'simple game server failed');
  process.exit(1);
});
