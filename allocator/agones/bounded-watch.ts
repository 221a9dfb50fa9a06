import { STATUS_CODES } from 'node:http';
import { createInterface } from 'node:readline';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import fetch from 'node-fetch';
import type { Clock, Cancel } from '../../core/clock.js';

// client-node's Watch (watch.js) with deadlines, for ListWatch. Its own has none: it sets a 30 s
// abort signal and then overwrites it, and asks for no timeoutSeconds, so a watch whose response
// headers never come, or whose connection goes silent (a dead NAT entry, a half-open socket), keeps
// the informer waiting, and its view stale, for good. This one:
//   - asks the server to end the watch after a random 5–10 minutes (client-go's reflector does the
//     same, so watches spread their reconnects) and for bookmarks;
//   - ends the watch with an error if the headers have not come within `headersMs`, or if nothing
//     (event or bookmark) has come for the watch's timeoutSeconds plus `graceMs`: by then the server
//     would have ended it, so a connection still open is dead. The error goes to ListWatch's done
//     callback, whose owner restarts it after a back-off;
//   - ends the watch with that error when the server sends an ERROR event other than 410 Gone.
//     client-node's ignores those and re-watches as soon as the server ends the stream, with no
//     back-off, so a server that keeps failing watches would be asked again at once, forever.
// Otherwise it delivers what client-node's delivers: the same callback and done contract.

export interface WatchBounds {
  /** How long the response headers may take. */
  headersMs: number;
  /** Past the server-side timeout, how long a silent watch is still given. */
  graceMs: number;
  /** The timeoutSeconds each watch asks for; by default a random 300–600. */
  timeoutSeconds?: () => number;
  /** Called for each event or bookmark received (the watch is working). */
  received?: () => void;
}

/** A watch that ended because the API server stopped answering it; its message says what was missing. */
export class WatchStalled extends Error {
  override name = 'WatchStalled';
}

type WatchArgs = Parameters<Watch['watch']>;

export class BoundedWatch extends Watch {
  constructor(
    private readonly kubeConfig: KubeConfig,
    private readonly clock: Clock,
    private readonly bounds: WatchBounds,
  ) {
    super(kubeConfig);
  }

  override async watch(path: WatchArgs[0], queryParams: WatchArgs[1], callback: WatchArgs[2], done: WatchArgs[3]): Promise<AbortController> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('No currently active cluster');
    const timeoutSeconds = this.bounds.timeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 301);
    const url = new URL(cluster.server + path);
    url.searchParams.set('watch', 'true');
    for (const [key, value] of Object.entries(queryParams ?? {})) if (value !== undefined) url.searchParams.set(key, String(value));
    url.searchParams.set('timeoutSeconds', String(timeoutSeconds));
    url.searchParams.set('allowWatchBookmarks', 'true');

    const controller = new AbortController();
    let cancelDeadline: Cancel | undefined;
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      cancelDeadline?.();
      controller.abort();
      done(err);
    };
    const deadline = (ms: number, what: string): void => {
      cancelDeadline?.();
      cancelDeadline = this.clock.setTimeout(() => end(new WatchStalled(`watch ${path}: ${what} within ${ms} ms`)), ms);
    };
    const idleMs = timeoutSeconds * 1000 + this.bounds.graceMs;

    deadline(this.bounds.headersMs, 'no response headers');
    try {
      const init = await this.kubeConfig.applyToFetchOptions({});
      const response = await fetch(url, { ...init, method: 'GET', signal: controller.signal as never });
      if (response.status !== 200) {
        const error = new Error(response.statusText || STATUS_CODES[response.status] || 'Internal Server Error') as Error & { statusCode: number };
        error.statusCode = response.status;
        throw error;
      }
      deadline(idleMs, `nothing received (timeoutSeconds ${timeoutSeconds})`);
      const body = response.body;
      body.on('error', end);
      body.on('close', () => end(null));
      body.on('finish', () => end(null));
      const lines = createInterface(body);
      lines.on('error', end);
      lines.on('close', () => end(null));
      lines.on('line', (line) => {
        if (ended) return;
        deadline(idleMs, `nothing received (timeoutSeconds ${timeoutSeconds})`);
        let data: { type: string; object: { code?: unknown; message?: unknown } };
        try {
          data = JSON.parse(line);
        } catch {
          return; // as client-node: a line that is not JSON is skipped
        }
        const { type, object } = data;
        if (type === 'ERROR' && object.code !== 410) {
          const error = new Error(`watch ${path}: ERROR event: ${String(object.message)}`) as Error & { statusCode?: number };
          if (typeof object.code === 'number') error.statusCode = object.code;
          end(error);
          return;
        }
        if (type !== 'ERROR') this.bounds.received?.();
        callback(type, object, data);
      });
    } catch (err) {
      end(err);
    }
    return controller;
  }
}
