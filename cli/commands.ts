import { parseArgs } from 'node:util';
import { AppError, ConfigError, UsageError } from '../core/errors.js';
import type { CliIo } from './io.js';
import { runUp } from './up.js';
import { runValidate } from './validate.js';

// The `hangar` command's dispatch. Each subcommand lives in its own module and returns an exit code.

const USAGE = `usage: hangar <command> [options]

commands:
  up [--config FILE]      run the local stack: fleets from config/fleets as game-server processes,
                          the API on :8000 and the admin server on :9090 (npm start runs this)
  validate FILE|DIR...    check Fleet, GameServer and FleetAutoscaler YAML; prints
                          file:line:col: field: message for every problem, exits 1 if any
  help                    this text`;

export async function runCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'up': {
        const { values } = parseArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true, allowPositionals: false });
        return await runUp({ configFile: values.config, env, cwd: process.cwd() }, io);
      }
      case 'validate': {
        const { positionals } = parseArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
        return await runValidate(positionals, io);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.stderr(p);
      return 1;
    }
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`hangar: ${(err as Error).message}`);
      io.stderr(USAGE);
      return 2;
    }
    if (err instanceof AppError) {
      io.stderr(`hangar: ${err.message} [${err.code}]`);
      return 1;
    }
    throw err;
  }
}
