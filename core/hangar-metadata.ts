// Labels and annotations Hangar's parts read and write on GameServers, in one place. The allocator
// writes the match's on allocation; the game server reads them through the Agones SDK. Designers
// set the behaviour ones in the fleet's template metadata.

/** Annotation: the match this server was allocated for. */
export const MATCH_ID_ANNOTATION = 'hangar.dev/match-id';
/** Annotation: the player ids expected to connect, comma-separated. */
export const EXPECTED_PLAYERS_ANNOTATION = 'hangar.dev/expected-players';
/**
 * The key the game server writes its match result under (JSON) with the SDK's SetAnnotation; the
 * SDK stores it as the annotation MATCH_RESULT_ANNOTATION.
 */
export const MATCH_RESULT_SDK_KEY = 'match-result';
export const MATCH_RESULT_ANNOTATION = `agones.dev/sdk-${MATCH_RESULT_SDK_KEY}`;
/** Label: "true" when a server goes back to Ready after a match instead of shutting down. */
export const REUSABLE_LABEL = 'hangar.dev/reusable';
/** Label: what an Allocated server does when no expected player arrives in time: "ready" or "shutdown" (default). */
export const NO_SHOW_ACTION_LABEL = 'hangar.dev/no-show';

/**
 * Label: the name of the port players are sent to (the lobby's `matched` event, their connect
 * tokens); `default` when unset. Hangar's game server binds that port (GAME_PORT_NAME) and one
 * `<name>-1`, `<name>-2`... per further network worker. See core/player-ports.ts.
 */
export const GAME_PORT_LABEL = 'hangar.dev/game-port';
export const DEFAULT_GAME_PORT = 'default';

/** Name of the List (beta Counters and Lists) holding the connected players' ids. */
export const PLAYERS_LIST = 'players';

/**
 * "Ready means ready": a game server that acknowledges allocations sets this SDK label ("true") when
 * it starts, and on every allocation it observes writes the allocation's `agones.dev/last-allocated`
 * time under the SDK annotation key below. The allocator answers only once it sees that echo (or
 * after a bound), so a player's first packet never reaches a server that does not yet know it is
 * allocated. The SDK prefixes both keys with `agones.dev/sdk-`.
 */
export const ACKS_ALLOCATION_SDK_LABEL = 'acks-allocation';
export const ALLOCATION_OBSERVED_SDK_KEY = 'allocation-observed';
export const ACKS_ALLOCATION_LABEL = `agones.dev/sdk-${ACKS_ALLOCATION_SDK_LABEL}`;
export const ALLOCATION_OBSERVED_ANNOTATION = `agones.dev/sdk-${ALLOCATION_OBSERVED_SDK_KEY}`;
/**
 * Annotation: a random id the Agones backend gives each GameServerAllocation, so that a server
 * allocated by one whose answer was lost (a timeout, a 5xx, a cut connection) can be found and
 * released: nobody was told of it.
 */
export const ALLOCATION_ID_ANNOTATION = 'hangar.dev/allocation-id';
/** Agones stamps every allocation with its time (RFC 3339) under this annotation. */
export const LAST_ALLOCATED_ANNOTATION = 'agones.dev/last-allocated';
/**
 * A game server that acknowledges allocations also reports the first player of each allocation:
 * it writes the allocation's time under this SDK annotation key. The allocator's claim watchdog
 * reads it (for other servers it falls back to the players List or alpha player tracking).
 */
export const CLAIMED_SDK_KEY = 'claimed';
export const CLAIMED_ANNOTATION = `agones.dev/sdk-${CLAIMED_SDK_KEY}`;
/** Label: seconds an allocation may wait for its first player before the watchdog releases it. */
export const CLAIM_TIMEOUT_LABEL = 'hangar.dev/claim-timeout';

/** CLAIM_TIMEOUT_LABEL's seconds, or undefined for a value that is not a number above 0. */
export function claimTimeoutSeconds(value: string | undefined): number | undefined {
  const seconds = Number(value);
  return value !== undefined && Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/**
 * What is wrong with the behaviour labels an allocation puts on its server: the watchdog would
 * read a bad value as unset (the default timeout, shutdown), and nobody would be told.
 */
export function behaviourLabelProblems(labels: Record<string, string>, path: string): string[] {
  const out: string[] = [];
  const timeout = labels[CLAIM_TIMEOUT_LABEL];
  if (timeout !== undefined && claimTimeoutSeconds(timeout) === undefined) out.push(`${path}[${CLAIM_TIMEOUT_LABEL}]: a number of seconds above 0, got ${JSON.stringify(timeout)}`);
  const noShow = labels[NO_SHOW_ACTION_LABEL];
  if (noShow !== undefined && noShow !== 'ready' && noShow !== 'shutdown') out.push(`${path}[${NO_SHOW_ACTION_LABEL}]: "ready" or "shutdown", got ${JSON.stringify(noShow)}`);
  return out;
}
