import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { CALLGRIND_ARGS, counted, MEASURED_FRAME, readCounts, repeatabilityLines, repeatableNodeArgs, valgrindInstalled, youngGenerationUsed, type CallgrindCounts } from './callgrind-count.js';
import { nameJitFrames } from './callgrind-jit-names.js';

// The arena server's work per player-tick counted in instructions, which a noisy machine cannot
// move: valgrind's callgrind counts what runs between two points, whatever else the host does.
// One process holds the server (the game, and the netcode wired as InlineNetwork wires it) and N
// clients, all in memory. Each tick the clients send their input (a 14-byte message) and the server takes
// the datagrams (decrypt, replay check, acks, the game's input handling), runs the game's tick
// and flushes (a delta snapshot per client through the interest grid, sealed). Only the server's
// part of the measured ticks is counted. What it does not see: the sockets' syscalls and the
// kernel, node:dgram's per-datagram C++ (and the fresh Buffer and address strings it makes), cache
// misses and branch mispredictions (an instruction is an instruction), and the garbage collector
// (reported instead as young-generation bytes allocated per player-tick).
//
//   npx tsc -p tsconfig.json && node dist/bench/arena-instructions.js
//   BENCH_INSTR_PLAYERS=500          clients (default 500; the arena sized for ARENA_CAPACITY 2000, as in arena-load)
//   BENCH_INSTR_TICKS=100,10         warm-up ticks, then measured ticks (default 100,10; at 30 V8 was
//                                    still compiling in the measured ticks, as the table's "compiling or collecting" column showed)
//   BENCH_INSTR_RUNS=3               valgrind runs per build (default 3); counts repeat to a few instructions in 10^8
//   BENCH_INSTR_BASELINE=/path/dist  also count another build's server (a worktree of main, built), run by run
//   BENCH_INSTR_OUT=/path/dir        keep each run's callgrind output there, for callgrind_annotate: node runs with
//                                    --perf-basic-prof, and callgrind.out.<build>.<run>.named has the JavaScript
//                                    functions by name (bench/callgrind-jit-names.ts)
//
// Needs valgrind (apt-get install valgrind); runs it at nice 19. A run at 500 players takes 1.5-3.5
// minutes on a slow two-core machine, so this is not part of `npm run bench`.

const CAPACITY = 2000;
const TICK_RATE = 30;
const SERVER_PORT = 7777;
const FIRST_CLIENT_PORT = 20_000;
const SERVER_ID = 'bench-arena';
const KEY = Buffer.alloc(32, 0x5a);

// The measured part runs inside JSON.parse's reviver (bench/callgrind-count.ts), counting on only there.
const VALGRIND_ARGS = [...CALLGRIND_ARGS, '--collect-atstart=no', `--toggle-collect=${MEASURED_FRAME}`];
const NODE_ARGS = repeatableNodeArgs(32);

type ServerModules = {
  inlineEndpoint: typeof import('../gameserver/net/inline-network.js').inlineEndpoint;
  sendOrDrop: typeof import('../gameserver/net/network-path.js').sendOrDrop;
  PacketCounters: typeof import('../gameserver/net/packet-counters.js').PacketCounters;
  ArenaGame: typeof import('../gameserver/arena/arena-game.js').ArenaGame;
  rulesFor: typeof import('../gameserver/arena/arena-world.js').rulesFor;
  HANGAR_PROTOCOL_ID: bigint;
};

type ClientModules = {
  ClientEndpoint: typeof import('../gameserver/protocol/client-endpoint.js').ClientEndpoint;
  mintConnectToken: typeof import('../gameserver/protocol/connect-token.js').mintConnectToken;
  encodeInput: typeof import('../gameserver/arena/arena-messages.js').encodeInput;
  SnapshotReceiver: typeof import('../gameserver/arena/snapshot-receiver.js').SnapshotReceiver;
  MessageType: typeof import('../gameserver/arena/arena-messages.js').MessageType;
  NO_TICK: number;
  INPUT_BYTES: number;
};

const moduleUrl = (dist: string, file: string) => pathToFileURL(path.join(dist, file)).href;

