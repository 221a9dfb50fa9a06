// What the allocator's WebSocket stream and its client (matchmaker/allocator-client.ts) agree on,
// in a module of its own so the matchmaker does not load the allocator's HTTP server to know them.

export const ALLOCATION_PATH = '/gameserverallocation';
export const STREAM_PATH = `${ALLOCATION_PATH}/stream`;

/** The largest stream message, in bytes. */
export const STREAM_FRAME_LIMIT_BYTES = 64 * 1024;

/**
 * Set to "1" on the stream's upgrade response by an allocator that takes a JSON list of
 * allocations in one message. A client sends lists only to such an allocator, so a matchmaker
 * upgraded before its allocator keeps working (an older allocator refuses a list with no id).
 */
export const STREAM_LISTS_HEADER = 'hangar-stream-lists';
