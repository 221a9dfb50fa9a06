// The game servers as one file each, built from tsc's output (`npm run build` runs this after tsc).
// Many game servers run to a machine and each one pays for what it loads: from one file Node resolves
// and reads nothing at start-up, and without comments and indentation the module source V8 keeps is
// smaller (BENCHMARKS.md, helper-52: 0 → 100 Ready 15-20 % sooner, an idle arena server 3 MiB
// smaller 3 s after Ready and 1 MiB at 10 s).
//
//   dist/bundle/gameserver/main.js            the arena game server (config/fleets/arena.yaml)
//   dist/bundle/gameserver/network-worker.js  its network worker, beside it: WorkerNetwork starts
//                                             './network-worker.js' relative to its own module, and
//                                             in the bundle that module is main.js
//   dist/bundle/simple-game-server/main.js    the example (examples/simple-game-server/fleet.yaml)
//   dist/bundle/inputs.json                   each bundle's inputs, for the staleness test
//
// Names are kept (whitespace and syntax minified, identifiers not): error classes name themselves
// by `new.target.name`, and stack traces stay readable without the source map. Each bundle has a
// .map back to the TypeScript (through tsc's maps) for `node --enable-source-maps`.
import { writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  // The native addon stays in node_modules: it finds its .node file relative to its own directory.
  external: ['sodium-native'],
  // The CommonJS packages bundled in (the SDK, grpc-js, google-protobuf) require Node's built-ins,
  // and an ES module has no `require` of its own.
  banner: { js: "import { createRequire as __bundleCreateRequire } from 'node:module'; const require = __bundleCreateRequire(import.meta.url);" },
  metafile: true,
  logLevel: 'warning',
};

const bundles = {
  'dist/bundle/gameserver': { main: 'dist/gameserver/main.js', 'network-worker': 'dist/gameserver/net/network-worker.js' },
  'dist/bundle/simple-game-server': { main: 'dist/examples/simple-game-server/main.js' },
};

const inputs = {};
for (const [outdir, entryPoints] of Object.entries(bundles)) {
  const { metafile } = await build({ ...common, entryPoints, outdir });
  for (const [file, output] of Object.entries(metafile.outputs)) if (output.entryPoint) inputs[file] = Object.keys(output.inputs);
}
writeFileSync('dist/bundle/inputs.json', `${JSON.stringify(inputs, null, 1)}\n`);
