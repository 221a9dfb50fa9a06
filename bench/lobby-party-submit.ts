import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { startTestLobby as StartTestLobby } from '../matchmaker/lobby/lobby-test-harness.js';

// What a party costs a submit at the lobby: one player's WebSocket submit → reply round trip,
// solo and with three other members (and solo over HTTP, where every request verifies the login
// token), each submit followed by its cancel, one at a time, over the
// lobby's test harness (a real lobby server, a RecordingMatchmaking behind it). BENCH_TREE names
// the worktree whose build to load, so one command measures two builds: where that build's lobby
// takes party passes (POST /v1/party-passes exists) the party is three passes, each verified
// (HMAC-SHA256) on every submit; in a build from before them, three player ids.
//
//   flock /tmp/hangar-bench.lock node dist/bench/lobby-party-submit.js          (this tree)
//   BENCH_TREE=/work/other-tree node dist/bench/lobby-party-submit.js           (another build)
//   BENCH_SUBMITS (3000) turns a mode, after 300 of warm-up; BENCH_MODES=3 runs only the third mode.
//
// Prints one JSON line per mode: the round trip's p50, p99 and mean in µs, and the process's CPU
// per turn (a submit and its cancel; both sides of the socket run in this process).

const tree = path.resolve(process.env.BENCH_TREE ?? '.');
const submits = Number(process.env.BENCH_SUBMITS ?? 3000);
const warmup = 300;

const { startTestLobby } = (await import(pathToFileURL(path.join(tree, 'dist/matchmaker/lobby/lobby-test-harness.js')).href)) as { startTestLobby: typeof StartTestLobby };
const members = ['bob', 'carol', 'dave'];
let passesTaken = false;
const MODES = ['solo', 'party of 4', 'solo over HTTP', 'login token verified, alone'] as const;
// BENCH_MODES=2,3 runs only those (1-based), each in a process of its own then.
const picked = process.env.BENCH_MODES?.split(',').map((n) => MODES[Number(n) - 1]!) ?? MODES;
for (const mode of picked) {
  // A fresh lobby each: the RecordingMatchmaking keeps every ticket and looks through them on submit.
  // Rates out of the way: the harness's fake clock never refills a bucket.
  const lobby = await startTestLobby({ heartbeatSeconds: 600, rate: { player_burst: 1e9, address_burst: 1e9 } });
  try {
    const alice = await lobby.connect({ playerId: 'alice' });
    const token = await lobby.token('alice');
    const passes = (lobby as { partyPass?: (member: string, leader: string) => Promise<string> }).partyPass;
    passesTaken = passes !== undefined;
    const extra = mode === 'solo' ? {} : { party: passes ? await Promise.all(members.map((m) => passes(m, 'alice'))) : members };
    const times: number[] = [];
    let cpu = process.cpuUsage();
    let id = 0;
    for (let i = 0; i < warmup + submits; i++) {
      if (i === warmup) cpu = process.cpuUsage();
      const t0 = performance.now();
      const ticket = { queue: 'squad', latencies: { local: 10 }, ...extra };
      if (mode === 'login token verified, alone') {
        // The crypto alone, no request around it: what HTTP pays per request, and a pass per member.
        await lobby.auth.verify(token);
        if (i >= warmup) times.push((performance.now() - t0) * 1000);
        continue;
      }
      if (mode === 'solo over HTTP') {
        // Every HTTP request verifies its bearer token: the cost a socket pays once.
        const res = await lobby.http('POST', '/v1/tickets', { token, body: ticket });
        if (i >= warmup) times.push((performance.now() - t0) * 1000);
        if (res.status !== 201) throw new Error(`submit refused: ${JSON.stringify(res.body)}`);
        await lobby.http('DELETE', `/v1/tickets/${res.body.ticketId as string}`, { token });
        continue;
      }
      const reply = await alice.request({ type: 'submit', id: ++id, ...ticket });
      if (i >= warmup) times.push((performance.now() - t0) * 1000);
      if (!reply.result) throw new Error(`submit refused: ${JSON.stringify(reply.error)}`);
      await alice.request({ type: 'cancel', id: ++id, ticketId: reply.result.ticketId as string });
    }
    const used = process.cpuUsage(cpu);
    times.sort((a, b) => a - b);
    const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
    console.log(
      JSON.stringify({
        tree,
        party: passesTaken ? 'passes' : 'ids',
        mode,
        submits,
        p50Us: at(0.5),
        p99Us: at(0.99),
        meanUs: Math.round(times.reduce((n, t) => n + t, 0) / times.length),
        // A turn is a submit and its cancel, or one verify in the last mode.
        cpuUsPerTurn: Math.round((used.user + used.system) / submits),
      }),
    );
  } finally {
    await lobby.close();
  }
}
