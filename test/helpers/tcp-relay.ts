import { createConnection, createServer, type Server, type Socket } from 'node:net';

// A TCP relay between a client and a real server that a test can make swallow everything: while
// `swallowing`, it goes on accepting connections and reading their bytes, but forwards nothing
// either way, as a partition that drops packets silently does (no reset, no error, just silence).
// It can also cut the connections open (a dropped connection) and hold new ones unconnected until
// released (the client cannot get back in yet), or close new ones at once (the server restarting).

export class TcpRelay {
  /** While true, bytes are read and dropped in both directions, on the connections open and on those accepted meanwhile. */
  swallowing = false;
  /** While true, new connections are closed as soon as they are accepted. */
  refusing = false;
  /** Connections the relay was asked for, held ones included. */
  accepted = 0;
  private readonly pairs = new Set<[Socket, Socket]>();
  private readonly held: Socket[] = [];
  private holding = false;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpRelay> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const relay = new TcpRelay(server, (server.address() as { port: number }).port, { host: targetHost, port: targetPort });
    server.on('connection', (client) => {
      relay.accepted++;
      if (relay.refusing) client.destroy();
      else if (relay.holding) relay.held.push(client);
      else relay.relay(client);
    });
    return relay;
  }

  /** Drops every connection open now, as a restart of the network between them would. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
  }

  /** New connections wait, accepted but not connected through, until `release`. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const client of this.held.splice(0)) this.relay(client);
  }

  async close(): Promise<void> {
    this.cut();
    for (const client of this.held.splice(0)) client.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private relay(client: Socket): void {
    const target = createConnection(this.target);
    const pair: [Socket, Socket] = [client, target];
    this.pairs.add(pair);
    const end = () => {
      this.pairs.delete(pair);
      client.destroy();
      target.destroy();
    };
    for (const s of pair) {
      s.on('error', end);
      s.on('close', end);
    }
    client.on('data', (data: Buffer) => void (this.swallowing || target.write(data)));
    target.on('data', (data: Buffer) => void (this.swallowing || client.write(data)));
  }
}
