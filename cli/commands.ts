import { parseCliArgs } from './args.js';
import { ConfigError, UsageError } from '../core/errors.js';
import { CLI_VARIABLES } from '../core/config.js';
import { asCodedError } from '../core/http-errors.js';
import { ApiError } from './api-client.js';
import { runFleet } from './fleet.js';
import { runGs } from './gs.js';
import { processIo, type CliIo } from './io.js';
import { runStatus } from './status.js';
import { runAllocate } from './allocate.js';
import { runBots } from './bots.js';
import { runToken } from './token.js';
import { localStackHere } from './local-stack.js';
import { runUp } from './up.js';
import { runValidate } from './validate.js';

// The `hangar` command's dispatch. Each subcommand lives in its own module and returns an exit code.

// Each command's lines of the usage text, so a mistake or `hangar <command> --help` shows that
// command's own lines instead of burying the error under every command's.
const COMMAND_USAGE: ReadonlyArray<readonly [command: string, lines: string]> = [
  ['up', `  up [--config FILE]      run the local stack: fleets from config/fleets as game-server processes,
                          the API on :8000 and the admin server on :9090 (npm start runs this)`],
  ['validate', `  validate FILE|DIR...    check Fleet, GameServer and FleetAutoscaler YAML, matchmaking rules
                          and service configs (hangar validate config checks them all); prints
                          file:line:col: field: message for every problem, exits 1 if any; warns
                          of replicas and maxReplicas past the local stack's port range`],
  ['status', `  status [--once] [--interval SECONDS]
                          the running stack's fleets and game servers; on a terminal it refreshes
                          every second until Ctrl-C, with --once or into a pipe it prints once`],
  ['fleet', `  fleet list              the running stack's fleets, one line each`],
  ['fleet', `  fleet scale NAME N      set fleet NAME's replicas to N`],
  ['fleet', `  fleet apply -f FILE     create or update the Fleets, GameServers and FleetAutoscalers in FILE
                          (-f - reads stdin); prints file:line:col: field: message for every
                          problem, exits 1 if any`],
  ['fleet', `  fleet delete NAME | -f FILE
                          delete fleet NAME (its Ready servers stop, Allocated ones finish their
                          match first), or the Fleets, GameServers and FleetAutoscalers FILE
                          names (-f - reads stdin); refused for what a file in the fleets
                          directory holds: remove it from the file instead`],
  ['gs', `  gs list [--fleet NAME] [--state STATE]
                          the running stack's game servers: name, fleet, state, address, age, pid,
                          restarts and why the process last exited`],
  ['allocate', `  allocate --fleet NAME [--label KEY=VALUE ...] [--wait-for-ready MS] [--json]
                          allocate a Ready game server of fleet NAME through the stack's allocator,
                          as a matchmaker would (--label: only a server that has that label);
                          exits 1 when none is Ready ($HANGAR_API_KEY when
                          the allocator requires API keys)`],
  ['token', `  token --server NAME --player ID --address HOST:PORT [--address ...] [--expires SECONDS]
        [--timeout SECONDS] [--user-data STRING]
                          mint a netcode connect token (base64) for game server NAME, keyed by
                          $ENCRYPTION_KEY (64 hex characters or base64 of 32 bytes), else by the
                          local stack's key (secrets/ in the state directory of the hangar up
                          running here, else of the one it would run: .hangar, or the config's
                          local.state_dir, HANGAR_LOCAL__STATE_DIR); expires in 300 s,
                          connection timeout 5 s unless given`],
  ['bots', `  bots --players N --duration SECONDS (--gameserver NAME | --fleet NAME | --server HOST:PORT
       --server-id NAME) [--tick-rate HZ] [--state-dir DIR] [--json]
                          bot players, one UDP socket each, against a game server of the running
                          stack (its key from the stack's state directory, as for token, or
                          --state-dir) or any server ($ENCRYPTION_KEY);
                          a progress line a second, then a summary (--json: one JSON object)`],
  ['bots', `  bots --matchmake --players N [--lobby URL] [--queue NAME] [--latency REGION=MS ...]
       [--duration SECONDS] [--json]
                          the players' journey: each bot logs in to the lobby (default: the one
                          hangar up runs here, else would run here, http://127.0.0.1:8080 unless
                          lobby.port or HANGAR_LOBBY__PORT moves it) as a guest, queues (default queue battle,
                          latency local=10), accepts, connects over UDP to the server it is given
                          and plays until its match ends (at most --duration, default 900 s);
                          the summary adds time-to-match and time-to-connected percentiles`],
  ['help', `  help                    this text`],
];

