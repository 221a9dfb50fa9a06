import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CountingHistogram } from './counting-histogram.js';

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

/** A game server's own metrics, with the deployment guide's names where it has them. */
export function createGameServerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    playerCount: new Gauge({ name: 'game_server_player_count', help: 'Players connected to this game server', registers }),
    connectionCount: new Gauge({ name: 'game_server_connection_count', help: 'Connected players: connections past the handshake (a pending client holds no state, PROTOCOL.md §6)', registers }),
    errors: new Counter({ name: 'game_server_errors_total', help: 'Errors by type', labelNames: ['error_type'] as const, registers }),
    memoryUsage: new Gauge({ name: 'game_server_memory_usage_bytes', help: 'Resident memory of the game-server process', registers }),
    memoryLimit: new Gauge({ name: 'game_server_memory_limit_bytes', help: 'Memory limit of the container (cgroup), or of the machine', registers }),
    tickDuration: new Histogram({
      name: 'game_server_tick_duration_seconds',
      help: 'Work done in one simulation tick',
      buckets: [0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.066, 0.1],
      registers,
    }),
    tickPhaseDuration: new Histogram({
      name: 'game_server_tick_phase_duration_seconds',
      help: 'Work done in each phase of a simulation tick (the phases add up to the tick duration)',
      labelNames: ['phase'] as const,
      buckets: [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.066],
      registers,
    }),
    tickLateness: new Histogram({
      name: 'game_server_tick_lateness_seconds',
      help: 'How late each tick started against its fixed schedule',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.033],
      registers,
    }),
    tickOverruns: new Counter({ name: 'game_server_tick_overruns_total', help: 'Ticks whose work took longer than the tick period', registers }),
    ticksSkipped: new Counter({ name: 'game_server_ticks_skipped_total', help: 'Ticks dropped after a stall longer than the catch-up cap', registers }),
    packetsIn: new Counter({ name: 'game_server_packets_received_total', help: 'Datagrams received, by packet type', labelNames: ['type'] as const, registers }),
    packetsOut: new Counter({ name: 'game_server_packets_sent_total', help: 'Datagrams sent, by packet type', labelNames: ['type'] as const, registers }),
    bytesIn: new Counter({ name: 'game_server_bytes_received_total', help: 'Bytes received, by packet type', labelNames: ['type'] as const, registers }),
    bytesOut: new Counter({ name: 'game_server_bytes_sent_total', help: 'Bytes sent, by packet type', labelNames: ['type'] as const, registers }),
    playerRtt: new Histogram({
      name: 'game_server_player_rtt_seconds',
      help: "Each connected player's round-trip time, sampled once a second (from acks, less the time the peer held each packet)",
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1],
      registers,
    }),
    packetsRejected: new Counter({ name: 'game_server_packets_rejected_total', help: 'Datagrams dropped, by reason', labelNames: ['reason'] as const, registers }),
  };
}
export type GameServerMetrics = ReturnType<typeof createGameServerMetrics>;

/**
 * The deployment guide's request and error metrics, which every service exports. The local stack
 * runs the allocator and the matchmaker in one process, so they share one pair per registry and
 * tell their requests and errors apart by label.
 */
const serviceMetricsByRegistry = new WeakMap<Registry, ReturnType<typeof declareServiceMetrics>>();

function declareServiceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    requestDuration: new CountingHistogram({
      name: 'game_server_request_duration_seconds',
      help: 'Time to serve a request, by request type',
      labelNames: ['type'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    errors: new Counter({ name: 'game_server_errors_total', help: 'Errors by type', labelNames: ['error_type'] as const, registers }),
  };
}

function serviceMetrics(registry: Registry) {
  let metrics = serviceMetricsByRegistry.get(registry);
  if (!metrics) serviceMetricsByRegistry.set(registry, (metrics = declareServiceMetrics(registry)));
  return metrics;
}

/** The allocator's metrics: Agones' allocation names, and the deployment guide's request and error names. */
export function createAllocatorMetrics(registry: Registry) {
  const registers = [registry];
  return {
    ...serviceMetrics(registry),
    allocationDuration: new CountingHistogram({
      name: 'agones_gameserver_allocations_duration_seconds',
      help: 'The distribution of game server allocation requests latencies, by outcome',
      labelNames: ['status'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    allocations: new Counter({
      name: 'agones_gameservers_allocations_total',
      help: 'Game server allocations, by outcome (Allocated, UnAllocated, Contention)',
      labelNames: ['status'] as const,
      registers,
    }),
    ackWait: new CountingHistogram({
      name: 'hangar_allocation_ack_wait_seconds',
      help: 'Time from allocating a server to the server acknowledging it (ready means ready)',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
      registers,
    }),
    ackTimeouts: new Counter({ name: 'hangar_allocation_ack_timeouts_total', help: 'Allocations answered before the server acknowledged them (the wait reached its bound)', registers }),
    unclaimed: new Counter({
      name: 'hangar_allocations_unclaimed_total',
      help: 'Allocated servers no player reached within the claim timeout, by what was done (ready, shutdown)',
      labelNames: ['action'] as const,
      registers,
    }),
    rateLimited: new Counter({ name: 'hangar_allocator_rate_limited_total', help: 'Requests refused with 429, by client', labelNames: ['client'] as const, registers }),
  };
}
export type AllocatorMetrics = ReturnType<typeof createAllocatorMetrics>;

/** The records writers (allocations; matches with their players' sessions), by table. */
export function createRecordsMetrics(registry: Registry) {
  const registers = [registry];
  return {
    written: new Counter({ name: 'hangar_records_written_total', help: 'Records written to the database, by table', labelNames: ['table'] as const, registers }),
    dropped: new Counter({
      name: 'hangar_records_dropped_total',
      help: 'Records never written, by table and reason (buffer_full: the database was down or slow; invalid: not serialisable; rejected: the database refused the row; duplicate: the id was already there; closed: recorded after close; shutdown: unwritten at close)',
      labelNames: ['table', 'reason'] as const,
      registers,
    }),
    flushDuration: new Histogram({
      name: 'hangar_records_flush_duration_seconds',
      help: 'Time to write one batch of records, by table and outcome (ok, error)',
      labelNames: ['table', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    buffered: new Gauge({ name: 'hangar_records_buffered', help: 'Records waiting to be written, by table (allocations: updated every flush interval)', labelNames: ['table'] as const, registers }),
  };
}
export type RecordsMetrics = ReturnType<typeof createRecordsMetrics>;

/**
 * Each check behind /health/ready (`redis`, `queue`, `store`, `gameserver-view`; a game server's
 * `listening`, `sdk`, `network`), advisory ones included, as 1 or 0 when scraped: an unready
 * service is dropped from its Service's endpoints, so only this tells an alert which dependency is down.
 */
export function registerReadinessMetric(registry: Registry, readiness: () => Promise<{ checks: Record<string, boolean> }>): void {
  new Gauge({
    name: 'hangar_readiness_check',
    help: 'Each readiness check of /health/ready, 1 passing and 0 failing (for example Redis unreachable), by check',
    labelNames: ['check'] as const,
    registers: [registry],
    async collect() {
      for (const [check, passing] of Object.entries((await readiness()).checks)) this.set({ check }, passing ? 1 : 0);
    },
  });
}

/** The matchmaker's metrics. */
export function createMatchmakerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    ticketsWaiting: new Gauge({ name: 'hangar_matchmaker_tickets_waiting', help: 'Tickets waiting to be matched, by queue', labelNames: ['queue'] as const, registers }),
    ticketsTotal: new Counter({ name: 'hangar_matchmaker_tickets_total', help: 'Tickets submitted, by queue', labelNames: ['queue'] as const, registers }),
    timeToMatch: new Histogram({
      name: 'hangar_matchmaker_time_to_match_seconds',
      help: 'From ticket submitted to match made (server allocated, tokens sent), by queue',
      labelNames: ['queue'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    matchesTotal: new Counter({ name: 'hangar_matchmaker_matches_total', help: 'Matches made, by queue', labelNames: ['queue'] as const, registers }),
    allocationFailures: new Counter({
      name: 'hangar_matchmaker_allocation_failures_total',
      help: 'Matches that could not get a game server, by queue and reason (no server Ready, allocator error)',
      labelNames: ['queue', 'reason'] as const,
      registers,
    }),
    ticketsExpired: new Counter({
      name: 'hangar_matchmaker_tickets_expired_total',
      help: 'Waiting tickets dropped, by queue and reason: ttl (past their time-to-live), absent (none of their players at the lobby for lobby.ticket_grace_seconds)',
      labelNames: ['queue', 'reason'] as const,
      registers,
    }),
    lobbyConnections: new Gauge({ name: 'game_server_connection_count', help: 'Open lobby WebSocket connections', registers }),
    lobbyErrors: serviceMetrics(registry).errors,
    requestDuration: serviceMetrics(registry).requestDuration,
  };
}
export type MatchmakerMetrics = ReturnType<typeof createMatchmakerMetrics>;
