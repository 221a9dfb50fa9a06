import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Clock } from '../core/clock.js';
import { GameServerState as S, type GameServer, type GameServerState } from '../core/game-server.js';
import type { Logger } from '../core/logger.js';
import { FLEET_LABEL, type GameServerStore } from '../store/game-server-store.js';

// A Prometheus file_sd target file listing every running game server's own metrics endpoint:
// the GameServer port named `metrics` (or `metrics-tcp` for a TCPUDP port), at the server's
// address. Prometheus re-reads the file when it changes (monitoring/prometheus.yml points at it).
// Written whole to a temporary file and renamed, so Prometheus never reads half a file.

export const METRICS_PORT_NAMES = ['metrics', 'metrics-tcp'];

/** States in which the game-server process is running and can be scraped. */
const SCRAPABLE: readonly GameServerState[] = [S.Scheduled, S.RequestReady, S.Ready, S.Reserved, S.Allocated];

export interface FileSdGroup {
  targets: string[];
  labels: Record<string, string>;
}

export function fileSdGroups(servers: readonly GameServer[]): FileSdGroup[] {
  const groups: FileSdGroup[] = [];
  for (const gs of [...servers].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
    if (!SCRAPABLE.includes(gs.status.state)) continue;
    const port = gs.status.ports.find((p) => METRICS_PORT_NAMES.includes(p.name));
    if (!port || !gs.status.address) continue;
    groups.push({
      targets: [`${gs.status.address}:${port.port}`],
      labels: { gameserver: gs.metadata.name, namespace: gs.metadata.namespace, fleet: gs.metadata.labels[FLEET_LABEL] ?? '' },
    });
  }
  return groups;
}

export interface PrometheusTargetsOptions {
  store: GameServerStore;
  file: string;
  clock: Clock;
  log: Logger;
  /** Coalesces bursts of state changes into one write. */
  settleMs?: number;
}

/** Keeps `file` current until the returned function is called. */
export function writePrometheusTargets(options: PrometheusTargetsOptions): () => void {
  const { store, file, clock, log } = options;
  mkdirSync(path.dirname(file), { recursive: true });
  let last = '';
  let cancel: (() => void) | undefined;
  const write = async () => {
    const text = `${JSON.stringify(fileSdGroups(await store.list()), null, 2)}\n`;
    if (text === last) return;
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
    last = text;
  };
  const schedule = () => {
    cancel?.();
    cancel = clock.setTimeout(() => void write().catch((err: unknown) => log.warn({ err, file }, 'could not write Prometheus targets')), options.settleMs ?? 200);
  };
  void write().catch((err: unknown) => log.warn({ err, file }, 'could not write Prometheus targets'));
  const unwatch = store.watch(schedule);
  return () => {
    unwatch();
    cancel?.();
  };
}
