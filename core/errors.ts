// Every error Hangar raises on purpose carries a stable code. The codes are listed in
// docs/errors.md; core/errors.test.ts fails when the two disagree.

export const ErrorCode = {
  CONFIG_INVALID: 'CONFIG_INVALID',
  RESOURCE_INVALID: 'RESOURCE_INVALID',
  GS_ILLEGAL_TRANSITION: 'GS_ILLEGAL_TRANSITION',
  GS_NOT_FOUND: 'GS_NOT_FOUND',
  FLEET_NOT_FOUND: 'FLEET_NOT_FOUND',
  RESOURCE_OWNED_BY_FILE: 'RESOURCE_OWNED_BY_FILE',
  VERSION_CONFLICT: 'VERSION_CONFLICT',
  PORT_UNAVAILABLE: 'PORT_UNAVAILABLE',
  MAX_SERVERS_REACHED: 'MAX_SERVERS_REACHED',
  PROCESS_START_FAILED: 'PROCESS_START_FAILED',
  STACK_UNREACHABLE: 'STACK_UNREACHABLE',
  USAGE: 'USAGE',
  SDK_UNREACHABLE: 'SDK_UNREACHABLE',
  SDK_SERVES_ANOTHER: 'SDK_SERVES_ANOTHER',
  ALLOCATOR_UNAVAILABLE: 'ALLOCATOR_UNAVAILABLE',
  AUTOSCALER_POLICY_FAILED: 'AUTOSCALER_POLICY_FAILED',
  AUTOSCALER_WEBHOOK_FAILED: 'AUTOSCALER_WEBHOOK_FAILED',
  PROTOCOL_MALFORMED_PACKET: 'PROTOCOL_MALFORMED_PACKET',
  CONNECT_TOKEN_INVALID: 'CONNECT_TOKEN_INVALID',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RELIABLE_WINDOW_FULL: 'RELIABLE_WINDOW_FULL',
  DB_UNREACHABLE: 'DB_UNREACHABLE',
  DB_AUTH_FAILED: 'DB_AUTH_FAILED',
  DB_CONNECT_FAILED: 'DB_CONNECT_FAILED',
  DB_MIGRATION_FAILED: 'DB_MIGRATION_FAILED',
  DB_MIGRATION_CHANGED: 'DB_MIGRATION_CHANGED',
  KUBE_FORBIDDEN: 'KUBE_FORBIDDEN',
  KUBE_UNAVAILABLE: 'KUBE_UNAVAILABLE',
  KUBE_REQUEST_FAILED: 'KUBE_REQUEST_FAILED',
  ALLOCATION_INVALID: 'ALLOCATION_INVALID',
  PLAYER_UNAUTHENTICATED: 'PLAYER_UNAUTHENTICATED',
  GUEST_LOGIN_DISABLED: 'GUEST_LOGIN_DISABLED',
  LOBBY_REQUEST_INVALID: 'LOBBY_REQUEST_INVALID',
  LOBBY_REQUEST_TOO_LARGE: 'LOBBY_REQUEST_TOO_LARGE',
  LOBBY_RATE_LIMITED: 'LOBBY_RATE_LIMITED',
  PARTY_PASS_INVALID: 'PARTY_PASS_INVALID',
  QUEUE_NOT_FOUND: 'QUEUE_NOT_FOUND',
  TICKET_REJECTED: 'TICKET_REJECTED',
  TICKET_NOT_FOUND: 'TICKET_NOT_FOUND',
  TICKET_NOT_OWNER: 'TICKET_NOT_OWNER',
  TICKET_ALREADY_MATCHED: 'TICKET_ALREADY_MATCHED',
  MATCH_NOT_FOUND: 'MATCH_NOT_FOUND',
  MATCH_ACCEPT_CLOSED: 'MATCH_ACCEPT_CLOSED',
  MATCHMAKER_DRAINING: 'MATCHMAKER_DRAINING',
  MATCHMAKING_RULES_INVALID: 'MATCHMAKING_RULES_INVALID',
  TICKET_EXISTS: 'TICKET_EXISTS',
  LISTEN_FAILED: 'LISTEN_FAILED',
  REDIS_UNAVAILABLE: 'REDIS_UNAVAILABLE',
  STACK_DRAINING: 'STACK_DRAINING',
  STACK_ALREADY_RUNNING: 'STACK_ALREADY_RUNNING',
  NETWORK_WORKER_FAILED: 'NETWORK_WORKER_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A config file or environment override that does not fit the schema; `problems` lists each one. */
export class ConfigError extends AppError {
  constructor(
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(ErrorCode.CONFIG_INVALID, `invalid configuration:\n  ${problems.join('\n  ')}`, options);
  }
}

/** A Fleet, GameServer or FleetAutoscaler document that failed validation. */
export class ResourceInvalidError extends AppError {
  constructor(
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(ErrorCode.RESOURCE_INVALID, problems.join('\n'), options);
  }
}

export class IllegalTransitionError extends AppError {
  constructor(
    readonly gameServer: string,
    readonly from: string,
    readonly to: string,
  ) {
    super(ErrorCode.GS_ILLEGAL_TRANSITION, `game server ${gameServer} cannot move from ${from} to ${to}`);
  }
}

export class GameServerNotFoundError extends AppError {
  constructor(readonly gameServer: string) {
    super(ErrorCode.GS_NOT_FOUND, `game server ${gameServer} not found`);
  }
}

export class FleetNotFoundError extends AppError {
  constructor(readonly fleet: string) {
    super(ErrorCode.FLEET_NOT_FOUND, `fleet ${fleet} not found`);
  }
}

/** A delete or an apply of what a fleets-directory file holds: the file's next read would undo it. */
export class ResourceOwnedByFileError extends AppError {
  constructor(kind: string, name: string, file: string, change: 'delete' | 'apply' = 'delete') {
    const remedy = change === 'delete' ? 'which would bring it back: remove it from that file instead' : 'whose next read would undo this apply: edit that file instead, nothing was applied';
    super(ErrorCode.RESOURCE_OWNED_BY_FILE, `${kind} ${name} comes from ${file}, ${remedy} (the stack applies the edit at once)`);
  }
}

export class VersionConflictError extends AppError {
  constructor(name: string, expected: string, actual: string) {
    super(ErrorCode.VERSION_CONFLICT, `${name} was modified: expected resourceVersion ${expected}, found ${actual}`);
  }
}

export class PortUnavailableError extends AppError {
  constructor(message: string) {
    super(ErrorCode.PORT_UNAVAILABLE, message);
  }
}

export class ProcessStartError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.PROCESS_START_FAILED, message, options);
  }
}

