import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { PortUnavailableError } from '../../core/errors.js';
import type { GameServerStatusPort } from '../../core/game-server.js';
import type { GameServerPort, PortProtocol } from '../../core/resources.js';

// Host ports for game servers, as Agones' port allocator hands them out per node. One machine is
// one node here, so every Dynamic and Passthrough port comes from one shared range, and a Static
// port may be held by one game server at a time. Other programs on the machine may hold ports in
// the range too, so each candidate is probed by binding it before it is handed out.

export interface PortRange {
  min: number;
  max: number;
}

export interface PortAssignment {
  /** The spec's ports with hostPort (and, for Passthrough, containerPort) filled in. */
  ports: GameServerPort[];
  /** The ports as the GameServer status lists them (TCPUDP becomes `<name>-tcp` and `<name>-udp`). */
  statusPorts: GameServerStatusPort[];
  /** Host ports held for this game server; give them back with `release`. */
  held: number[];
}

export type PortProbe = (port: number, protocol: PortProtocol, host: string) => Promise<boolean>;

export interface PortAllocatorOptions {
  range: PortRange;
  host: string;
  /** Checks that a port can really be bound; injectable so tests can simulate foreign holders. */
  probe?: PortProbe;
}

export class PortAllocator {
  private readonly held = new Set<number>();
  private cursor: number;
  private readonly probe: PortProbe;

  constructor(private readonly options: PortAllocatorOptions) {
    this.cursor = options.range.min;
    this.probe = options.probe ?? probePort;
  }

  get inUse(): number {
    return this.held.size;
  }

  isHeld(port: number): boolean {
    return this.held.has(port);
  }

  /** Assigns host ports to every port of a game server, all or none. */
  async assign(ports: readonly GameServerPort[]): Promise<PortAssignment> {
    const taken: number[] = [];
    try {
      const assigned: GameServerPort[] = [];
      for (const port of ports) {
        switch (port.portPolicy) {
          case 'Static': {
            const hostPort = port.hostPort!;
            if (this.held.has(hostPort)) throw new PortUnavailableError(`Static port ${hostPort} (${port.name}) is held by another game server`);
            // Held before probing, as a Dynamic port is: two servers of a fleet assigned at once both passed the check above.
            this.held.add(hostPort);
            taken.push(hostPort);
            if (!(await this.probe(hostPort, port.protocol, this.options.host))) {
              throw new PortUnavailableError(`Static port ${hostPort} (${port.name}) is in use by another program on ${this.options.host}`);
            }
            assigned.push({ ...port });
            break;
          }
          case 'Dynamic':
          case 'Passthrough': {
            const hostPort = await this.next(port.protocol);
            taken.push(hostPort);
            // Locally there is no address translation: the process binds the host port itself,
            // which is what Passthrough means on a cluster.
            assigned.push({ ...port, hostPort, containerPort: port.portPolicy === 'Passthrough' ? hostPort : port.containerPort });
            break;
          }
          case 'None':
            assigned.push({ ...port });
            break;
        }
      }
      return { ports: assigned, statusPorts: statusPorts(assigned), held: taken };
    } catch (err) {
      this.release(taken);
      throw err;
    }
  }

  release(ports: readonly number[]): void {
    for (const p of ports) this.held.delete(p);
  }

  private async next(protocol: PortProtocol): Promise<number> {
    const { min, max } = this.options.range;
    const size = max - min + 1;
    for (let tried = 0; tried < size; tried++) {
      const candidate = this.cursor;
      this.cursor = candidate >= max ? min : candidate + 1;
      if (this.held.has(candidate)) continue;
      // Hold it before probing so a concurrent assign cannot pick the same port meanwhile.
      this.held.add(candidate);
      if (await this.probe(candidate, protocol, this.options.host)) return candidate;
      this.held.delete(candidate);
    }
    throw new PortUnavailableError(`no free port in ${min}-${max} (${this.held.size} held by game servers, the rest by other programs)`);
  }
}

/** Status ports as Agones reports them: a TCPUDP port appears once per protocol. */
function statusPorts(ports: readonly GameServerPort[]): GameServerStatusPort[] {
  const out: GameServerStatusPort[] = [];
  for (const p of ports) {
    const port = p.portPolicy === 'None' ? p.containerPort : p.hostPort;
    if (port === undefined) continue;
    if (p.protocol === 'TCPUDP') out.push({ name: `${p.name}-tcp`, port }, { name: `${p.name}-udp`, port });
    else out.push({ name: p.name, port });
  }
  return out;
}

/** True when `port` can be bound on `host` for the protocol(s) given. */
export async function probePort(port: number, protocol: PortProtocol, host: string): Promise<boolean> {
  const udp = protocol === 'UDP' || protocol === 'TCPUDP';
  const tcp = protocol === 'TCP' || protocol === 'TCPUDP';
  return (!udp || (await probeUdp(port, host))) && (!tcp || (await probeTcp(port, host)));
}

function probeUdp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

function probeTcp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
