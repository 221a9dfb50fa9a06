import { existsSync, readFileSync, statSync } from 'node:fs';
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
  const scripts: string[] = [];
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const fleet = doc.toJS() as { kind?: string; spec?: { template?: { spec?: { template?: { spec?: { containers?: Array<{ command?: string[] }> } } } } } };
    if (fleet.kind !== 'Fleet') continue;
    for (const c of fleet.spec?.template?.spec?.template?.spec?.containers ?? []) {
      const script = c.command?.find((arg) => arg.endsWith('.js'));
      if (script) scripts.push(script);
    }
  }
  return scripts;
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
    expect(built['dist/bundle/gameserver/main.js']).toContain('dist/gameserver/main.js');
    expect(built['dist/bundle/gameserver/network-worker.js']).toContain('dist/gameserver/net/network-worker.js');
    expect(built['dist/bundle/simple-game-server/main.js']).toContain('dist/examples/simple-game-server/main.js');
    // The SDK is inside (a package it still loaded from node_modules would cost what the bundle saves).
    expect(built['dist/bundle/gameserver/main.js']!.some((f) => f.includes('@google-cloud/agones-sdk/'))).toBe(true);
  });

  it('leave out what the bundled packages require at load and the game servers never use', () => {
    // Each would run in every game server for nothing (scripts/bundle.mjs, leftOut): the SDK's
    // annotation protos with google-protobuf's descriptor.proto were a third of the bundle.
    // grpc-js's server side: a game server is only a gRPC client, of its SDK sidecar.
    const unused = /protoc-gen-openapiv2[\\/]|[\\/]google[\\/]api[\\/]|descriptor_pb\.js$|@opentelemetry[\\/]api[\\/]|thread-stream[\\/]|@grpc[\\/]proto-loader[\\/]|protobufjs[\\/]|@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/]server(-call|-credentials|-interceptors)?\.js$/;
    for (const bundle of ['dist/bundle/gameserver/main.js', 'dist/bundle/simple-game-server/main.js']) {
      expect(bundles()[bundle]!.filter((f) => !f.startsWith('left-out:') && unused.test(f))).toEqual([]);
    }
  });
});
