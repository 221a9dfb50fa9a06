import type { Container, GameServerSpec } from '../../core/resources.js';
import type { FieldPath } from '../../core/yaml-source.js';
import { gamePortNames, readGameServerEnv, type EnvProblem, type GameServerConfig } from '../../gameserver/game-server-config.js';
import { expand, references } from '../runtime/container-env.js';
import { error, warning, type RuleProblem } from './rule-problem.js';

// Hangar's own game server (gameserver/main.ts) reads its settings from its container's
// environment and refuses to start on a bad one, which on a cluster is a crash loop and locally a
// server that never gets Ready. A designer tunes those settings in the fleet YAML, so its checks
// run there too: the same function the server runs, on the values the YAML writes.

/** Its script: tsc's dist/gameserver/main.js or the bundle the fleets run, dist/bundle/gameserver/main.js. */
const ENTRY_POINT = /(^|\/)gameserver\/main\.js$/;

/** Whether the container runs Hangar's game server: its script, or the image's `gameserver` entry point. */
function runsHangarGameServer(c: Container): boolean {
  if ([...(c.command ?? []), ...(c.args ?? [])].some((word) => ENTRY_POINT.test(word))) return true;
  return c.command === undefined && (c.args?.[0] === 'gameserver' || c.args?.[0] === 'game-server');
}

interface HangarGameServerEnv {
  /** The game-server container's path in the document. */
  at: FieldPath;
  /** The index of each variable's entry in `env` (the last, which wins, as in Kubernetes). */
  written: Map<string, number>;
  /** The values written in the YAML, by variable. */
  literal: Record<string, string>;
  /** Variables from a Secret, a field or a ConfigMap, or expanded from one: only known where the server runs. */
  fromElsewhere: Set<string>;
  /** The `$(NAME)` references of each written value that no entry above defines: Kubernetes leaves them as written. */
  dangling: Map<string, string[]>;
  config: GameServerConfig;
  problems: EnvProblem[];
}

/** The settings the YAML gives Hangar's game server, read as the server reads them; undefined when the spec runs another. */
function hangarGameServerEnv(spec: GameServerSpec, path: FieldPath): HangarGameServerEnv | undefined {
  const containers = spec.template.spec.containers;
  const index = containers.findIndex((c) => c.name === spec.container);
  const container = containers[index];
  if (!container || !runsHangarGameServer(container)) return undefined;
  const env = container.env ?? [];
  const written = new Map<string, number>();
  const literal: Record<string, string> = {};
  const fromElsewhere = new Set<string>();
  const dangling = new Map<string, string[]>();
  env.forEach((v, i) => {
    written.set(v.name, i);
    // Kubernetes expands `$(NAME)` from the entries above, in order; a value built from one that
    // only the cluster knows is not known here either.
    const refs = v.value === undefined ? [] : references(v.value);
    if (v.valueFrom !== undefined || refs.some((name) => fromElsewhere.has(name))) {
      fromElsewhere.add(v.name);
      delete literal[v.name];
    } else {
      fromElsewhere.delete(v.name);
      dangling.set(v.name, refs.filter((name) => !(name in literal)));
      literal[v.name] = expand(v.value ?? '', literal);
    }
  });
  const { config, problems } = readGameServerEnv(literal);
  return {
    at: [...path, 'template', 'spec', 'containers', index],
    written,
    literal,
    fromElsewhere,
    dangling,
    config,
    problems: problems.filter((p) => !fromElsewhere.has(p.variable)),
  };
}

/** The players one server admits (MAX_PLAYERS, written or its default); undefined when the YAML does not say. */
function knownMaxPlayers(env: HangarGameServerEnv): number | undefined {
  return env.fromElsewhere.has('MAX_PLAYERS') || env.problems.some((p) => p.variable === 'MAX_PLAYERS') ? undefined : env.config.MAX_PLAYERS;
}

/**
 * The players one server of this spec admits, whether the YAML writes it, and where (its env value,
 * or the container when it is the default; `path` leads to `spec`), when it runs Hangar's game
 * server and the YAML says.
 */
