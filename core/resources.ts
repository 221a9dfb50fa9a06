// The Agones resource shapes Hangar works with, after Agones' defaults are applied.
// Field names are Agones' JSON names, so a resource read from fleet YAML can be written back to
// Kubernetes unchanged. fleets/schema.ts parses YAML into these types; nothing else constructs them
// from raw input.

export const AGONES_API_VERSION = 'agones.dev/v1';
export const AUTOSCALING_API_VERSION = 'autoscaling.agones.dev/v1';

export type PortPolicy = 'Dynamic' | 'Static' | 'Passthrough' | 'None';
export type PortProtocol = 'UDP' | 'TCP' | 'TCPUDP';
export type SchedulingStrategy = 'Packed' | 'Distributed';

export interface ObjectMetaInput {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface GameServerPort {
  name: string;
  portPolicy: PortPolicy;
  protocol: PortProtocol;
  /** Name of the container the port belongs to (defaults to the game-server container). */
  container?: string;
  /** Port inside the container; Passthrough sets it to the allocated host port. */
  containerPort?: number;
  /** Required for Static, assigned by the port allocator for Dynamic and Passthrough. */
  hostPort?: number;
  range?: string;
}

export interface HealthSpec {
  disabled: boolean;
  initialDelaySeconds: number;
  periodSeconds: number;
  failureThreshold: number;
}

export interface SdkServerSpec {
  logLevel: 'Error' | 'Info' | 'Debug' | 'Trace';
  grpcPort: number;
  httpPort: number;
}

export interface CounterStatus {
  count: number;
  capacity: number;
}

export interface ListStatus {
  capacity: number;
  values: string[];
}

export interface EnvVar {
  name: string;
  value?: string;
  /** Kubernetes-only sources (fieldRef, secretKeyRef...): kept for the cluster, ignored locally. */
  valueFrom?: Record<string, unknown>;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  /** Every other Kubernetes Container field (resources, ports, probes...), kept as written. */
  [field: string]: unknown;
}

export interface PodTemplateSpec {
  metadata?: ObjectMetaInput;
  spec: {
    containers: Container[];
    /** Every other Kubernetes PodSpec field, kept as written. */
    [field: string]: unknown;
  };
}

export interface GameServerSpec {
  /** The game-server container's name; defaults to the only container when there is one. */
  container: string;
  ports: GameServerPort[];
  health: HealthSpec;
  scheduling: SchedulingStrategy;
  sdkServer: SdkServerSpec;
  players?: { initialCapacity: number };
  counters: Record<string, CounterStatus>;
  lists: Record<string, ListStatus>;
  eviction: { safe: 'Always' | 'OnUpgrade' | 'Never' };
  template: PodTemplateSpec;
}

export interface GameServerTemplate {
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
  spec: GameServerSpec;
}

export interface GameServerResource {
  apiVersion: typeof AGONES_API_VERSION;
  kind: 'GameServer';
  metadata: Required<Pick<ObjectMetaInput, 'labels' | 'annotations'>> & ObjectMetaInput;
  spec: GameServerSpec;
}

export type IntOrPercent = number | `${number}%`;

export interface FleetPriority {
  type: 'Counter' | 'List';
  key: string;
  order: 'Ascending' | 'Descending';
}

export interface FleetSpec {
  replicas: number;
  scheduling: SchedulingStrategy;
  strategy:
    | { type: 'RollingUpdate'; rollingUpdate: { maxSurge: IntOrPercent; maxUnavailable: IntOrPercent } }
    | { type: 'Recreate' };
  allocationOverflow?: { labels: Record<string, string>; annotations: Record<string, string> };
  priorities: FleetPriority[];
  template: GameServerTemplate;
}

export interface FleetResource {
  apiVersion: typeof AGONES_API_VERSION;
  kind: 'Fleet';
  metadata: Required<Pick<ObjectMetaInput, 'name' | 'labels' | 'annotations'>> & ObjectMetaInput;
  spec: FleetSpec;
}

export interface BufferPolicy {
  bufferSize: IntOrPercent;
  minReplicas: number;
  maxReplicas: number;
}

export interface CounterOrListPolicy {
  key: string;
  bufferSize: IntOrPercent;
  minCapacity: number;
  maxCapacity: number;
}

export interface WebhookPolicy {
  url?: string;
  service?: { namespace: string; name: string; path?: string; port?: number };
  caBundle?: string;
}

export interface WasmPolicy {
  function: string;
  config?: Record<string, string>;
  from: { url: WebhookPolicy };
  hash?: string;
}

export interface SchedulePolicy {
  between?: { start?: string; end?: string };
  activePeriod?: { timezone?: string; startCron?: string; duration?: string };
  policy: AutoscalerPolicy;
}

export type AutoscalerPolicy =
  | { type: 'Buffer'; buffer: BufferPolicy }
  | { type: 'Webhook'; webhook: WebhookPolicy }
  | { type: 'Counter'; counter: CounterOrListPolicy }
  | { type: 'List'; list: CounterOrListPolicy }
  | { type: 'Wasm'; wasm: WasmPolicy }
  | { type: 'Schedule'; schedule: SchedulePolicy }
  | { type: 'Chain'; chain: Array<AutoscalerPolicy & { id: string }> };

export interface FleetAutoscalerResource {
  apiVersion: typeof AUTOSCALING_API_VERSION;
  kind: 'FleetAutoscaler';
  metadata: Required<Pick<ObjectMetaInput, 'name' | 'labels' | 'annotations'>> & ObjectMetaInput;
  spec: {
    fleetName: string;
    policy: AutoscalerPolicy;
    sync: { type: 'FixedInterval'; fixedInterval: { seconds: number } };
  };
}

export type AgonesResource = GameServerResource | FleetResource | FleetAutoscalerResource;

/** A fleet's Counter or List totals, as Agones aggregates them over the fleet's game servers. */
export interface AggregatedCapacity {
  /** Sum over every game server (for a List: the number of values). */
  count: number;
  capacity: number;
  /** The same sums over Allocated game servers only. */
  allocatedCount: number;
  allocatedCapacity: number;
}

/** Fleet status fields, named as Agones names them. */
export interface FleetStatus {
  /** Game servers of the fleet that count toward replicas (all but Shutdown, Unhealthy and Error). */
  replicas: number;
  readyReplicas: number;
  reservedReplicas: number;
  allocatedReplicas: number;
  /** Player tracking totals; null when no game server tracks players. */
  players: { count: number; capacity: number } | null;
  counters: Record<string, AggregatedCapacity>;
  lists: Record<string, AggregatedCapacity>;
}

export interface FleetAutoscalerStatus {
  currentReplicas: number;
  desiredReplicas: number;
  /** RFC 3339; null until the autoscaler first changed the fleet. */
  lastScaleTime: string | null;
  ableToScale: boolean;
  scalingLimited: boolean;
  /** For Chain policies: the id of the entry that decided; otherwise the policy type. */
  lastAppliedPolicy: string;
}
