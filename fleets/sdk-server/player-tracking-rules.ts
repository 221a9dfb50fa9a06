import type { GameServer, PlayerStatus } from '../../core/game-server.js';
import { agonesError, changed, unchanged, type SdkRule } from './sdk-rule.js';

// Alpha player tracking, with the Agones sidecar's rules and texts. The sidecar keeps the players in
// memory and patches status.players a second later; Hangar writes status.players at once, so the
// record and the answers never disagree. A server whose spec has no `players` starts at capacity 0,
// as in Agones, so connects fail until SetPlayerCapacity.

export function playersOf(gs: GameServer): PlayerStatus {
  return gs.status.players ?? { count: 0, capacity: 0, ids: [] };
}

function withPlayers(gs: GameServer, players: PlayerStatus): GameServer {
  return { ...gs, status: { ...gs.status, players } };
}

/** true when added; false (no error) when already connected; "players are already at capacity" when full. */
export function playerConnect(playerId: string): SdkRule<boolean> {
  return (gs) => {
    const players = playersOf(gs);
    if (players.ids.includes(playerId)) return unchanged(false);
    if (players.ids.length >= players.capacity) throw agonesError('players are already at capacity');
    const ids = [...players.ids, playerId];
    return changed(withPlayers(gs, { ...players, ids, count: ids.length }), true);
  };
}

/** true when removed; false (no error) when the player was not connected. */
export function playerDisconnect(playerId: string): SdkRule<boolean> {
  return (gs) => {
    const players = playersOf(gs);
    if (!players.ids.includes(playerId)) return unchanged(false);
    const ids = players.ids.filter((id) => id !== playerId);
    return changed(withPlayers(gs, { ...players, ids, count: ids.length }), true);
  };
}

/** Any capacity is accepted, as in Agones; lowering it below the count disconnects nobody. */
export function setPlayerCapacity(capacity: number): SdkRule<void> {
  return (gs) => changed(withPlayers(gs, { ...playersOf(gs), capacity }), undefined);
}
