import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// The embedded PGlite on a thread of its own. PGlite is PostgreSQL compiled to WebAssembly and runs
// every query synchronously on the thread that holds it: on the local stack's thread, where the
// allocator, the matchmaker, the lobby and every SDK server live, one INSERT of a match's player
// sessions stopped them all for tens of milliseconds. Here it serves pglite-socket on 127.0.0.1 and
// the stack's pg pool talks to it like any PostgreSQL.

export interface PgliteThread {
  /** host:port of its socket server. */
  readonly conn: string;
  /** Stops the socket server, closes the database (its files are complete) and ends the thread. */
  close(): Promise<void>;
}

type FromThread = { type: 'listening'; conn: string } | { type: 'failed'; message: string } | { type: 'closed' };

// Plain JavaScript, evaluated in the worker, so it runs the same from sources (tests) and from dist.
// The packages' CommonJS builds are required by the paths the main thread resolved.
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglite);
const { PGLiteSocketServer } = require(workerData.socket);
let db;
let server;
const stop = async () => {
  await server?.stop().catch(() => undefined);
  await db?.close().catch(() => undefined);
};
parentPort.once('message', async () => {
  await stop();
  parentPort.postMessage({ type: 'closed' });
  parentPort.close();
});
(async () => {
  try {
    db = await PGlite.create(workerData.dataDir);
    // Port 0: an ephemeral port, so several stacks (and test workers) never collide.
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 1 });
    await server.start();
    parentPort.postMessage({ type: 'listening', conn: server.getServerConn() });
  } catch (err) {
    await stop();
    parentPort.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
    parentPort.close();
  }
})();
`;

/** Opens PGlite at `dataDir` ("memory://" for none) on a new thread; rejects with PGlite's own message. */
export function startPgliteThread(dataDir: string): Promise<PgliteThread> {
  const resolve = createRequire(import.meta.url).resolve;
  const worker = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { dataDir, pglite: resolve('@electric-sql/pglite'), socket: resolve('@electric-sql/pglite-socket') },
  });
  const exited = new Promise<void>((done) => worker.once('exit', () => done()));
  const close = async () => {
    worker.postMessage('close');
    await exited;
  };
  return new Promise<PgliteThread>((started, failed) => {
    worker.on('message', (msg: FromThread) => {
      if (msg.type === 'listening') started({ conn: msg.conn, close });
      else if (msg.type === 'failed') failed(new Error(msg.message));
    });
    worker.once('error', failed);
    void exited.then(() => failed(new Error('the PGlite thread ended before its database opened')));
  });
}
