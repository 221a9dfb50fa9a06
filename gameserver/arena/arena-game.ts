import {
  ArenaMessageError,
  decodeInput,
  encodeEvent,
  END_REASONS,
  EventKind,
  MessageType,
  NO_TICK,
  type ArenaEvent,
  type InputMessage,
} from './arena-messages.js';
import { ArenaWorld, type ArenaInput, type ArenaPlayer, type ArenaRules, type InputVerdict, type MatchResult } from './arena-world.js';
import { InterestGrid } from './interest-grid.js';
import { SnapshotHistory } from './snapshot-history.js';

// The arena as a networked game: clients join and leave, their inputs drive the world, and every
// tick each client is sent a snapshot of what it can see. It talks to the network only through
// GameNetwork, so the same game runs over an in-process netcode endpoint or worker threads.

export type Channel = 'unreliable' | 'reliable';

export interface GameNetwork {
  /** Queues `payload` for the client; it must be copied or used at once (the game reuses the buffer). */
  send(client: number, channel: Channel, payload: Buffer): void;
  disconnect(client: number): void;
}

export interface ArenaGameOptions {
  rules: ArenaRules;
  tickRate: number;
  network: GameNetwork;
  /** Entity ids (and so players at once) range below this. */
  maxPlayers: number;
  viewRadius?: number;
  /** Most players one snapshot shows. */
  maxVisible?: number;
  seed?: number;
  /** Called once when the match ends, after every client was told. */
  onMatchEnd?: (result: MatchResult) => void;
  /** Counts what was dropped and why (malformed messages, impossible inputs). */
  onDrop?: (reason: string) => void;
}

interface Client {
  client: number;
  player: ArenaPlayer;
  ackTick: number;
}

export type MatchPhase = 'waiting' | 'running' | 'ended';

export class ArenaGame {
  readonly world: ArenaWorld;
  private readonly grid: InterestGrid<ArenaPlayer>;
  private readonly history: SnapshotHistory;
  private readonly clients = new Map<number, Client>();
  private readonly byEntity = new Map<number, number>();
  private readonly visible: ArenaPlayer[] = [];
  // Every input is decoded into `input`, then handed to the world as `applied` (its aim in
  // radians): two objects per input per player per tick were young garbage for nothing.
  private readonly input: InputMessage = { sequence: 0, ackTick: NO_TICK, moveX: 0, moveY: 0, aim: 0, buttons: 0 };
  private readonly applied: ArenaInput = { sequence: 0, moveX: 0, moveY: 0, aim: 0, buttons: 0 };
  private readonly viewRadius: number;
  private readonly maxVisible: number;
  private currentTick = 0;
  private phase: MatchPhase = 'waiting';

  constructor(private readonly options: ArenaGameOptions) {
    this.world = new ArenaWorld(options.rules, options.seed);
    this.viewRadius = options.viewRadius ?? 30;
    this.maxVisible = options.maxVisible ?? 64;
    this.grid = new InterestGrid(options.rules.size, this.viewRadius);
    this.history = new SnapshotHistory({ maxEntities: options.maxPlayers, maxVisible: this.maxVisible, arenaSize: options.rules.size });
  }

  get matchPhase(): MatchPhase {
    return this.phase;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /**
   * A client finished the handshake: it becomes a player. Returns false when the match is over or
   * full, or when the player is already in (a token's holder could otherwise connect once through
   * each of the server's ports).
   */
  connect(client: number, playerId: string): boolean {
    if (this.phase === 'ended' || this.world.playerCount >= this.options.maxPlayers) return false;
    for (const c of this.clients.values()) if (c.player.playerId === playerId) return false;
    const player = this.world.join(playerId);
    this.clients.set(client, { client, player, ackTick: NO_TICK });
    this.byEntity.set(player.entity, client);
    this.phase = 'running';
    const { rules, tickRate } = this.options;
    this.sendEvent(client, { kind: EventKind.Welcome, self: player.entity, tick: this.currentTick, arenaSize: Math.round(rules.size), tickRate, matchSeconds: rules.matchSeconds });
    return true;
  }

  disconnect(client: number): void {
    const c = this.clients.get(client);
    if (!c) return;
    this.clients.delete(client);
    this.byEntity.delete(c.player.entity);
    this.world.leave(c.player.entity);
    this.history.forget(c.player.entity);
    if (this.phase === 'running' && this.clients.size === 0) this.finish(this.world.end('empty'));
  }

  /** A message from a connected client. Malformed and impossible ones are dropped and counted. */
  message(client: number, payload: Buffer): void {
    const c = this.clients.get(client);
    if (!c) return;
    if (payload[0] !== MessageType.Input) return this.drop('unexpected-message');
    let verdict: InputVerdict;
    try {
      const input = decodeInput(payload, this.input);
      const applied = this.applied;
      applied.sequence = input.sequence;
      applied.moveX = input.moveX;
      applied.moveY = input.moveY;
      applied.aim = (input.aim / 65536) * 2 * Math.PI;
      applied.buttons = input.buttons;
      verdict = this.world.applyInput(c.player.entity, applied);
      if (verdict === 'applied' && (input.ackTick === NO_TICK || input.ackTick <= this.currentTick)) c.ackTick = input.ackTick;
    } catch (err) {
      if (err instanceof ArenaMessageError) return this.drop(err.reason);
      throw err;
    }
    if (verdict !== 'applied') this.drop(verdict);
  }

  /** One simulation step, then a snapshot to every client; `simulated` is called between the two (the tick's phases). */
  tick(tick: number, dt: number, simulated?: () => void): void {
    this.currentTick = tick;
    if (this.phase !== 'running') return;
    this.grid.rebuild(this.world.allPlayers());
    const hits = this.world.step(dt, (p) => this.grid.near(p));
    // A hit player respawned elsewhere, out of the cells the grid has it in: without a rebuild its
    // snapshot would leave out its own entity, and everyone near its new place, for this tick.
    if (hits.length > 0) this.grid.rebuild(this.world.allPlayers());
    for (const hit of hits) {
      const event = encodeEvent({ kind: EventKind.Hit, shooter: hit.shooter, target: hit.target });
      this.sendToEntity(hit.shooter, event);
      this.sendToEntity(hit.target, event);
    }
    simulated?.();
    this.history.record(tick, this.world.allPlayers());
    for (const c of this.clients.values()) {
      const count = this.grid.nearest(c.player, this.viewRadius, this.maxVisible, this.visible);
      this.options.network.send(c.client, 'unreliable', this.history.build(tick, c.player.entity, this.visible, count, c.ackTick));
    }
    if (this.world.result) this.finish(this.world.result);
  }

  private finish(result: MatchResult): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    const reason = END_REASONS.indexOf(result.reason);
    for (const [client, c] of this.clients) {
      this.sendEvent(client, { kind: EventKind.MatchEnd, reason, winner: result.winner ?? '', yourScore: c.player.score, durationSeconds: result.durationSeconds });
    }
    this.options.onMatchEnd?.(result);
  }

  private sendToEntity(entity: number, event: Buffer): void {
    const client = this.byEntity.get(entity);
    if (client !== undefined) this.options.network.send(client, 'reliable', event);
  }

  private sendEvent(client: number, event: ArenaEvent): void {
    this.options.network.send(client, 'reliable', encodeEvent(event));
  }

  private drop(reason: string): void {
    this.options.onDrop?.(reason);
  }
}
