import { DEFAULT_GAME_PORT, GAME_PORT_LABEL } from '../../core/hangar-metadata.js';
import { gamePortName } from '../../core/player-ports.js';
import type { GameServerSpec } from '../../core/resources.js';
import type { FieldPath } from '../../core/yaml-source.js';
import { hangarGameServerPortName } from './game-server-env-rules.js';
import { error, warning, type RuleProblem } from './rule-problem.js';

// The port players are sent (core/player-ports.ts) is named by the game server's
// hangar.dev/game-port label, `default` without one: the fleet says which of its ports is the
// game's, and the matchmaker sends players that one only, never a metrics or admin port.

/** `labels` are the game server's (a Fleet's template metadata, a GameServer's metadata), at `labelsPath`; `path` leads to its spec. */
export function playerPortRules(labels: Readonly<Record<string, string>>, labelsPath: FieldPath, spec: GameServerSpec, path: FieldPath): RuleProblem[] {
  const name = gamePortName(labels);
  const names = spec.ports.map((p) => p.name);
  const list = names.join(', ');
  const out: RuleProblem[] = [];
  if (labels[GAME_PORT_LABEL] !== undefined && !names.includes(name)) {
    const sent = names.length ? `players would be sent the first port, ${names[0]}` : 'it has no ports';
    out.push(error([...labelsPath, GAME_PORT_LABEL], `names the port players are sent to, but the game server has no port ${JSON.stringify(name)} (its ports: ${list || 'none'}); ${sent}`));
  } else if (labels[GAME_PORT_LABEL] === undefined && new Set(names).size > 1 && !names.includes(DEFAULT_GAME_PORT)) {
    out.push(
      warning(
        [...path, 'ports'],
        `no port is named ${DEFAULT_GAME_PORT}, so the matchmaker sends players the first port, ${names[0]}: name the game's port ${DEFAULT_GAME_PORT}, or name it in the label ${GAME_PORT_LABEL}`,
        'key',
      ),
    );
  }
  const bound = hangarGameServerPortName(spec, path);
  if (bound && bound.name !== name && names.includes(name) && names.includes(bound.name)) {
    out.push(
      error(
        bound.at,
        `the game server binds port ${JSON.stringify(bound.name)} (GAME_PORT_NAME) but players are sent port ${JSON.stringify(name)} (${labels[GAME_PORT_LABEL] === undefined ? `no ${GAME_PORT_LABEL} label: ${DEFAULT_GAME_PORT}` : GAME_PORT_LABEL}): name the same port in both`,
      ),
    );
  }
  return out;
}
