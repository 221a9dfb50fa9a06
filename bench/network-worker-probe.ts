import { readlinkSync, writeSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import type { NetworkWorkerData } from '../gameserver/net/network-worker.js';

// The network worker as the benchmark runs it: first it says which kernel thread it is (so the
// harness can read its CPU time from /proc/<pid>/task/<tid>/schedstat), then it is the real one.

const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
writeSync(1, `${JSON.stringify({ type: 'worker-thread', port: (workerData as NetworkWorkerData).port, tid })}\n`);
await import('../gameserver/net/network-worker.js');
