import { ErrorCode } from '../../core/errors.js';
import type { GameServerPort } from '../../core/resources.js';
import type { PortRange } from './port-allocator.js';

// How many game servers fit on this machine: the one place the scale, fleet-file and autoscaler
// checks ask. Two bounds hold, over every game server the local stack runs (all fleets' and the
// standalone GameServers'): host ports (local.port_range, each Dynamic and Passthrough port takes
// one) and processes (local.max_servers, each server takes memory); and a fleet with a Static port
// runs one server (the next would fail for its port, be replaced, and fail again). The smallest
// wins, and its reason names what raises it. Asked for more, the stack would spend itself
// creating servers: 100,000 waiting for ports took it past 2 GiB, and 1000 running ones would
// take ~58 GB. What does not add servers always passes: a stack already past a bound (a bound
// lowered since, or servers that came before) must be able to shrink.

export interface ServerBounds {
  portRange: PortRange;
  /** The most game-server processes the stack runs, fleets and standalone GameServers together. */
  maxServers: number;
}

/** What game servers take of the bounds. */
export interface ServerLoad {
  servers: number;
  hostPorts: number;
}

/** The game servers a local stack runs, as the bounds count them. */
export interface RunningServers {
  /** Each fleet's replicas as they are now (after any scale or autoscaler change) and its servers' ports. */
  fleets: ReadonlyMap<string, { replicas: number; ports: readonly GameServerPort[] }>;
  /** The standalone GameServers (no fleet's), by name, with their ports. */
  standalone: ReadonlyMap<string, readonly GameServerPort[]>;
}

export const NOTHING_RUNS: RunningServers = { fleets: new Map(), standalone: new Map() };

/** What `replicas` servers with `ports` take. */
export function loadOf(replicas: number, ports: readonly GameServerPort[]): ServerLoad {
  return { servers: replicas, hostPorts: replicas * hostPortsEach(ports) };
}

export function addLoads(...loads: ServerLoad[]): ServerLoad {
  return loads.reduce((sum, l) => ({ servers: sum.servers + l.servers, hostPorts: sum.hostPorts + l.hostPorts }), { servers: 0, hostPorts: 0 });
}

/** What every running game server takes but the servers of the fleets `fleets` and the standalone ones named `gameServers`. */
export function loadBesides(running: RunningServers, fleets: Iterable<string> = [], gameServers: Iterable<string> = []): ServerLoad {
  const skipFleets = new Set(fleets);
  const skipServers = new Set(gameServers);
  return addLoads(
    ...[...running.fleets].filter(([name]) => !skipFleets.has(name)).map(([, f]) => loadOf(f.replicas, f.ports)),
    ...[...running.standalone].filter(([name]) => !skipServers.has(name)).map(([, ports]) => loadOf(1, ports)),
  );
}

/** Whether `load` passes either bound. */
export function pastBounds(load: ServerLoad, bounds: ServerBounds): boolean {
  return load.servers > bounds.maxServers || load.hostPorts > portRangeSize(bounds.portRange);
}

/** The most servers with `ports` that can run beside `others`, and why that many. */
export function serversThatFit(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others: ServerLoad): { fit: number; reason: string; code: ErrorCode } {
  const { portRange: range, maxServers } = bounds;
  const fitByMemory = Math.max(0, maxServers - others.servers);
  const each = hostPortsEach(ports);
  const size = portRangeSize(range);
  const fitByPorts = each === 0 ? Infinity : Math.floor(Math.max(0, size - others.hostPorts) / each);
  // Kubernetes puts each server with a Static port on its own node; one machine has each port once.
  const fixed = ports.find((p) => p.portPolicy === 'Static');
  if (fixed && Math.min(fitByPorts, fitByMemory) > 1) {
    return {
      fit: 1,
      code: ErrorCode.PORT_UNAVAILABLE,
      reason: `${servers(replicas)} would all bind Static host port ${fixed.hostPort} (port ${fixed.name}), which one machine has once: at most 1 can run here (use portPolicy Passthrough or Dynamic for more; on Kubernetes each runs on a node of its own)`,
    };
  }
  if (fitByPorts <= fitByMemory) {
    const beside = others.hostPorts > 0 ? ` beside the ${others.hostPorts} that other game servers hold` : '';
    return {
      fit: fitByPorts,
      code: ErrorCode.PORT_UNAVAILABLE,
      reason: `${servers(replicas)} take ${replicas * each} host ports (${each} each, its Dynamic and Passthrough ports)${beside}, and local.port_range ${range.min}-${range.max} holds ${size}: at most ${fitByPorts} can run here (widen local.port_range for more)`,
    };
  }
  const beside = others.servers > 0 ? ` beside the ${others.servers} other game servers (fleets' and standalone)` : '';
  return {
    fit: fitByMemory,
    code: ErrorCode.MAX_SERVERS_REACHED,
    reason: `${servers(replicas)}${beside} pass local.max_servers ${maxServers}, the most game-server processes this stack runs for its machine's memory: at most ${fitByMemory} can run here (raise local.max_servers for more, if the memory is there)`,
  };
}

/**
 * Why going from `current` to `replicas` servers with `ports` beside `others` would take the stack
 * past its bounds, or undefined when it would not, or when it adds no server (`replicas` <= `current`).
 */
export function replicasPastBounds(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others: ServerLoad, current = 0): string | undefined {
  if (replicas <= current) return undefined;
  const { fit, reason } = serversThatFit(replicas, ports, bounds, others);
  return replicas <= fit ? undefined : reason;
}

/**
 * Where an autoscaler asking for `replicas` (from `current`) stops, and why, when it is past the
 * bounds: at what fits, or at `current` when even that is more (a stack past its bounds is not
 * shrunk for them, only kept from growing).
 */
export function boundsCeiling(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others: ServerLoad, current = 0): { replicas: number; reason: string; code: ErrorCode } | undefined {
  if (replicas <= current) return undefined;
  const { fit, reason, code } = serversThatFit(replicas, ports, bounds, others);
  return replicas <= fit ? undefined : { replicas: Math.max(fit, current), reason, code };
}

function hostPortsEach(ports: readonly GameServerPort[]): number {
  return ports.filter((p) => p.portPolicy === 'Dynamic' || p.portPolicy === 'Passthrough').length;
}

function portRangeSize(range: PortRange): number {
  return range.max - range.min + 1;
}

function servers(n: number): string {
  return n === 1 ? '1 server' : `${n} servers`;
}
