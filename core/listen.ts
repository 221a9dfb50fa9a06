import { createServer, type Server } from 'node:net';
import { ListenError } from './errors.js';

/** Opens `server` on host:port; a failure is a ListenError naming `what` the port is for (e.g. "the lobby (lobby.port)"). */
export function listenOn(server: Server, host: string, port: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ListenError(what, host, port, err));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Fails with the first port of `ports` that cannot be opened now, before a service starts anything
 * slow or stateful it would have to undo; each is opened and closed at once (port 0: skipped). A
 * port taken between this and the real listen still fails there, only later.
 */
export async function checkPortsFree(ports: ReadonlyArray<{ host: string; port: number; what: string }>): Promise<void> {
  for (const { host, port, what } of ports) {
    if (port === 0) continue;
    const probe = createServer();
    await listenOn(probe, host, port, what);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
}
