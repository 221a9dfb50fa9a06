import { BroadcastChannel } from 'node:worker_threads';

// Faults a test can make a network worker suffer after start-up, when that worker runs
// faulty-network-worker.ts (FAULTY_NETWORK_WORKER): the real worker, listening for these on a
// BroadcastChannel. Only tests start workers from that module, and dist/test is not in the image,
// so production workers have no such door.
//
//   throw     an uncaught exception on the worker's thread
//   exit      process.exit(FAULT_EXIT_CODE) inside the worker (it ends the thread, not the process)
//   allocate  an allocation that fails (a RangeError, uncaught)
//   hang      a loop that never returns (the worker takes no more ticks until it is terminated)
//   stall     the thread blocked for `ms`, then going on as before

export const FAULT_CHANNEL = 'hangar-test-network-worker-faults';
export const FAULT_EXIT_CODE = 7;
export type Fault = 'throw' | 'exit' | 'allocate' | 'hang' | 'stall';
export interface FaultRequest {
  port: number;
  fault: Fault;
  /** For a stall. */
  ms?: number;
}

/** The compiled worker module with the fault door (the workers run compiled JavaScript). */
export const FAULTY_NETWORK_WORKER = new URL('../../dist/test/helpers/faulty-network-worker.js', import.meta.url);

/** Makes the worker on `port` suffer `fault`, soon after this returns. */
export function injectFault(port: number, fault: Fault, ms?: number): void {
  const channel = new BroadcastChannel(FAULT_CHANNEL);
  channel.postMessage({ port, fault, ms } satisfies FaultRequest);
  channel.close();
}
