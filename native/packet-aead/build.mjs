// Builds the packet AEAD addon (`npm run build:native`; `npm ci` runs it too) with the node-gyp that
// npm bundles, against the headers of the node running this build: its include/node holds Node-API's
// and OpenSSL's, so nothing is downloaded and the addon matches the node (and the OpenSSL) that
// loads it. Needs python3, make and a C compiler.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const nodeDir = path.resolve(process.execPath, '..', '..');
const opensslHeader = path.join(nodeDir, 'include', 'node', 'openssl', 'evp.h');
if (!existsSync(opensslHeader)) {
  console.error(`packet-aead: ${opensslHeader} is missing: this node has no headers installed next to it (install a node from nodejs.org or a package that ships include/node)`);
  process.exit(1);
}
execFileSync('node-gyp', ['rebuild', '--loglevel=warn', `--nodedir=${nodeDir}`, `--directory=${path.dirname(fileURLToPath(import.meta.url))}`], { stdio: 'inherit' });
