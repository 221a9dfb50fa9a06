#!/usr/bin/env node
import { runCli } from './commands.js';
import { processIo } from './io.js';

runCli(process.argv.slice(2), processIo, process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`hangar: unexpected failure: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
