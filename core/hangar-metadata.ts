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

/** Name of the List (beta Counters and Lists) holding the connected players' ids. */
export const PLAYERS_LIST = 'players';