async function loadServer(dist: string): Promise<ServerModules> {
  const [inline, networkPath, counters, game, world, constants] = await Promise.all([
    import(moduleUrl(dist, 'gameserver/net/inline-network.js')),
    import(moduleUrl(dist, 'gameserver/net/network-path.js')),
    import(moduleUrl(dist, 'gameserver/net/packet-counters.js')),
    import(moduleUrl(dist, 'gameserver/arena/arena-game.js')),
    import(moduleUrl(dist, 'gameserver/arena/arena-world.js')),
    import(moduleUrl(dist, 'gameserver/protocol/protocol-constants.js')),
  ]);
  if (typeof inline.inlineEndpoint !== 'function') throw new Error(`${dist}: gameserver/net/inline-network.js exports no inlineEndpoint (a build older than this bench)`);
  return { inlineEndpoint: inline.inlineEndpoint, sendOrDrop: networkPath.sendOrDrop, PacketCounters: counters.PacketCounters, ArenaGame: game.ArenaGame, rulesFor: world.rulesFor, HANGAR_PROTOCOL_ID: constants.HANGAR_PROTOCOL_ID };
}

/**
 * The clients' modules, from a copy of this build's gameserver/ and core/ trees: the same files under another
 * URL are other module instances, so the clients share no function (and no type feedback) with the
 * server, as in a real server process. Connection, for one, serves both ends.
 */
async function loadClients(): Promise<{ modules: ClientModules; remove: () => void }> {
  const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const copy = mkdtempSync(path.join(tmpdir(), 'arena-instructions-'));
  for (const dir of ['gameserver', 'core']) cpSync(path.join(dist, dir), path.join(copy, dir), { recursive: true });
  symlinkSync(path.resolve(dist, '..', 'node_modules'), path.join(copy, 'node_modules'));
  const [client, token, messages, receiver] = await Promise.all([
    import(moduleUrl(copy, 'gameserver/protocol/client-endpoint.js')),
    import(moduleUrl(copy, 'gameserver/protocol/connect-token.js')),
    import(moduleUrl(copy, 'gameserver/arena/arena-messages.js')),
    import(moduleUrl(copy, 'gameserver/arena/snapshot-receiver.js')),
  ]);
  return {
    modules: { ClientEndpoint: client.ClientEndpoint, mintConnectToken: token.mintConnectToken, encodeInput: messages.encodeInput, SnapshotReceiver: receiver.SnapshotReceiver, MessageType: messages.MessageType, NO_TICK: messages.NO_TICK, INPUT_BYTES: messages.INPUT_BYTES },
    remove: () => rmSync(copy, { recursive: true, force: true }),
  };
}

export interface InnerResult {
  players: number;
  measuredTicks: number;
  /** Datagrams and bytes the server sent during the measured ticks: the same for builds whose wire format is the same. */
  datagramsOut: number;
  bytesOut: number;
  /** Young-generation bytes allocated inside the measured part, per player-tick. */
  youngBytesPerPlayerTick: number;
  snapshotsPerClientTick: number;
}

