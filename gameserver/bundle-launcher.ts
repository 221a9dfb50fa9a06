import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

// The `main.js` of each game-server bundle (scripts/bundle.mjs builds it beside `server.js`, the
// game server itself): it runs server.js from V8's code cache, `server.js.cache`, built by `npm run
// build` after the server's top-level code had run once. A game server starting on a busy machine
// then neither parses nor compiles the functions its start runs (BENCHMARKS.md, helper-73).
//
// A cache is only ever used for the source it was built from: V8 itself checks its own version and
// flags (a cache built under other flags is rejected and the source compiled as usual) but, of the
// source, only its length, so the cache starts with the SHA-256 of server.js and its path and is
// ignored unless both match (the path because stack traces would name the one in the cache). With source maps on (`node --enable-source-maps`), server.js is required as usual,
// since Node maps only the modules it loads itself.
//
// HANGAR_CODE_CACHE=build (scripts/bundle.mjs): run server.js's top-level code, write the cache, exit
// before anything the server started runs. HANGAR_CODE_CACHE=check: say on stdout whether the cache
// would be used (`used`, `rejected` by V8, `stale` or `none`) and exit.

const file = fileURLToPath(new URL('./server.js', import.meta.url));
const cacheFile = `${file}.cache`;
const mode = process.env.HANGAR_CODE_CACHE;
const bundleRequire = createRequire(file);

function run(): void {
  const source = readFileSync(file, 'utf8');
  const digest = createHash('sha256').update(file).update('\0').update(source).digest();
  let cache: Buffer | undefined;
  try {
    cache = readFileSync(cacheFile);
  } catch {
    // No cache: compiled from source.
  }
  const fresh = cache !== undefined && cache.subarray(0, digest.length).equals(digest);
  // CommonJS's wrapper on a line of its own, so that server.js's lines and columns stay its own.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: file,
    lineOffset: -1,
    cachedData: fresh ? cache!.subarray(digest.length) : undefined,
  });
  if (mode === 'check') {
    process.stdout.write(cache === undefined ? 'none' : !fresh ? 'stale' : script.cachedDataRejected ? 'rejected' : 'used');
    process.exit(0);
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void).call(module.exports, module.exports, bundleRequire, module, file, path.dirname(file));
  if (mode === 'build') {
    writeFileSync(cacheFile, Buffer.concat([digest, script.createCachedData()]));
    process.exit(0);
  }
}

if (process.sourceMapsEnabled && mode === undefined) bundleRequire(file);
else run();
