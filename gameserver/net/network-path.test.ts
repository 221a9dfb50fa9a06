import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from '@jest/globals';
import { freeUdpPort } from '../../test/helpers/free-port.js';
import { FAULT_EXIT_CODE, FAULTY_NETWORK_WORKER, injectFault, type Fault } from '../../test/helpers/network-worker-faults.js';
import { ClientEndpoint, type ClientState } from '../protocol/client-endpoint.js';
import { mintConnectToken } from '../protocol/connect-token.js';
import type { Channel } from '../protocol/packet-codec.js';
import { HANGAR_PROTOCOL_ID } from '../protocol/protocol-constants.js';
import { InlineNetwork } from './inline-network.js';
import { numericLookup, type NetworkFailure, type NetworkHandlers, type NetworkPath, type NetworkPathOptions } from './network-path.js';
import { WORKER_FAILED_REASON, WorkerNetwork } from './worker-network.js';

describe('numericLookup', () => {
  it('answers a numeric address at once, as it is, with its family', () => {
    const answers: Array<[string, number]> = [];
    numericLookup('127.0.0.1', 4, (err, address, family) => {
      expect(err).toBeNull();
      answers.push([address, family]);
    });
    numericLookup('::1', 6, (_err, address, family) => answers.push([address, family]));
    // Again, answered from what the first call found.
    numericLookup('127.0.0.1', 4, (_err, address, family) => answers.push([address, family]));
    // Synchronously: no deferred callback, so a send goes out within the call.
    expect(answers).toEqual([
      ['127.0.0.1', 4],
      ['::1', 6],
      ['127.0.0.1', 4],
    ]);
  });

  it('leaves a host name to dns.lookup', async () => {
    const answer = await new Promise<[string, number]>((resolve, reject) => numericLookup('localhost', 4, (err, address, family) => (err ? reject(err) : resolve([address, family]))));
    expect(answer).toEqual(['127.0.0.1', 4]);
  });
});

// The two network paths, run through one scenario over real sockets, as the simulation drives them:
// deliver, then the game's replies, then flush, every tick. Whatever the simulation sees of its
// clients must not depend on which path carries them.

const KEY = Buffer.alloc(32, 0x6b);
const SERVER_ID = 'arena-paths';
/** The worker module as built (the workers run compiled JavaScript, as in production). */
const BUILT_WORKER = new URL('../../dist/gameserver/net/network-worker.js', import.meta.url);

const paths: Array<[string, (o: NetworkPathOptions) => NetworkPath, number]> = [
  ['inline', (o) => new InlineNetwork(o), 1],
  ['two-worker', (o) => new WorkerNetwork(o, BUILT_WORKER), 2],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => T | undefined | false): Promise<T> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const value = check();
    if (value) return value;
    await sleep(10);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A client over its own socket, updated every 10 ms. */
class UdpClient {
  readonly received: Array<[Channel, string]> = [];
  readonly states: ClientState[] = [];
  readonly endpoint: ClientEndpoint;
  private readonly socket: Socket = createSocket('udp4');
  private readonly timer: NodeJS.Timeout;

  constructor(playerId: string, address: string) {
    const token = mintConnectToken({ key: KEY, protocolId: HANGAR_PROTOCOL_ID, serverId: SERVER_ID, playerId, addresses: [address], expiresInSeconds: 30, userData: Buffer.from(`team of ${playerId}`) });
    this.endpoint = new ClientEndpoint({
      token,
      now: Date.now,
      send: (data, host, port) => this.socket.send(data, port, host),
      onMessage: (channel, payload) => this.received.push([channel, payload.toString()]),
      onStateChange: (state) => this.states.push(state),
    });
    this.socket.on('message', (data) => this.endpoint.receive(data));
    this.endpoint.connect();
    this.timer = setInterval(() => this.endpoint.update(), 10);
  }

  close(): void {
    clearInterval(this.timer);
    this.socket.close();
  }
}

