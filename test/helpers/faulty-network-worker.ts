import { BroadcastChannel, workerData } from 'node:worker_threads';
import type { NetworkWorkerData } from '../../gameserver/net/network-worker.js';
import { FAULT_CHANNEL, FAULT_EXIT_CODE, type FaultRequest } from './network-worker-faults.js';

// The real network worker, which fails on a test's request (network-worker-faults.ts).

await import('../../gameserver/net/network-worker.js');

const port = (workerData as NetworkWorkerData).port;
const channel = new BroadcastChannel(FAULT_CHANNEL);
// No reason to keep the worker alive: it ends as the real one does.
channel.unref();
channel.onmessage = (event) => {
  const request = (event as { data: FaultRequest }).data;
  if (request.port !== port) return;
  switch (request.fault) {
    case 'throw':
      throw new Error(`injected fault in the network worker on port ${port}`);
    case 'exit':
      process.exit(FAULT_EXIT_CODE);
      break;
    case 'allocate':
      new ArrayBuffer(Number.MAX_SAFE_INTEGER);
      break;
    case 'hang':
      for (;;);
    case 'stall':
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, request.ms);
  }
};
