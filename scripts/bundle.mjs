// The game servers as one file each, built from tsc's output (`npm run build` runs this after tsc).
// Many game servers run to a machine and each one pays for what it loads: from one file Node resolves
// and reads nothing at start-up, and without comments and indentation the module source V8 keeps is
// smaller (BENCHMARKS.md, helper-52: 0 → 100 Ready 15-20 % sooner, an idle arena server 3 MiB
// smaller 3 s after Ready and 1 MiB at 10 s). Each server also starts from V8's code cache, built
// here: it neither parses nor compiles what its start runs (gameserver/bundle-launcher.ts; helper-73).
//
//   dist/bundle/gameserver/main.js            the arena game server (config/fleets/arena.yaml): the
//                                             launcher, which runs server.js from server.js.cache
//   dist/bundle/gameserver/server.js          the arena game server itself
//   dist/bundle/gameserver/network-worker.js  its network worker, beside it: WorkerNetwork starts
//                                             './network-worker.js' relative to its own module, and
//                                             in the bundle that module is server.js
//   dist/bundle/simple-game-server/main.js    the example (examples/simple-game-server/fleet.yaml),
//                                             the same launcher, with its server.js and cache
//   dist/bundle/inputs.json                   each bundle's inputs, for the staleness test
//   dist/bundle/code-cache.json               the node options each cache was built under
//
// CommonJS (dist/bundle/package.json says so): V8's code cache is for scripts, and Node 20 caches
// no module's code itself.
//
// Names are kept (whitespace and syntax minified, identifiers not): error classes name themselves
// by `new.target.name`, and stack traces stay readable without the source map. Each bundle has a
// .map back to the TypeScript (through tsc's maps) for `node --enable-source-maps`.
//
// Some modules the bundled packages require when they load are never used by a game server, yet
// each would be compiled and run in every one; they are left out (`leftOut` below: an idle arena
// server 3-4 MiB smaller, the example 3 MiB; BENCHMARKS.md, helper-55).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

// The Agones SDK's generated messages (lib/**/*_pb.js, lib/**/*_grpc_pb.js) require the protos of
// their RPCs' annotations: google.api's HTTP rules, client and resource options, and the OpenAPI
// options of protoc-gen-openapiv2, which bring google-protobuf's descriptor.proto. With them the
// SDK was a third of the bundle, and all of it ran at load; an option is read only by tools that
// generate gateways and documentation. Each importer merely merges their messages into the `proto`
// namespace (`goog.object.extend(proto, x)`) before declaring its own, so their stand-in leaves that
// namespace and exports nothing. The build fails if an importer uses one in any other way.
const SDK_ANNOTATION_PROTOS = ['./google/api/annotations_pb.js', './google/api/client_pb.js', './google/api/field_behavior_pb.js', './google/api/resource_pb.js', './protoc-gen-openapiv2/options/annotations_pb.js'];
const SDK_MESSAGES = /[\\/]@google-cloud[\\/]agones-sdk[\\/]lib[\\/]/;

// Packages required at load for features the game servers do not use, each by one importer: their
// stand-in throws, naming itself, if anything ever reaches for it.
const UNUSED_PACKAGES = {
  // prom-client's process CPU metric, for exemplars (Hangar enables none).
  '@opentelemetry/api': /[\\/]prom-client[\\/]lib[\\/]metrics[\\/]processCpuTotal\.js$/,
  // pino.transport() (the game servers log through pino.destination).
  'thread-stream': /[\\/]pino[\\/]lib[\\/]transport\.js$/,
  // grpc-js's channelz and ORCA services, which load their .proto files at run time.
  '@grpc/proto-loader': /[\\/]@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/](channelz|orca)\.js$/,
};

// grpc-js's server side (a game server is only a client of its SDK sidecar): its index and
// experimental modules require it at load only to re-export it through getters that read it when
// called, so its stand-in throws, naming itself, only if something asks grpc-js for a server. The
// build fails if an importer uses one in any other way.
const GRPC_SERVER_MODULES = ['./server', './server-credentials', './server-interceptors'];
const GRPC_SERVER_IMPORTERS = /[\\/]@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/](index|experimental)\.js$/;

/** The binding `importer` declares for `require(specifier)`, and how often it names it. */
function requireBinding(importer, specifier, quote) {
  const source = readFileSync(importer, 'utf8');
  const declaration = new RegExp(`(?:var|const) (\\S+) = require\\(${quote}${specifier.replace(/[.$/]/g, '\\$&')}${quote}\\);`).exec(source);
  if (!declaration) return undefined;
  const name = declaration[1].replace(/\$/g, '\\$');
  return { source, name, uses: source.match(new RegExp(`(?<![\\w$])${name}(?![\\w$])`, 'g')).length };
}

/** Every use of `specifier`'s binding in `importer` is its declaration or a merge into `proto`. */
function onlyMergedIntoProto(importer, specifier) {
  const binding = requireBinding(importer, specifier, "'");
  if (!binding) return false;
  const merges = binding.source.match(new RegExp(`goog\\.object\\.extend\\(proto, ${binding.name}\\);`, 'g'))?.length ?? 0;
  return binding.uses === 1 + merges;
}

