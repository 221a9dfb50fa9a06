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
    // Agones' own controller metrics, same names and labels.
    gameServersCount: new Gauge({
      name: 'agones_gameservers_count',
      help: 'The number of gameservers per fleet and state',
      labelNames: ['fleet_name', 'type'] as const,
      registers,
    }),
    gameServersTotal: new Counter({
      name: 'agones_gameservers_total',
      help: 'The total of gameservers per fleet and state (each entry into a state counts once)',
      labelNames: ['fleet_name', 'type'] as const,
      registers,
    }),
    fleetReplicas: new Gauge({
      name: 'agones_fleets_replicas_count',
      help: 'The number of replicas per fleet, by type: total, desired, ready, reserved, allocated',
      labelNames: ['name', 'type'] as const,
      registers,
    }),
    gameServerStateDuration: new Histogram({
      name: 'agones_gameserver_state_duration',
      help: 'The time, in seconds, a gameserver spent in a state before leaving it',
      labelNames: ['fleet_name', 'state'] as const,
      buckets: [0, 1, 2, 3, 4, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 7200],
      registers,
    }),
    fleetRollouts: new Counter({
      name: 'hangar_fleet_rollouts_total',
      help: 'Template changes rolled out, by fleet and strategy',
      labelNames: ['name', 'strategy'] as const,
      registers,
    }),
  };
}
export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;

/** Agones' FleetAutoscaler metrics, same names and labels. */
export function createAutoscalerMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['name', 'fleet_name'] as const;
  return {
    ableToScale: new Gauge({ name: 'agones_fleet_autoscalers_able_to_scale', help: 'The fleet autoscaler can access the fleet to scale', labelNames, registers }),
    bufferLimits: new Gauge({
      name: 'agones_fleet_autoscalers_buffer_limits',
      help: 'The limits of buffer based fleet autoscalers',
      labelNames: ['name', 'fleet_name', 'type'] as const,
      registers,
    }),
    bufferSize: new Gauge({
      name: 'agones_fleet_autoscalers_buffer_size',
      help: 'The buffer size of fleet autoscalers',
      labelNames: ['name', 'fleet_name', 'type'] as const,
      registers,
    }),
    currentReplicas: new Gauge({ name: 'agones_fleet_autoscalers_current_replicas_count', help: 'The current replicas count as seen by autoscalers', labelNames, registers }),
    desiredReplicas: new Gauge({ name: 'agones_fleet_autoscalers_desired_replicas_count', help: 'The desired replicas count as seen by autoscalers', labelNames, registers }),
    limited: new Gauge({ name: 'agones_fleet_autoscalers_limited', help: 'The fleet autoscaler is outside the limits set by MinReplicas and MaxReplicas', labelNames, registers }),
  };
}
export type AutoscalerMetrics = ReturnType<typeof createAutoscalerMetrics>;