export function hangarGameServerMaxPlayers(spec: GameServerSpec, path: FieldPath = []): { maxPlayers: number; written: boolean; at: FieldPath } | undefined {
  const env = hangarGameServerEnv(spec, path);
  const maxPlayers = env && knownMaxPlayers(env);
  if (maxPlayers === undefined) return undefined;
  const i = env!.written.get('MAX_PLAYERS');
  return { maxPlayers, written: i !== undefined, at: i === undefined ? env!.at : [...env!.at, 'env', i, 'value'] };
}

/**
 * The port Hangar's game server binds for players (GAME_PORT_NAME, written or its default), and
 * where the YAML says so (its env value, or the container), when the spec runs that server and
 * the YAML says.
 */
export function hangarGameServerPortName(spec: GameServerSpec, path: FieldPath): { name: string; at: FieldPath } | undefined {
  const env = hangarGameServerEnv(spec, path);
  if (!env || env.fromElsewhere.has('GAME_PORT_NAME') || env.problems.some((p) => p.variable === 'GAME_PORT_NAME')) return undefined;
  const i = env.written.get('GAME_PORT_NAME');
  return { name: env.config.GAME_PORT_NAME, at: i === undefined ? env.at : [...env.at, 'env', i, 'value'] };
}

export function gameServerEnvRules(spec: GameServerSpec, path: FieldPath): RuleProblem[] {
  const env = hangarGameServerEnv(spec, path);
  if (!env) return [];
  const { at, written, fromElsewhere, config } = env;

  const out: RuleProblem[] = [];
  for (const p of env.problems) {
    const i = written.get(p.variable);
    const where = i === undefined ? [...at, 'env'] : [...at, 'env', i, 'value'];
    const refs = env.dangling.get(p.variable) ?? [];
    const why = refs.length ? ` (${refs.map((r) => `$(${r})`).join(', ')}: no env entry above it defines ${refs.length > 1 ? 'them' : 'it'}, so it stays as written)` : '';
    out.push(error(where, `${p.variable} ${p.message}${why}; the game server does not start with it`, i === undefined ? 'key' : undefined));
  }
  if (env.literal.ENCRYPTION_KEY) {
    out.push(warning([...at, 'env', written.get('ENCRYPTION_KEY')!, 'value'], 'ENCRYPTION_KEY is written in the YAML: anyone who reads the file can mint connect tokens; take it from a Secret (valueFrom.secretKeyRef)'));
  }

  if (!fromElsewhere.has('GAME_PORT_NAME') && !fromElsewhere.has('NETWORK_WORKERS')) {
    const names = gamePortNames(config);
    const missing = names.filter((n) => !spec.ports.some((p) => p.name === n));
    if (missing.length) {
      out.push(error([...path, 'ports'], `has no port named ${missing.join(', ')}: the game server binds one UDP port per network thread, named ${names.join(', ')} (GAME_PORT_NAME, NETWORK_WORKERS), and does not start without them`));
    }
  }

  const capacity = spec.lists.players?.capacity;
  const maxPlayers = knownMaxPlayers(env);
  if (capacity !== undefined && maxPlayers !== undefined && maxPlayers !== capacity) {
    const where = written.has('MAX_PLAYERS') ? [...at, 'env', written.get('MAX_PLAYERS')!, 'value'] : [...path, 'lists', 'players', 'capacity'];
    out.push(
      warning(
        where,
        maxPlayers < capacity
          ? `MAX_PLAYERS ${maxPlayers}${written.has('MAX_PLAYERS') ? '' : ' (its default)'} is below the players List's capacity ${capacity}: allocation and backfill count ${capacity} seats, and players past ${maxPlayers} are turned away; make them equal`
          : `MAX_PLAYERS ${maxPlayers}${written.has('MAX_PLAYERS') ? '' : ' (its default)'} is above the players List's capacity ${capacity}: the server admits at most ${capacity}; make them equal`,
      ),
    );
  }
  return out;
}
