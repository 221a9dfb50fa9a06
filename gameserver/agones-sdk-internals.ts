import type { EventEmitter } from 'node:events';
import type { AgonesSdkClient } from './agones-sdk.js';

// Three undocumented fields of the official Node SDK client (@google-cloud/agones-sdk 1.61,
// src/agonesSDK.js, alpha.js, beta.js), used only to work around its gaps:
//   healthStream    the one Health client stream; it is never re-opened, so a dead one must be seen
//   streams         WatchGameServer streams; close() only destroy()s them, leaving the calls open
//   alpha/beta.client  their gRPC channels; close() closes only the core one
// Every access is optional: an SDK version without a field loses only that workaround.

interface GrpcCall extends EventEmitter {
  cancel?(): void;
}

interface SdkInternals {
  healthStream?: GrpcCall;
  streams?: GrpcCall[];
  alpha?: { client?: { close?(): void } };
  beta?: { client?: { close?(): void } };
}

/** The SDK's health stream, once the first health() call has opened it. */
export function healthStreamOf(sdk: AgonesSdkClient): EventEmitter | undefined {
  return (sdk as unknown as SdkInternals).healthStream;
}

/**
 * Closes everything the client holds: the health stream, the watch calls (cancelled, so a server
 * that never ends them cannot keep the process alive) and all three channels.
 */
export function closeSdkClient(sdk: AgonesSdkClient): void {
  const internals = sdk as unknown as SdkInternals;
  for (const stream of internals.streams ?? []) stream.cancel?.();
  sdk.close();
  internals.alpha?.client?.close?.();
  internals.beta?.client?.close?.();
}
