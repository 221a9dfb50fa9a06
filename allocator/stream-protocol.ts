// What the allocator's WebSocket stream and its client (matchmaker/allocator-client.ts) agree on,
// in a module of its own so the matchmaker does not load the allocator's HTTP server to know them.

import type { WebSocket } from 'ws';

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

/**
 * Set to "1" on the stream's upgrade response by an allocator that keeps templates: a message
 * `{ id, prepare: name, allocation }` keeps one for the connection, and `{ id, template: name,
 * allocation: parts }` allocates with it (allocator/prepared-allocation.ts). A client sends
 * prepared allocations only to such an allocator.
 */
export const STREAM_TEMPLATES_HEADER = 'hangar-stream-templates';

/** The most templates one connection keeps. */
export const MAX_TEMPLATES = 256;

/** A template's name. */
export const TEMPLATE_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * How often each end pings the other. A connection through a proxy or mesh can die without a
 * close reaching either end (half-open): a ping unanswered by the next one ends it, so a dead
 * stream is found within two intervals, not when TCP gives up minutes later.
 */
export const STREAM_PING_INTERVAL_MS = 15_000;

/** Pings `ws` every `intervalMs` and terminates it (after `onDead`) when the last ping went unanswered; returns the stop. */
export function heartbeat(ws: WebSocket, intervalMs: number, onDead: () => void): () => void {
  let answered = true;
  const onPong = () => (answered = true);
  ws.on('pong', onPong);
  const timer = setInterval(() => {
    if (!answered) {
      onDead();
      return void ws.terminate();
    }
    answered = false;
    ws.ping();
  }, intervalMs).unref();
  return () => {
    clearInterval(timer);
    ws.off('pong', onPong);
  };
}