export class StackUnreachableError extends AppError {
  /**
   * Nothing answered at `url`, or (`silentForMs`) the stack took the request but did not answer in
   * that long, or (`notHangar`, what answered) something other than Hangar's API answers there.
   * `localLog`: where a stack on this machine logs, in the state directory `hangar up` uses here.
   */
  constructor(url: string, options?: ErrorOptions & { silentForMs?: number; notHangar?: string; localLog?: string }) {
    // Only a stack on this machine is one that `hangar up` here runs and logs to its state directory.
    const local = ['localhost', '127.0.0.1', '[::1]'].includes(new URL(url).hostname);
    const log = options?.localLog ?? 'hangar.log in the state directory of its hangar up';
    const why =
      options?.silentForMs !== undefined
        ? `it took the request but did not answer within ${options.silentForMs / 1000} s: busy or stuck${local ? ` (its log is ${log})` : ''}`
        : options?.notHangar !== undefined
          ? `what answers there is not Hangar's API (${options.notHangar}): check the URL (--api or HANGAR_API_URL)`
          : local
            ? 'is `hangar up` (npm start in the clone) running?'
            : 'nothing answered: is the stack running there, and reachable from here?';
    super(ErrorCode.STACK_UNREACHABLE, `cannot reach the Hangar stack at ${url}: ${why}`, options);
  }
}

/** A change to fleets sent to a local stack whose drain has stopped its controllers. */
export class StackDrainingError extends AppError {
  constructor(since: string) {
    super(
      ErrorCode.STACK_DRAINING,
      `the stack has been draining since ${since} (POST /admin/drain): its controllers have stopped, so nothing would act on a change to fleets, and nothing was changed; restart it (hangar up) to manage fleets again`,
    );
  }
}

export class UsageError extends AppError {
  constructor(message: string) {
    super(ErrorCode.USAGE, message);
  }
}

/** A FleetAutoscaler policy that cannot size its fleet (a Counter or List the fleet lacks, no capacity to add, Wasm). */
export class AutoscalerPolicyError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.AUTOSCALER_POLICY_FAILED, message, options);
  }
}

/** A Webhook policy whose endpoint could not be reached, or answered with something Hangar cannot use. */
export class AutoscalerWebhookError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message, options);
  }
}

/** The Agones SDK server did not give this game server its GameServer in time. */
export class SdkUnreachableError extends AppError {
  constructor(
    readonly port: string,
    readonly waitedMs: number,
    options?: ErrorOptions,
  ) {
    const last = options?.cause instanceof Error ? ` (last error: ${options.cause.message})` : '';
    super(
      ErrorCode.SDK_UNREACHABLE,
      `no GameServer from the Agones SDK server on localhost:${port} (AGONES_SDK_GRPC_PORT, default 9357) within ${waitedMs} ms${last}: ` +
        `is the SDK server (the Agones sidecar, or Hangar's local one) running?`,
      options,
    );
  }
}

/** What answers on the game server's SDK port serves another GameServer: its own SDK server is gone for good. */
export class SdkServesAnotherError extends AppError {
  constructor(port: string, own: { name: string; uid: string }, other: { name: string; uid: string }) {
    super(
      ErrorCode.SDK_SERVES_ANOTHER,
      `the Agones SDK server on localhost:${port} serves game server ${other.name} (uid ${other.uid}), not this one, ${own.name} (uid ${own.uid}): ` +
        `this server's own SDK server is gone (locally: the hangar up that ran it stopped or was killed) and another took its port`,
    );
  }
}

