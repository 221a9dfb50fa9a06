// Buffer imported, not the global: Node's global `Buffer` is an accessor, which optimized code
// reads with a call per use; an imported binding is a constant (sendOrDrop copies reliable messages).
import { Buffer } from 'node:buffer';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import type { Channel, GameNetwork } from '../arena/arena-game.js';
import type { CounterSnapshot, PacketCounters } from './packet-counters.js';
import { ReliableWindowFullError } from '../protocol/protocol-errors.js';
import type { ServerEndpoint } from '../protocol/server-endpoint.js';

// How the game server's simulation meets the network: clients connect, send messages and leave;
// the simulation queues messages during a tick and flushes them at its end. Two implementations:
// InlineNetwork runs the netcode on the simulation thread (one UDP port); WorkerNetwork runs it on
// worker threads, one UDP port each, so receiving, decrypting, encrypting and sending use more
// cores while the simulation stays on one thread and remains the only authority.

export interface NetworkHandlers {
  /** A client finished the handshake. Return false to refuse it: it is disconnected at once. */
  onConnect(client: number, playerId: string, userData: Buffer): boolean;
  onDisconnect(client: number, reason: string): void;
  /** `payload` is valid only during the call (the worker path lends a view of its event ring): copy what you keep. */
  onMessage(client: number, channel: Channel, payload: Buffer): void;
  /**
   * A network thread stopped after start-up (WorkerNetwork only), once per thread: its clients
   * have just been given to onDisconnect, and its port takes no more connections.
   */
  onNetworkFailed(failure: NetworkFailure): void;
}

export interface NetworkFailure {
  /** The thread's index, as NETWORK_WORKERS counts them from 0 (its port is ports[worker]). */
  worker: number;
  port: number;
  /** A NetworkWorkerError (code NETWORK_WORKER_FAILED), with the thread's own error as its cause when it threw. */
  error: Error;
  /** Clients disconnected with it (reason 'network-worker-failed'). */
  clientsDropped: number;
}

export interface NetworkPathOptions {
  protocolId: bigint;
  /** Shared with whoever mints connect tokens. */
  tokenKey: Buffer;
  /** This GameServer's name; tokens for any other server are refused. */
  serverId: string;
  /** Connections admitted at once, over all ports. */
  maxClients: number;
  bindAddress: string;
  /** One UDP port per network thread (InlineNetwork uses the first). */
  ports: number[];
  /** Connections each network thread warms its netcode with before listening (protocol/warm-up.ts); default none. */
  warmUpConnections?: number;
}

export interface NetworkPath extends GameNetwork {
  /** Binds the sockets; resolves once every one is listening. */
  start(handlers: NetworkHandlers): Promise<void>;
  /**
   * Calls the handlers for what the network took in since the last call; the tick loop calls it as
   * each tick starts. InlineNetwork calls them as it reads each datagram, and has nothing left here.
   */
  deliver(): void;
  /** Sends what this tick queued, with acks, resends and keep-alives; times out silent clients. */
  flush(): void;
  readonly connectionCount: number;
  /**
   * Datagrams read on this thread so far, for a path that reads its socket on the simulation's
   * thread (InlineNetwork): the tick loop sleeps between batches of them (TickLoopOptions.received).
   */
  readonly datagramsReceived?: number;
  /** Datagrams sent from this thread so far (InlineNetwork), for the tick loop's slow-tick log line. */
  readonly datagramsSent?: number;
  /** Counts since the last call, for the metrics. */
  drainCounters(): CounterSnapshot;
  close(): Promise<void>;
}

/** Socket buffers big enough that a burst between two event-loop turns is not dropped by the kernel. */
export const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/**
 * The game sockets' `lookup`: a numeric address (every address a server replies to came from a
 * datagram) is used as it is, at once; anything else goes to dns.lookup. node:dgram resolves the
 * destination of every `send` through `lookup`, and dns.lookup answers even a numeric address on
 * a later process.nextTick: per datagram a validation, a queued callback and a deferred send,
 * which a server sending one snapshot per player per tick pays thousands of times a tick.
 */
export function numericLookup(hostname: string, options: LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  let family = numericFamilies.get(hostname);
  if (family === undefined) {
    family = isIP(hostname);
    if (family !== 0) {
      if (numericFamilies.size >= NUMERIC_FAMILIES_MAX) numericFamilies.clear();
      numericFamilies.set(hostname, family);
    }
  }
  if (family !== 0) callback(null, hostname, family);
  else dnsLookup(hostname, options as LookupOneOptions, callback);
}

/**
 * Addresses numericLookup found numeric, with their family. net.isIP runs a regular expression,
 * about 490 instructions a call under callgrind (a tenth of node:dgram's whole send); a connection
 * sends to the one address string it keeps, whose hash V8 caches, so a Map finds it for about 215
 * (BENCHMARKS.md, helper-48). Cleared when full: the few handshake replies to unknown addresses
 * cannot grow it without bound, and it holds several times a server's connections before that.
 */
const numericFamilies = new Map<string, number>();
const NUMERIC_FAMILIES_MAX = 16_384;

/**
 * Queues `payload`. A reliable one is kept until acknowledged, so it is copied unless the caller
 * hands it over (the game reuses its buffers); the endpoint copies an unreliable one itself. A
 * client so far behind that its reliable window is full is disconnected rather than allowed to
 * grow the server's memory.
 */
export function sendOrDrop(endpoint: ServerEndpoint | undefined, counters: PacketCounters, client: number, channel: Channel, payload: Buffer, handedOver = false): void {
  if (!endpoint) return;
  try {
    endpoint.send(client, channel, handedOver || channel === 'unreliable' ? payload : Buffer.from(payload));
  } catch (err) {
    if (!(err instanceof ReliableWindowFullError)) throw err;
    counters.reject('reliable-window-full');
    endpoint.disconnect(client);
  }
}