/** Every use of `specifier`'s binding in `importer` is its declaration or a getter's `return binding.X;`. */
function onlyReadByGetters(importer, specifier) {
  const binding = requireBinding(importer, specifier, '"');
  if (!binding) return false;
  const getters = binding.source.match(new RegExp(`get: function \\(\\) \\{ return ${binding.name}\\.\\w+; \\}`, 'g'))?.length ?? 0;
  return binding.uses === 1 + getters;
}

const leftOut = {
  name: 'left-out',
  setup(b) {
    b.onResolve({ filter: /_pb\.js$/ }, ({ path, importer }) => {
      if (!SDK_MESSAGES.test(importer) || !SDK_ANNOTATION_PROTOS.includes(path)) return undefined;
      if (!onlyMergedIntoProto(importer, path)) {
        return { errors: [{ text: `scripts/bundle.mjs leaves ${path} out of the bundle, but ${importer} uses it for more than merging it into \`proto\`: take it off SDK_ANNOTATION_PROTOS` }] };
      }
      return { path: `agones-sdk-annotation-proto:${path}`, namespace: 'left-out' };
    });
    const unusedPackage = new RegExp(`^(${Object.keys(UNUSED_PACKAGES).map((name) => name.replace(/[./]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter: unusedPackage }, ({ path, importer }) =>
      UNUSED_PACKAGES[path].test(importer) ? { path, namespace: 'left-out', pluginData: { table: 'UNUSED_PACKAGES' } } : undefined,
    );
    const grpcServerModule = new RegExp(`^(${GRPC_SERVER_MODULES.map((m) => m.replace(/[./]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter: grpcServerModule }, ({ path, importer }) => {
      if (!GRPC_SERVER_IMPORTERS.test(importer)) return undefined;
      if (!onlyReadByGetters(importer, path)) {
        return { errors: [{ text: `scripts/bundle.mjs leaves grpc-js's ${path} out of the bundle, but ${importer} uses it for more than re-exporting it through a getter: take it off GRPC_SERVER_MODULES` }] };
      }
      return { path: `@grpc/grpc-js/${path.slice(2)}`, namespace: 'left-out', pluginData: { table: 'GRPC_SERVER_MODULES' } };
    });
    b.onLoad({ filter: /./, namespace: 'left-out' }, ({ path, pluginData }) => ({
      loader: 'js',
      contents: pluginData?.table
        ? `module.exports = new Proxy({}, { get() { throw new Error(${JSON.stringify(`${path} is left out of this bundle (scripts/bundle.mjs, ${pluginData.table})`)}); } });`
        : 'globalThis.proto ??= {};',
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'none',
  // The native addon stays in node_modules: it finds its .node file relative to its own directory.
  external: ['sodium-native'],
  // Hangar's modules find files beside their own (the network worker, sodium-native's binding) by
  // import.meta.url, which a CommonJS file has not: the bundle's own URL stands in for it.
  define: { 'import.meta.url': '__bundleUrl' },
  banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [leftOut],
  metafile: true,
  logLevel: 'warning',
};

// Each bundle, its entry points, and the node options its fleet runs it with: V8 rejects a cache
// built under other V8 flags (test/deploy/bundle.test.ts compares them with the fleet files).
const bundles = {
  'dist/bundle/gameserver': {
    entryPoints: { main: 'dist/gameserver/bundle-launcher.js', server: 'dist/gameserver/main.js', 'network-worker': 'dist/gameserver/net/network-worker.js' },
    nodeOptions: ['--expose-gc'],
  },
  'dist/bundle/simple-game-server': {
    entryPoints: { main: 'dist/gameserver/bundle-launcher.js', server: 'dist/examples/simple-game-server/main.js' },
    nodeOptions: [],
  },
};

mkdirSync('dist/bundle', { recursive: true });
writeFileSync('dist/bundle/package.json', '{ "type": "commonjs" }\n');
const inputs = {};
const codeCache = {};
for (const [outdir, { entryPoints, nodeOptions }] of Object.entries(bundles)) {
  const { metafile } = await build({ ...common, entryPoints, outdir });
  for (const [file, output] of Object.entries(metafile.outputs)) if (output.entryPoint) inputs[file] = Object.keys(output.inputs);
  // The server's top-level code runs, as far as its start goes without waiting on anything (the
  // arena's needs a key to get past its configuration: a throwaway one), then the launcher writes
  // the cache and exits. Without the builder's NODE_OPTIONS: V8 flags there would be the cache's too.
  const launcher = `${outdir}/main.js`;
  rmSync(`${outdir}/server.js.cache`, { force: true });
  const { NODE_OPTIONS: _builders, ...builderEnv } = process.env;
  const env = { ...builderEnv, HANGAR_CODE_CACHE: 'build', ENCRYPTION_KEY: '00'.repeat(32) };
  const built = spawnSync(process.execPath, [...nodeOptions, launcher], { env, encoding: 'utf8', timeout: 60_000 });
  if (built.status !== 0 || !existsSync(`${outdir}/server.js.cache`)) {
    throw new Error(`scripts/bundle.mjs: building ${outdir}/server.js.cache failed (exit ${built.status}): ${built.stderr || built.error}`);
  }
  codeCache[launcher] = nodeOptions;
}
writeFileSync('dist/bundle/inputs.json', `${JSON.stringify(inputs, null, 1)}\n`);
writeFileSync('dist/bundle/code-cache.json', `${JSON.stringify(codeCache, null, 1)}\n`);
