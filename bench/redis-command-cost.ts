import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as RedisConnection from '../core/redis-connection.js';

// CPU a Redis command costs the client opened by openRedis, without and with a command timeout
// (matchmaker.redis_command_timeout_seconds), over the machine's Redis: GETs of one key, auto-
// pipelined, 500 in flight at a time as a burst of submits has them. Each tree of BENCH_TREES
// (label=dir, comma-separated; default this one) is measured with the timeout, and the first
// also without it; the variants alternate, round by round, in this one process.
//
//   flock /tmp/hangar-bench.lock node dist/bench/redis-command-cost.js
//   BENCH_TREES=old=/work/base-tree,new=. BENCH_ROUNDS=5 node dist/bench/redis-command-cost.js
//
// Prints a line a round and variant, then the medians: CPU µs a command, and the ratio to no timeout.

type Module = typeof RedisConnection;

const env = process.env;
const commands = Number(env.BENCH_COMMANDS ?? 200_000);
const rounds = Number(env.BENCH_ROUNDS ?? 5);
const url = env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const BATCH = 500;
const key = `hangar-bench-redis-command-cost:${process.pid}`;

const trees = (env.BENCH_TREES ?? 'this=.').split(',').map((entry) => {
  const [label, dir] = entry.split('=');
  if (!label || !dir) throw new Error(`BENCH_TREES: expected label=dir, got ${JSON.stringify(entry)}`);
  return { label, dir: path.resolve(dir) };
});

async function cpuPerCommand(mod: Module, timeout: boolean): Promise<number> {
  const client = mod.openRedis(url, { settings: { enableAutoPipelining: true }, role: 'bench', ...(timeout && { commandTimeoutMs: 2000 }) });
  const burst = () => Promise.all(Array.from({ length: BATCH }, () => client.get(key)));
  await client.set(key, 'x');
  for (let i = 0; i < 20_000; i += BATCH) await burst();
  const before = process.cpuUsage();
  for (let i = 0; i < commands; i += BATCH) await burst();
  const used = process.cpuUsage(before);
  await client.del(key);
  await mod.closeRedis(client);
  return (used.user + used.system) / commands;
}

const variants: Array<{ name: string; mod: Module; timeout: boolean }> = [];
for (const [i, { label, dir }] of trees.entries()) {
  const mod = (await import(pathToFileURL(path.join(dir, 'dist/core/redis-connection.js')).href)) as Module;
  if (i === 0) variants.push({ name: 'no timeout', mod, timeout: false });
  variants.push({ name: label, mod, timeout: true });
}
const seen = new Map<string, number[]>(variants.map((v) => [v.name, []]));
for (let r = 1; r <= rounds; r++) {
  for (const v of variants) {
    const us = await cpuPerCommand(v.mod, v.timeout);
    seen.get(v.name)!.push(us);
    console.log(`round ${r} ${v.name}: ${us.toFixed(3)} µs CPU a command`);
  }
}
const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
const base = median(seen.get('no timeout')!);
for (const [name, xs] of seen) console.log(`median ${name}: ${median(xs).toFixed(3)} µs CPU a command, ${(median(xs) / base).toFixed(3)}× no timeout`);