/** One process's run: N clients connect, warm-up ticks, then measured ticks, the server's part of each inside `counted`. */
async function runInMemory(serverDist: string, players: number, warmUpTicks: number, measuredTicks: number): Promise<InnerResult> {
  const server = await loadServer(serverDist);
  const { modules: c, remove } = await loadClients();
  const gc = (globalThis as { gc?: (o: { type: 'minor' | 'major' }) => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  let now = 1_800_000_000_000;
  const clock = () => now;

  // The server: the game and the netcode as ArenaServer and InlineNetwork put them together.
  const counters = new server.PacketCounters();
  // The server's datagrams in the order sent, with the client each is for, in arrays overwritten
  // rather than emptied: taking a datagram costs the count a few instructions (a socket's send,
  // which it stands for, is not counted at all).
  const sentData: Buffer[] = [];
  const sentTo: number[] = [];
  let sent = 0;
  const options = { protocolId: server.HANGAR_PROTOCOL_ID, tokenKey: KEY, serverId: SERVER_ID, maxClients: CAPACITY, bindAddress: '127.0.0.1', ports: [SERVER_PORT] };
  // eslint-disable-next-line prefer-const
  let game: InstanceType<ServerModules['ArenaGame']>;
  const endpoint = server.inlineEndpoint(
    options,
    {
      onConnect: (client, playerId) => game.connect(client, playerId),
      onDisconnect: (client) => game.disconnect(client),
      onMessage: (client, _channel, payload) => game.message(client, payload),
    },
    counters,
    {
      now: clock,
      send: (data, _address, port) => {
        sentData[sent] = data;
        sentTo[sent++] = port - FIRST_CLIENT_PORT;
      },
    },
  );
  game = new server.ArenaGame({
    rules: server.rulesFor(CAPACITY, { matchSeconds: 86_400, scoreLimit: 0xffff }),
    tickRate: TICK_RATE,
    network: { send: (client, channel, payload) => server.sendOrDrop(endpoint, counters, client, channel, payload), disconnect: (client) => endpoint.disconnect(client) },
    maxPlayers: CAPACITY,
    viewRadius: 30,
    maxVisible: 64,
    seed: 42,
  });

  // The clients: bots as gameserver/bot/bot.ts plays them (a wandering walk, firing now and then,
  // every snapshot applied and its tick acknowledged), each datagram tagged with its port.
  const toServer: Array<{ data: Buffer; port: number }> = [];
  const bots = Array.from({ length: players }, (_, i) => {
    const receiver = new c.SnapshotReceiver();
    const port = FIRST_CLIENT_PORT + i;
    const token = c.mintConnectToken({ key: KEY, protocolId: server.HANGAR_PROTOCOL_ID, serverId: SERVER_ID, playerId: `player-${i}`, addresses: [`127.0.0.1:${SERVER_PORT}`], expiresInSeconds: 3600, now });
    const client = new c.ClientEndpoint({
      token,
      now: clock,
      send: (data) => toServer.push({ data, port }),
      onMessage: (_channel, payload) => {
        if (payload[0] === c.MessageType.Snapshot && receiver.receive(payload) === 'missing-base') throw new Error(`client ${i}: a snapshot against a base it never had`);
      },
    });
    let seed = i + 1;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    let heading = random() * 2 * Math.PI;
    const input = { sequence: 0, ackTick: c.NO_TICK, moveX: 0, moveY: 0, aim: 0, buttons: 0 };
    const inputBytes = Buffer.alloc(c.INPUT_BYTES);
    return {
      client,
      receiver,
      tick: () => {
        if (client.state === 'connected') {
          if (random() < 0.05) heading += (random() - 0.5) * 2;
          input.sequence++;
          input.ackTick = receiver.ackTick;
          input.moveX = Math.round(Math.cos(heading) * 127);
          input.moveY = Math.round(Math.sin(heading) * 127);
          input.aim = Math.floor((((heading % (2 * Math.PI)) + 2 * Math.PI) % (2 * Math.PI)) / (2 * Math.PI) * 65536) & 0xffff;
          input.buttons = random() < 0.1 ? 1 : 0;
          client.send('unreliable', c.encodeInput(input, inputBytes));
        }
        client.update();
      },
    };
  });

  // node:dgram hands every datagram over with an address string of its own, whose hash the
  // endpoint's lookup computes afresh: made here (outside the count) as the C++ side makes it.
  const addressBytes = Buffer.from('127.0.0.1', 'latin1');
  const arrive = () => toServer.splice(0).map(({ data, port }) => ({ data, address: addressBytes.toString('latin1'), port }));
  const deliver = () => {
    let bytes = 0;
    for (let k = 0; k < sent; k++) {
      bytes += sentData[k]!.length;
      bots[sentTo[k]!]!.client.receive(sentData[k]!);
    }
    const datagrams = sent;
    sent = 0;
    return { datagrams, bytes };
  };

  for (const bot of bots) bot.client.connect();
  for (let round = 0; round < 20 && endpoint.connectedCount < players; round++) {
    for (const { data, address, port } of arrive()) endpoint.receive(data, address, port);
    deliver();
    now += 34;
    for (const bot of bots) bot.tick();
    endpoint.update();
  }
  if (endpoint.connectedCount !== players) throw new Error(`only ${endpoint.connectedCount} of ${players} clients connected`);

  let tick = 0;
  let datagramsOut = 0;
  let bytesOut = 0;
  let youngBytes = 0;
  for (let t = 0; t < warmUpTicks + measuredTicks; t++) {
    const measured = t >= warmUpTicks;
    now += 1000 / TICK_RATE;
    for (const bot of bots) bot.tick();
    const arrived = arrive();
    // A full collection before a counted tick: then neither a scavenge nor a step of incremental
    // marking (which V8 starts once the old generation has grown enough, at a moment that depends on
    // all that was allocated before) falls inside it. Between the others, a scavenge as the server's.
    gc({ type: measured ? 'major' : 'minor' });
    tick++;
    const serverTick = () => {
      for (let i = 0; i < arrived.length; i++) endpoint.receive(arrived[i]!.data, arrived[i]!.address, arrived[i]!.port);
      game.tick(tick, 1 / TICK_RATE);
      endpoint.update(); // InlineNetwork.flush
    };
    if (measured) {
      const before = youngGenerationUsed();
      counted(serverTick);
      const grown = youngGenerationUsed() - before;
      if (grown < 0) throw new Error('a scavenge ran inside a measured tick: raise the semi-space size');
      youngBytes += grown;
    } else {
      serverTick();
    }
    const out = deliver();
    if (measured) {
      datagramsOut += out.datagrams;
      bytesOut += out.bytes;
    }
  }
  if (endpoint.connectedCount !== players) throw new Error(`${players - endpoint.connectedCount} clients dropped during the run`);
  counters.drain();
  remove();
  return { players, measuredTicks, datagramsOut, bytesOut, youngBytesPerPlayerTick: youngBytes / (players * measuredTicks), snapshotsPerClientTick: datagramsOut / (players * measuredTicks) };
}

export interface CountedRun extends InnerResult, CallgrindCounts {
  build: string;
  instructionsPerPlayerTick: number;
}

/** Runs one process under callgrind and reads what it counted. */
function countRun(build: string, serverDist: string, players: number, warmUpTicks: number, measuredTicks: number, outDir: string | undefined, label: string): CountedRun {
  const self = new URL(import.meta.url).pathname;
  const scratch = mkdtempSync(path.join(tmpdir(), 'arena-instructions-out-'));
  try {
    const outFile = path.join(outDir ?? scratch, `callgrind.out.${label}`);
    const nodeArgs = [...NODE_ARGS, ...(outDir ? ['--perf-basic-prof'] : [])];
    const run = spawnSync('nice', ['-n', '19', 'valgrind', ...VALGRIND_ARGS, `--callgrind-out-file=${outFile}`, process.execPath, ...nodeArgs, self, '--inner', serverDist, String(players), String(warmUpTicks), String(measuredTicks)], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const resultLine = run.stdout.split('\n').find((l) => l.startsWith('{'));
    if (run.status !== 0 || !resultLine) throw new Error(`valgrind run of ${build} failed (exit ${run.status}):\n${run.stdout}\n${run.stderr.split('\n').slice(-30).join('\n')}`);
    if (outDir) {
      const { perfMap } = nameJitFrames(outFile);
      rmSync(perfMap, { force: true });
    }
    const inner = JSON.parse(resultLine) as InnerResult;
    const counts = readCounts(outFile);
    return { build, ...inner, ...counts, instructionsPerPlayerTick: counts.instructions / (inner.players * inner.measuredTicks) };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export async function benchArenaInstructions(): Promise<string> {
  if (!valgrindInstalled()) return 'valgrind is not installed (apt-get install valgrind): instruction counts skipped';
  const env = process.env;
  const players = Number(env.BENCH_INSTR_PLAYERS ?? 500);
  const [warmUpTicks, measuredTicks] = (env.BENCH_INSTR_TICKS ?? '100,10').split(',').map(Number) as [number, number];
  const runs = Number(env.BENCH_INSTR_RUNS ?? 3);
  const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
  const builds: Array<[string, string]> = [['this build', here], ...(env.BENCH_INSTR_BASELINE ? [['baseline', path.resolve(env.BENCH_INSTR_BASELINE)] as [string, string]] : [])];
  const results: CountedRun[] = [];
  for (let r = 0; r < runs; r++) {
    for (const [build, dist] of builds) results.push(countRun(build, dist, players, warmUpTicks, measuredTicks, env.BENCH_INSTR_OUT, `${build.replace(/\W+/g, '-')}.${r + 1}`));
  }
  const lines = [
    `${players} clients in memory, ${warmUpTicks} warm-up ticks, ${measuredTicks} counted; the server's receive, tick and flush under callgrind`,
    '',
    '| build | run | instructions per player-tick | of them compiling or collecting | glibc malloc internals, apart | young-generation bytes per player-tick | datagrams out | bytes out |',
    '|---|---|---|---|---|---|---|---|',
    ...results.map((x, i) => {
      const perPlayerTick = (n: number) => Math.round(n / (x.players * x.measuredTicks)).toLocaleString('en-US');
      return `| ${x.build} | ${Math.floor(i / builds.length) + 1} | ${perPlayerTick(x.instructions)} | ${perPlayerTick(x.compilingOrCollecting)} | ${perPlayerTick(x.mallocInternals)} | ${Math.round(x.youngBytesPerPlayerTick)} | ${x.datagramsOut} | ${x.bytesOut} |`;
    }),
  ];
  lines.push(...repeatabilityLines(results.map((x) => ({ build: x.build, perUnit: x.instructionsPerPlayerTick })), builds.map(([build]) => build)));
  return lines.join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [mode, dist, players, warmUp, measured] = process.argv.slice(2);
  const main = mode === '--inner' ? runInMemory(path.resolve(dist!), Number(players), Number(warmUp), Number(measured)).then((r) => JSON.stringify(r)) : benchArenaInstructions();
  main.then(
    (out) => console.log(out),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
