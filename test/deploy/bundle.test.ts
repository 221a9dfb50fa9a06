import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseAllDocuments } from 'yaml';

// The fleets run the game servers' bundles (scripts/bundle.mjs), built by `npm run build` after tsc.
// `npx tsc` alone leaves them as they were, and `hangar up` and the end-to-end tests would then run
// yesterday's game server without a word: this says so, and which file is newer.

const INPUTS = 'dist/bundle/inputs.json';

/** Each bundle and the files it was built from, as scripts/bundle.mjs recorded them. */
function bundles(): Record<string, string[]> {
  if (!existsSync(INPUTS)) throw new Error(`${INPUTS} is missing: run \`npm run build\` (tsc, then scripts/bundle.mjs)`);
  return JSON.parse(readFileSync(INPUTS, 'utf8')) as Record<string, string[]>;
}

/** The TypeScript a file of tsc's output was compiled from (dist/gameserver/main.js → gameserver/main.ts). */
const sourceOf = (compiled: string) => compiled.replace(/^dist\//, '').replace(/\.js$/, '.ts');

/** The script a fleet file's containers run with node. */
function fleetScripts(file: string): string[] {
  return fleetCommands(file).map((command) => command.find((arg) => arg.endsWith('.js'))!);
}

/** The node commands of a fleet file's containers that run a script. */
function fleetCommands(file: string): string[][] {
  const commands: string[][] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const fleet = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }> } } } } } };
    if (fleet.kind !== 'Fleet') continue;
    for (const c of fleet.spec?.template?.spec?.template?.spec?.containers ?? []) {
      if (c.command?.some((arg) => arg.endsWith('.js'))) commands.push(c.command);
    }
  }
  return commands;
}

/** What the launcher of `bundle` says of its code cache under these node options (gameserver/bundle-launcher.ts). */
function codeCacheState(nodeOptions: string[], bundle: string): string {
  const run = spawnSync(process.execPath, [...nodeOptions, bundle], { env: { ...process.env, HANGAR_CODE_CACHE: 'check' }, encoding: 'utf8' });
  return run.stdout;
}

describe("the game servers' bundles", () => {
  it('are newer than every file they were built from, and than the TypeScript behind them', () => {
    const stale: string[] = [];
    for (const [bundle, inputs] of Object.entries(bundles())) {
      if (!existsSync(bundle)) {
        stale.push(`${bundle} is missing`);
        continue;
      }
      const built = statSync(bundle).mtimeMs;
      for (const input of inputs) {
        const files = input.startsWith('dist/') ? [input, sourceOf(input)] : [input];
        for (const f of files) if (existsSync(f) && statSync(f).mtimeMs > built) stale.push(`${f} is newer than ${bundle}`);
      }
    }
    if (stale.length) throw new Error(`stale bundles: run \`npm run build\` (tsc, then scripts/bundle.mjs)\n  ${stale.join('\n  ')}`);
  });

  it("are what the repository's fleets run, built from those servers' entry points", () => {
    const built = bundles();
    expect(fleetScripts('config/fleets/arena.yaml')).toEqual(['dist/bundle/gameserver/main.js']);
    expect(fleetScripts('examples/simple-game-server/fleet.yaml')).toEqual(['dist/bundle/simple-game-server/main.js']);
    // main.js is the launcher of server.js, the server itself.
    expect(built['dist/bundle/gameserver/main.js']).toEqual(['dist/gameserver/bundle-launcher.js']);
    expect(built['dist/bundle/gameserver/server.js']).toContain('dist/gameserver/main.js');
    expect(built['dist/bundle/gameserver/network-worker.js']).toContain('dist/gameserver/net/network-worker.js');
    expect(built['dist/bundle/simple-game-server/main.js']).toEqual(['dist/gameserver/bundle-launcher.js']);
    expect(built['dist/bundle/simple-game-server/server.js']).toContain('dist/examples/simple-game-server/main.js');
    // The SDK is inside (a package it still loaded from node_modules would cost what the bundle saves).
    expect(built['dist/bundle/gameserver/server.js']!.some((f) => f.includes('@google-cloud/agones-sdk/'))).toBe(true);
  });

  it('leave out what the bundled packages require at load and the game servers never use', () => {
    // Each would run in every game server for nothing (scripts/bundle.mjs, leftOut): the SDK's
    // annotation protos with google-protobuf's descriptor.proto were a third of the bundle.
    // grpc-js's server side: a game server is only a gRPC client, of its SDK sidecar.
    const unused = /protoc-gen-openapiv2[\\/]|[\\/]google[\\/]api[\\/]|descriptor_pb\.js$|@opentelemetry[\\/]api[\\/]|thread-stream[\\/]|@grpc[\\/]proto-loader[\\/]|protobufjs[\\/]|@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/]server(-call|-credentials|-interceptors)?\.js$/;
    for (const bundle of ['dist/bundle/gameserver/server.js', 'dist/bundle/simple-game-server/server.js']) {
      expect(bundles()[bundle]!.filter((f) => !f.startsWith('left-out:') && unused.test(f))).toEqual([]);
    }
  });

  it("start from a code cache V8 accepts under the fleets' own node options", () => {
    // V8 rejects a cache built under other V8 flags (--expose-gc is one): the server would start,
    // compiled from source, as slowly as without a cache.
    const built = JSON.parse(readFileSync('dist/bundle/code-cache.json', 'utf8')) as Record<string, string[]>;
    for (const fleet of ['config/fleets/arena.yaml', 'examples/simple-game-server/fleet.yaml']) {
      for (const command of fleetCommands(fleet)) {
        const script = command.at(-1)!;
        expect([fleet, command.slice(1, -1)]).toEqual([fleet, built[script]]);
        expect([script, codeCacheState(command.slice(1, -1), script)]).toEqual([script, 'used']);
      }
    }
    expect(codeCacheState([], 'dist/bundle/gameserver/main.js')).toBe('rejected');
  });

  it('run a server.js that is not the one its cache was built from, or not where it was built, as it is, not from the cache', () => {
    // V8 checks only the source's length: the launcher checks the cache's SHA-256 of server.js and its path.
    const dir = mkdtempSync(path.join(tmpdir(), 'hangar-bundle-'));
    try {
      const copy = (to: string) => {
        cpSync('dist/bundle/simple-game-server', path.join(dir, to), { recursive: true });
        return path.join(dir, to, 'main.js');
      };
      cpSync('dist/bundle/package.json', path.join(dir, 'package.json'));
      expect(codeCacheState([], copy('moved'))).toBe('stale');

      // A cache built where it runs, then server.js edited to another of the same length.
      const main = copy('edited');
      expect(spawnSync(process.execPath, [main], { env: { ...process.env, HANGAR_CODE_CACHE: 'build' } }).status).toBe(0);
      expect(codeCacheState([], main)).toBe('used');
      const server = path.join(dir, 'edited', 'server.js');
      const length = readFileSync(server, 'utf8').length;
      const edited = "process.stdout.write('the edited server');";
      writeFileSync(server, edited + ' '.repeat(length - edited.length));
      expect(codeCacheState([], main)).toBe('stale');
      const run = spawnSync(process.execPath, [main], { encoding: 'utf8' });
      expect([run.status, run.stdout]).toEqual([0, 'the edited server']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