/** The Kubernetes API server refused a request for lack of RBAC permission (403). */
export class KubernetesForbiddenError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.KUBE_FORBIDDEN, message, options);
  }
}

/** The Kubernetes API server (or Agones behind it) could not be reached, timed out, or failed (5xx, 429). */
export class KubernetesUnavailableError extends AppError {
  constructor(
    message: string,
    options?: ErrorOptions,
    /** Set for a 429 (Too Many Requests): the API server turned the request away unprocessed, and it may be sent again after this long. */
    readonly retryAfterMs?: number,
  ) {
    super(ErrorCode.KUBE_UNAVAILABLE, message, options);
  }
}

/** A Kubernetes request Hangar cannot make, or that the API server rejected (4xx other than 403 and 409), or an answer Hangar cannot read. */
export class KubernetesRequestError extends AppError {
  constructor(
    readonly status: number | undefined,
    message: string,
    options?: ErrorOptions,
  ) {
    super(ErrorCode.KUBE_REQUEST_FAILED, message, options);
  }
}

/** A GameServerAllocation request that failed validation; `problems` names each field path and what is wrong. */
export class AllocationInvalidError extends AppError {
  constructor(readonly problems: readonly string[]) {
    super(ErrorCode.ALLOCATION_INVALID, `invalid GameServerAllocation:\n  ${problems.join('\n  ')}`);
  }
}

/** config/matchmaking.yaml failed validation; `problems` lists each as `file:line:col: field.path: message`. */
export class MatchmakingRulesInvalidError extends AppError {
  constructor(readonly problems: readonly string[]) {
    super(ErrorCode.MATCHMAKING_RULES_INVALID, `invalid matchmaking rules:\n  ${problems.join('\n  ')}`);
  }
}

/**
 * A ticket queue refuses a ticket whose player already has a ticket waiting or being matched, in
 * any queue. Code TICKET_REJECTED: the lobby reports it to the player like its own rule checks.
 */
export class PlayerAlreadyQueuedError extends AppError {
  constructor(
    readonly playerId: string,
    readonly ticketId: string,
  ) {
    super(ErrorCode.TICKET_REJECTED, `player ${playerId} already has ticket ${ticketId} waiting or being matched`);
  }
}

/** A ticket queue already holds a ticket with this id (ids must be unique; a retried add must not double-queue). */
export class TicketExistsError extends AppError {
  constructor(readonly ticketId: string) {
    super(ErrorCode.TICKET_EXISTS, `ticket ${ticketId} is already in a queue`);
  }
}

/** `hangar up` found another local stack running from the same state directory. */
export class StackAlreadyRunningError extends AppError {
  constructor(stateDir: string, owner: number) {
    super(
      ErrorCode.STACK_ALREADY_RUNNING,
      `a local stack already runs from ${stateDir} (process ${owner}): stop it first (Ctrl-C where it runs, or kill ${owner}), or give this one another local.state_dir`,
    );
  }
}

/** A server could not open its port; names the port, what it was for, and why. */
export class ListenError extends AppError {
  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException) {
    const why =
      cause.code === 'EADDRINUSE'
        ? 'another program is using it'
        : cause.code === 'EACCES'
          ? 'permission denied (ports below 1024 need privileges)'
          : cause.code === 'EADDRNOTAVAIL'
            ? 'this machine has no such address'
            : cause.message;
    super(ErrorCode.LISTEN_FAILED, `cannot listen on ${host}:${port} for ${what}: ${why}`, { cause });
  }
}

/** Redis could not be reached for a command; here, not beside the Redis client, so that code which only maps errors (every admin port, game servers' too) does not load ioredis. */
export class RedisUnavailableError extends AppError {
  constructor(why: string, cause: Error) {
    super(ErrorCode.REDIS_UNAVAILABLE, `Redis is unreachable: ${why}`, { cause });
  }
}

/**
 * The coded error for a command that failed because Redis could not be reached (ioredis gave up
 * reconnecting for it, or the connection closed under it); undefined for any other error.
 */
/** ioredis' message for a command that outlived its `commandTimeout`. */
export const REDIS_COMMAND_TIMED_OUT = 'Command timed out';

export function asRedisUnavailable(err: unknown): RedisUnavailableError | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err.name === 'MaxRetriesPerRequestError') return new RedisUnavailableError('the command was not sent: reconnecting failed (the log says why)', err);
  if (err.message === 'Connection is closed.') return new RedisUnavailableError('the connection closed', err);
  if (err.message === REDIS_COMMAND_TIMED_OUT) return new RedisUnavailableError('no reply within matchmaker.redis_command_timeout_seconds (the connection is being remade)', err);
  return undefined;
}