describe.each(paths)('the %s network path', (_name, make, portCount) => {
  it('connects and refuses clients, hands their messages over at a tick, sends the replies, and disconnects either way', async () => {
    const ports = [await freeUdpPort(), await freeUdpPort()].slice(0, portCount);
    const network = make({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports });
    const connects: Array<[string, string]> = [];
    const messages: Array<[string, Channel, string]> = [];
    const disconnects: Array<[string, string]> = [];
    const players = new Map<number, string>();
    const failures: NetworkFailure[] = [];
    await network.start({
      onConnect: (client, playerId, userData) => {
        connects.push([playerId, userData.toString()]);
        if (playerId === 'refused') return false;
        players.set(client, playerId);
        return true;
      },
      onMessage: (client, channel, payload) => {
        messages.push([players.get(client)!, channel, payload.toString()]);
        network.send(client, channel, Buffer.from(`echo ${payload.toString()}`));
      },
      onDisconnect: (client, reason) => disconnects.push([players.get(client) ?? `#${client}`, reason]),
      onNetworkFailed: (failure) => failures.push(failure),
    });
    const ticker = setInterval(() => {
      network.deliver();
      network.flush();
    }, 10);
    const address = (i: number) => `127.0.0.1:${ports[i % ports.length]}`;
    const clients = [new UdpClient('alice', address(0)), new UdpClient('bob', address(1)), new UdpClient('refused', address(0))];
    const [alice, bob, refused] = clients as [UdpClient, UdpClient, UdpClient];
    try {
      await until('two players in', () => players.size === 2 && alice.endpoint.state === 'connected' && bob.endpoint.state === 'connected');
      await until('the refused client told', () => refused.endpoint.state === 'disconnected');
      expect(connects.sort()).toEqual([
        ['alice', 'team of alice'],
        ['bob', 'team of bob'],
        ['refused', 'team of refused'],
      ]);
      expect(new Set(players.keys()).size).toBe(2);

      for (const c of [alice, bob]) {
        c.endpoint.send('reliable', Buffer.from('r1'));
        c.endpoint.send('reliable', Buffer.from('r2'));
        c.endpoint.send('unreliable', Buffer.from('u1'));
      }
      await until('the echoes', () => alice.received.length >= 3 && bob.received.length >= 3);
      for (const [c, name] of [
        [alice, 'alice'],
        [bob, 'bob'],
      ] as const) {
        expect(messages.filter(([p]) => p === name)).toEqual([
          [name, 'reliable', 'r1'],
          [name, 'reliable', 'r2'],
          [name, 'unreliable', 'u1'],
        ]);
        expect(c.received).toEqual([
          ['reliable', 'echo r1'],
          ['reliable', 'echo r2'],
          ['unreliable', 'echo u1'],
        ]);
      }
      expect(network.connectionCount).toBe(2);
      // Both players' round-trip times reach the counters (a worker's on the drain after it is asked).
      const rtts: number[] = [];
      await until('both round-trip times', () => (rtts.push(...network.drainCounters().rttMs), rtts.length >= 2));
      for (const ms of rtts) expect(ms).toBeGreaterThan(0);

      alice.endpoint.disconnect();
      network.disconnect([...players].find(([, p]) => p === 'bob')![0]);
      await until('both gone', () => disconnects.length === 3 && bob.endpoint.state === 'disconnected');
      // The refused client's connection closed as it opened (it never became a player).
      expect(disconnects.sort()).toEqual([
        [expect.stringMatching(/^#\d+$/), 'server-disconnected'],
        ['alice', 'client-disconnected'],
        ['bob', 'server-disconnected'],
      ]);
      expect(network.connectionCount).toBe(0);
    } finally {
      clearInterval(ticker);
      for (const c of clients) c.close();
      await network.close();
    }
    // Workers that close when told have not failed.
    expect(failures).toEqual([]);
  });

  it("gives a departed player's seat to the next one once the simulation has heard of the departure", async () => {
    const ports = [await freeUdpPort()];
    const network = make({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 1, bindAddress: '127.0.0.1', ports });
    const players = new Map<number, string>();
    const departed: string[] = [];
    await network.start({
      onConnect: (client, playerId) => (players.set(client, playerId), true),
      onMessage: () => undefined,
      onDisconnect: (client) => (departed.push(players.get(client)!), players.delete(client)),
      onNetworkFailed: () => undefined,
    });
    const ticker = setInterval(() => {
      network.deliver();
      network.flush();
    }, 10);
    const clients: UdpClient[] = [];
    try {
      const alice = new UdpClient('alice', `127.0.0.1:${ports[0]}`);
      clients.push(alice);
      await until('alice in', () => alice.endpoint.state === 'connected');
      alice.endpoint.disconnect();
      await until('alice gone', () => departed.length === 1);
      const bob = new UdpClient('bob', `127.0.0.1:${ports[0]}`);
      clients.push(bob);
      await until('bob in, in the one seat', () => bob.endpoint.state === 'connected' || bob.endpoint.state === 'denied');
      expect(bob.endpoint.state).toBe('connected');
      expect([...players.values()]).toEqual(['bob']);
    } finally {
      clearInterval(ticker);
      for (const c of clients) c.close();
      await network.close();
    }
  });
});

// A network worker that stops after start-up (the real worker, with a door for tests to make it
// fail: test/helpers/network-worker-faults.ts): the simulation is told once, which worker and why;
// that worker's clients are disconnected from it; the other worker's clients carry on.

/** What each fault that stops a worker (a stall only delays it) is reported as: the error's message, and its cause's (what the worker threw). */
const FAULTS: Record<Exclude<Fault, 'stall'>, { message: RegExp; cause?: string }> = {
  throw: { message: /^network worker 1 \(UDP port \d+\) threw an uncaught exception$/, cause: 'injected fault in the network worker on port' },
  exit: { message: new RegExp(`^network worker 1 \\(UDP port \\d+\\) exited with code ${FAULT_EXIT_CODE}$`) },
  allocate: { message: /^network worker 1 \(UDP port \d+\) threw an uncaught exception$/, cause: 'Array buffer allocation failed' },
  hang: { message: /^network worker 1 \(UDP port \d+\) hung: it took none of the last \d+ ticks in \d+\.\d s, and was terminated$/ },
};
/** How long a worker may take no tick here before it counts as hung (production: DEFAULT_HANG_MS). */
const HANG_MS = 300;

describe('a network worker that fails after start-up', () => {
  it.each(Object.keys(FAULTS) as Array<keyof typeof FAULTS>)('(%s) is reported once, its clients are disconnected, and the other worker carries on', async (fault) => {
    const ports = [await freeUdpPort(), await freeUdpPort()];
    const network = new WorkerNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports }, FAULTY_NETWORK_WORKER, HANG_MS);
    const players = new Map<number, string>();
    /** What the simulation was told, in order. */
    const told: string[] = [];
    const failures: NetworkFailure[] = [];
    await network.start({
      onConnect: (client, playerId) => (players.set(client, playerId), true),
      onMessage: (client, channel, payload) => {
        told.push(`${players.get(client)}: ${payload.toString()}`);
        network.send(client, channel, Buffer.from(`echo ${payload.toString()}`));
      },
      onDisconnect: (client, reason) => {
        told.push(`${players.get(client)} left: ${reason}`);
        players.delete(client);
      },
      onNetworkFailed: (failure) => failures.push(failure),
    });
    let ticking = true;
    const ticker = setInterval(() => {
      if (!ticking) return;
      network.deliver();
      network.flush();
    }, 10);
    const alice = new UdpClient('alice', `127.0.0.1:${ports[0]}`);
    const bob = new UdpClient('bob', `127.0.0.1:${ports[1]}`);
    const carol = new UdpClient('carol', `127.0.0.1:${ports[1]}`);
    const clients = [alice, bob, carol];
    try {
      await until('three players in', () => players.size === 3 && clients.every((c) => c.endpoint.state === 'connected'));
      // Carol's last words reach her worker but wait in its ring (no tick takes them) when it fails:
      // the simulation still gets them, before she is disconnected.
      ticking = false;
      carol.endpoint.send('reliable', Buffer.from('last words'));
      await sleep(200);
      injectFault(ports[1]!, fault);
      // A hang is noticed by the ticks it does not take: they go on (and deliver her words, which
      // the hung worker wrote before it hung).
      if (fault === 'hang') ticking = true;
      await until('the failure', () => failures.length > 0);
      expect(failures).toEqual([{ worker: 1, port: ports[1], clientsDropped: 2, error: expect.objectContaining({ code: 'NETWORK_WORKER_FAILED', message: expect.stringMatching(FAULTS[fault].message) }) }]);
      // What the worker threw is kept whole, stack and all, as the cause.
      const cause = FAULTS[fault].cause;
      expect(failures[0]!.error.cause).toEqual(cause === undefined ? undefined : expect.objectContaining({ message: expect.stringContaining(cause), stack: expect.any(String) }));
      expect(told).toEqual(['carol: last words', expect.stringMatching(/^(bob|carol) left/), expect.stringMatching(/^(bob|carol) left/)]);
      expect(told.slice(1).sort()).toEqual([`bob left: ${WORKER_FAILED_REASON}`, `carol left: ${WORKER_FAILED_REASON}`]);
      expect([...players.values()]).toEqual(['alice']);
      ticking = true;
      expect(network.connectionCount).toBe(1);

      // Alice's worker goes on: her messages arrive and their replies go out.
      alice.endpoint.send('reliable', Buffer.from('still here'));
      await until('alice answered', () => alice.received.length === 1);
      expect(alice.received).toEqual([['reliable', 'echo still here']]);
      expect(alice.endpoint.state).toBe('connected');
      // A reply for the dead worker's port goes nowhere, and nothing is reported twice.
      network.send((1 << 16) | 0, 'reliable', Buffer.from('to nobody'));
      await sleep(100);
      expect(failures).toHaveLength(1);
    } finally {
      clearInterval(ticker);
      for (const c of clients) c.close();
      await network.close();
    }
  });

  it('does not take a pause of the whole process (no ticks posted, the worker stopped too) for a hang', async () => {
    const ports = [await freeUdpPort()];
    const network = new WorkerNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports }, FAULTY_NETWORK_WORKER, HANG_MS);
    const failures: NetworkFailure[] = [];
    await network.start({ onConnect: () => true, onMessage: () => undefined, onDisconnect: () => undefined, onNetworkFailed: (f) => failures.push(f) });
    const ticks = async (n: number) => {
      for (let i = 0; i < n; i++) {
        network.deliver();
        network.flush();
        await sleep(10);
      }
    };
    try {
      await ticks(20);
      // As a stopped process (SIGSTOP, a paused VM) resumes: the worker stopped with a tick not
      // taken, the simulation posted nothing for longer than HANG_MS, and its first ticks after
      // come while the worker has not yet run again.
      injectFault(ports[0]!, 'stall', 3 * HANG_MS + 300);
      await sleep(50);
      await ticks(1);
      await sleep(3 * HANG_MS);
      await ticks(40);
      expect(failures).toEqual([]);
    } finally {
      await network.close();
    }
  });

  it('catches up after a stall by dropping the snapshots later ticks supersede, not by sending every one late', async () => {
    const ports = [await freeUdpPort()];
    const network = new WorkerNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports }, FAULTY_NETWORK_WORKER);
    let client: number | undefined;
    await network.start({ onConnect: (c) => ((client = c), true), onMessage: () => undefined, onDisconnect: () => undefined, onNetworkFailed: () => undefined });
    // Each tick sends a snapshot (unreliable); every tenth an event (reliable).
    let tick = 0;
    const ticker = setInterval(() => {
      network.deliver();
      if (client !== undefined) {
        tick++;
        network.send(client, 'unreliable', Buffer.from(`s${tick}`));
        if (tick % 10 === 0) network.send(client, 'reliable', Buffer.from(`e${tick}`));
      }
      network.flush();
    }, 10);
    const alice = new UdpClient('alice', `127.0.0.1:${ports[0]}`);
    try {
      await until('alice receiving', () => alice.received.length > 5);
      const [seen, stalledFrom] = [alice.received.length, tick];
      injectFault(ports[0]!, 'stall', 600);
      await sleep(1200);
      const after = alice.received.slice(seen).map(([, m]) => m);
      const snapshotsOfStall = after.filter((m) => m.startsWith('s') && Number(m.slice(1)) > stalledFrom + 5 && Number(m.slice(1)) < stalledFrom + 50);
      // Some 60 ticks were posted while the worker stood still: their snapshots are not all sent late.
      expect(snapshotsOfStall.length).toBeLessThan(10);
      // Every event arrives, in order.
      const events = after.filter((m) => m.startsWith('e')).map((m) => Number(m.slice(1)));
      expect(events).toEqual([...events].sort((a, b) => a - b));
      expect(events.length).toBeGreaterThan(5);
      expect(new Set(events).size).toBe(events.length);
      expect(alice.endpoint.state).toBe('connected');
    } finally {
      clearInterval(ticker);
      alice.close();
      await network.close();
    }
  });

  it('closes even with a hung worker, which never answers its close', async () => {
    const ports = [await freeUdpPort()];
    const network = new WorkerNetwork({ protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports }, FAULTY_NETWORK_WORKER);
    const failures: NetworkFailure[] = [];
    await network.start({ onConnect: () => true, onMessage: () => undefined, onDisconnect: () => undefined, onNetworkFailed: (f) => failures.push(f) });
    injectFault(ports[0]!, 'hang');
    await sleep(100);
    await network.close();
    // Closing, its end is expected: no failure is reported.
    expect(failures).toEqual([]);
  });

  it('fails the start, not hangs it, when a worker stops before it listens', async () => {
    const options: NetworkPathOptions = { protocolId: HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: 8, bindAddress: '127.0.0.1', ports: [await freeUdpPort()] };
    const handlers: NetworkHandlers = { onConnect: () => true, onMessage: () => undefined, onDisconnect: () => undefined, onNetworkFailed: () => undefined };
    const exits = new WorkerNetwork(options, new URL('data:text/javascript,process.exit(3)'));
    await expect(exits.start(handlers)).rejects.toMatchObject({ code: 'NETWORK_WORKER_FAILED', message: `network worker 0 (UDP port ${options.ports[0]}) exited with code 3 before listening` });
    const throws = new WorkerNetwork(options, new URL('data:text/javascript,throw new Error("no socket for you")'));
    await expect(throws.start(handlers)).rejects.toMatchObject({ code: 'NETWORK_WORKER_FAILED', message: `network worker 0 (UDP port ${options.ports[0]}) failed while starting: no socket for you` });
  });
});