/** The commands that talk to a running stack, and the option that says where it is. */
const API_COMMANDS = new Set(['status', 'fleet', 'gs', 'allocate', 'bots']);
const API_OPTION = "--api URL (default $HANGAR_API_URL, else the API of the stack hangar up runs in this directory, whatever its --config, else of the one it would run here: http://127.0.0.1:8000 unless its config's api.port or HANGAR_API__PORT moves it)";

const apiCommands = [...API_COMMANDS];
const USAGE = `usage: hangar <command> [options]\n\ncommands:\n${COMMAND_USAGE.map(([, lines]) => lines).join('\n')}\n\n${apiCommands.slice(0, -1).join(', ')} and ${apiCommands.at(-1)!} take ${API_OPTION}.`;

/** The usage of one command (every command's when it is not one), with a pointer to the rest. */
function usageOf(command: string | undefined): string {
  const own = COMMAND_USAGE.filter(([name]) => name === command && name !== 'help').map(([, lines]) => lines);
  if (own.length === 0) return USAGE;
  const api = API_COMMANDS.has(command!) ? `\n\n${command} takes ${API_OPTION}.` : '';
  return `usage:\n${own.join('\n')}${api}\n\nhangar help lists every command.`;
}

/** `cwd`: where the command runs, which says which local stack it finds (tests give a directory of their own). */
export async function runCli(argv: string[], io: CliIo, env: NodeJS.ProcessEnv, cwd = process.cwd()): Promise<number> {
  const [command, ...rest] = argv;
  // `hangar <command> --help` is how most people look a command up; each command's own parser would refuse it.
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    io.stdout(usageOf(command));
    return 0;
  }
  // The stack that runs here, or would: where it keeps its state (its key, the log a silent stack
  // writes) and where it listens, for the commands that talk to it when no flag or variable names another.
  const here = localStackHere(env, cwd);
  const stateDir = () => here.stateDir();
  const localApiUrl = () => here.urls()?.api;
  const localLobbyUrl = () => here.urls()?.lobby;
  try {
    switch (command) {
      case 'up': {
        const { values } = parseCliArgs({ args: rest, options: { config: { type: 'string', short: 'c' } }, strict: true, allowPositionals: false });
        return await runUp({ configFile: values.config, env, cwd }, io);
      }
      case 'validate': {
        const { positionals } = parseCliArgs({ args: rest, options: {}, strict: true, allowPositionals: true });
        // How many servers that stack holds; without (its config does not load) validate says why, if given it.
        return await runValidate(positionals, io, { bounds: here.bounds() });
      }
      case 'status':
        // Only the real stdout can be a terminal worth redrawing.
        return await runStatus(rest, io, { apiUrlFromEnv: env[CLI_VARIABLES.apiUrl], localApiUrl, stateDir, tty: io === processIo && process.stdout.isTTY === true, rows: () => process.stdout.rows });
      case 'fleet':
        return await runFleet(rest, io, { apiUrlFromEnv: env[CLI_VARIABLES.apiUrl], localApiUrl, stateDir, adminToken: env.ADMIN_TOKEN || undefined });
      case 'gs':
        return await runGs(rest, io, { apiUrlFromEnv: env[CLI_VARIABLES.apiUrl], localApiUrl, stateDir });
      case 'token':
        return runToken(rest, io, { encryptionKey: env.ENCRYPTION_KEY, cwd, stateDir });
      case 'allocate':
        return await runAllocate(rest, io, { apiUrl: env[CLI_VARIABLES.apiUrl], apiKey: env[CLI_VARIABLES.apiKey], localApiUrl, stateDir });
      case 'bots':
        return await runBots(rest, io, { encryptionKey: env.ENCRYPTION_KEY, apiUrl: env[CLI_VARIABLES.apiUrl], cwd, stateDir, localApiUrl, localLobbyUrl });
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
      io.stderr(usageOf(command));
      return 2;
    }
    const coded = err instanceof ApiError ? err : asCodedError(err);
    if (coded) {
      io.stderr(`hangar: ${coded.message} [${coded.code}]`);
      return 1;
    }
    throw err;
  }
}
