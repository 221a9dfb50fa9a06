import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

// Every metric name Hangar exports is declared here, next to its help text. Agones' names are kept
// where Agones has the metric, so dashboards written for Agones work against Hangar.

export { Registry } from 'prom-client';

/** A registry with Node's process metrics (memory, CPU, event loop lag) already registered. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Metrics of the local fleet controller and process runtime. */
export function createControllerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    gameServerStarts: new Counter({
      name: 'hangar_gameserver_process_starts_total',
      help: 'Game-server processes started by the local runtime, including restarts',
      labelNames: ['fleet_name'] as const,
      registers,
    }),
    gameServerExits: new Counter({
      name: 'hangar_gameserver_process_exits_total',
      help: 'Game-server process exits, by the state the server was in and whether Hangar asked for it',
      labelNames: ['fleet_name', 'state', 'expected'] as const,
      registers,
    }),
    gameServersUnhealthy: new Counter({
      name: 'hangar_gameservers_unhealthy_total',
      help: 'Game servers marked Unhealthy, by reason (health checks missed, process exited)',
      labelNames: ['fleet_name', 'reason'] as const,
      registers,
    }),
    gameServerStartDuration: new Histogram({
      name: 'hangar_gameserver_start_duration_seconds',
      help: 'Seconds from creating a game server to it reaching Ready',
      labelNames: ['fleet_name'] as const,
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    }),
    portsInUse: new Gauge({
      name: 'hangar_ports_in_use',
      help: 'Host ports held by game servers in the local port range',
      registers,
    }),
  };
}
export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
