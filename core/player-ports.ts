import { DEFAULT_GAME_PORT, GAME_PORT_LABEL } from './hangar-metadata.js';

// Which of a game server's ports a player is sent: the game's own, never the others a fleet
// declares (its metrics or admin port). An allocation's result lists every port, as Agones'
// GameServerAllocation does; the matchmaker's `matched` event, the connect tokens' addresses
// and `hangar bots` take only these.

/** The name of the port players are sent to, by the server's labels (its fleet's template). */
export function gamePortName(labels: Readonly<Record<string, string>>): string {
  return labels[GAME_PORT_LABEL]?.trim() || DEFAULT_GAME_PORT;
}

/**
 * The ports a player is sent: the one named by gamePortName, then its `<name>-1`, `<name>-2`...
 * (one per further network worker of Hangar's game server) in the order the server lists them;
 * the first port when none has that name (one unnamed port is Agones' `default`); none when the
 * server has no port.
 */
export function playerPorts<P extends { name: string }>(ports: readonly P[], labels: Readonly<Record<string, string>>): P[] {
  const name = gamePortName(labels);
  const game = ports.find((p) => p.name === name);
  if (!game) return ports.slice(0, 1);
  const worker = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`);
  return [game, ...ports.filter((p) => worker.test(p.name))];
}
