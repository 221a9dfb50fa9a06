import type { Server } from 'node:net';
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
