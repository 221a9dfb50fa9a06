// The sample game "arena": players move and shoot in a square 2-D arena. The server is the
// authority: it turns each player's latest input into motion at no more than the maximum speed,
// drops inputs that are impossible (out of order, out of range, unknown buttons), decides every
// hit, and ends the match at the time or score limit. Pure simulation: no I/O, no clock, no
// randomness except the seeded spawn points, so a match replays identically in tests.

export interface ArenaRules {
  /** Side of the square arena, in metres. */
  size: number;
  /** Metres per second. */
  maxSpeed: number;
  /** How far a shot reaches, in metres. */
  shotRange: number;
  /** Half-width of the cone a shot hits, in radians. */
  shotSpread: number;
  /** Seconds between two shots of one player. */
  shotCooldown: number;
  matchSeconds: number;
  /** A player reaching this many points ends the match. */
  scoreLimit: number;
}

/** An arena big enough that `players` of them keep about the same crowding as eight in 60 × 60 m. */
export function rulesFor(players: number, overrides: Partial<ArenaRules> = {}): ArenaRules {
  return {
    size: Math.max(60, Math.ceil(Math.sqrt(players / 8) * 60)),
    maxSpeed: 6,
    shotRange: 12,
    shotSpread: 0.15,
    shotCooldown: 0.5,
    matchSeconds: 300,
    scoreLimit: 25,
    ...overrides,
  };
}

export const Button = { Fire: 1 } as const;
const KNOWN_BUTTONS = Button.Fire;

/** One input as the client sends it, already decoded from its message. */
export interface ArenaInput {
  /** Increases with every input the client sends; older or repeated ones are dropped. */
  sequence: number;
  /** Desired direction, each axis −127..127 (the length is clamped to 127: full speed). */
  moveX: number;
  moveY: number;
  /** Facing, radians in [0, 2π). */
  aim: number;
  buttons: number;
}

export type InputVerdict = 'applied' | 'stale' | 'out-of-range' | 'unknown-buttons' | 'no-such-player';

export interface ArenaPlayer {
  readonly entity: number;
  readonly playerId: string;
  x: number;
  y: number;
  aim: number;
  score: number;
  /** Times this player was hit (and respawned). */
  deaths: number;
  lastSequence: number;
  moveX: number;
  moveY: number;
  fire: boolean;
  cooldown: number;
}

export interface MatchResult {
  reason: 'time' | 'score-limit' | 'empty';
  durationSeconds: number;
  winner: string | null;
  scores: Array<{ playerId: string; score: number; deaths: number }>;
}

export interface HitEvent {
  shooter: number;
  target: number;
}

export class ArenaWorld {
  private readonly players = new Map<number, ArenaPlayer>();
  private readonly freeEntities: number[] = [];
  private nextEntity = 0;
  private elapsed = 0;
  private seed: number;
  private ended: MatchResult | undefined;

  constructor(
    readonly rules: ArenaRules,
    seed = 1,
  ) {
    this.seed = seed >>> 0 || 1;
  }

  get playerCount(): number {
    return this.players.size;
  }

  get elapsedSeconds(): number {
    return this.elapsed;
  }

  get result(): MatchResult | undefined {
    return this.ended;
  }

  player(entity: number): ArenaPlayer | undefined {
    return this.players.get(entity);
  }

  allPlayers(): IterableIterator<ArenaPlayer> {
    return this.players.values();
  }

  /** Adds a player at a random spawn point; returns its entity id (reused after it leaves). */
  join(playerId: string): ArenaPlayer {
    const entity = this.freeEntities.pop() ?? this.nextEntity++;
    const p: ArenaPlayer = { entity, playerId, x: 0, y: 0, aim: 0, score: 0, deaths: 0, lastSequence: -1, moveX: 0, moveY: 0, fire: false, cooldown: 0 };
    this.spawn(p);
    this.players.set(entity, p);
    return p;
  }

  leave(entity: number): void {
    if (this.players.delete(entity)) this.freeEntities.push(entity);
  }

  /** Takes the player's latest intent; the next step turns it into motion. */
  applyInput(entity: number, input: ArenaInput): InputVerdict {
    const p = this.players.get(entity);
    if (!p) return 'no-such-player';
    if (input.sequence <= p.lastSequence) return 'stale';
    if (!inRange(input.moveX) || !inRange(input.moveY) || !(input.aim >= 0 && input.aim < 2 * Math.PI)) return 'out-of-range';
    if ((input.buttons & ~KNOWN_BUTTONS) !== 0) return 'unknown-buttons';
    p.lastSequence = input.sequence;
    p.moveX = input.moveX;
    p.moveY = input.moveY;
    p.aim = input.aim;
    p.fire = (input.buttons & Button.Fire) !== 0;
    return 'applied';
  }

  /**
   * Advances the match by `dt` seconds: moves every player (never faster than maxSpeed, never out
   * of the arena), resolves shots, and ends the match when a limit is reached. Returns the hits.
   */
  step(dt: number, nearby: (p: ArenaPlayer) => Iterable<ArenaPlayer>): HitEvent[] {
    if (this.ended) return [];
    const { maxSpeed, size } = this.rules;
    for (const p of this.players.values()) {
      let mx = p.moveX;
      let my = p.moveY;
      const len = Math.sqrt(mx * mx + my * my); // not Math.hypot, which allocates here
      if (len > 127) {
        mx = (mx / len) * 127;
        my = (my / len) * 127;
      }
      p.x = clamp(p.x + (mx / 127) * maxSpeed * dt, 0, size);
      p.y = clamp(p.y + (my / 127) * maxSpeed * dt, 0, size);
      p.cooldown = Math.max(0, p.cooldown - dt);
    }
    const hits: HitEvent[] = [];
    for (const p of this.players.values()) {
      if (!p.fire || p.cooldown > 0) continue;
      p.cooldown = this.rules.shotCooldown;
      const target = this.firstInLine(p, nearby(p));
      if (!target) continue;
      p.score++;
      target.deaths++;
      this.spawn(target);
      hits.push({ shooter: p.entity, target: target.entity });
    }
    this.elapsed += dt;
    const leader = this.leader();
    if (leader && leader.score >= this.rules.scoreLimit) this.end('score-limit');
    // Seconds are summed tick by tick, so allow for the rounding of 30 × (1/30).
    else if (this.elapsed >= this.rules.matchSeconds - 1e-9) this.end('time');
    return hits;
  }

  /** Ends the match now (for example when every player has left). */
  end(reason: MatchResult['reason']): MatchResult {
    if (this.ended) return this.ended;
    const scores = [...this.players.values()]
      .map((p) => ({ playerId: p.playerId, score: p.score, deaths: p.deaths }))
      .sort((a, b) => b.score - a.score || a.deaths - b.deaths || a.playerId.localeCompare(b.playerId));
    const top = scores[0];
    const tie = scores[1] && top && scores[1].score === top.score && scores[1].deaths === top.deaths;
    // The records keep this: 3.5, not the 3.4999999999999973 that 105 × (1/30) sums to.
    const durationSeconds = Math.round(this.elapsed * 1000) / 1000;
    this.ended = { reason, durationSeconds, winner: top && !tie && top.score > 0 ? top.playerId : null, scores };
    return this.ended;
  }

  private leader(): ArenaPlayer | undefined {
    let best: ArenaPlayer | undefined;
    for (const p of this.players.values()) if (!best || p.score > best.score) best = p;
    return best;
  }

  /** The closest other player inside the shooter's cone and range. */
  private firstInLine(shooter: ArenaPlayer, candidates: Iterable<ArenaPlayer>): ArenaPlayer | undefined {
    const { shotRange, shotSpread } = this.rules;
    let best: ArenaPlayer | undefined;
    let bestDist = shotRange * shotRange;
    for (const t of candidates) {
      if (t === shooter) continue;
      const dx = t.x - shooter.x;
      const dy = t.y - shooter.y;
      const d2 = dx * dx + dy * dy;
      if (d2 > bestDist || d2 === 0) continue;
      const off = Math.abs(angleBetween(Math.atan2(dy, dx), shooter.aim));
      if (off > shotSpread) continue;
      best = t;
      bestDist = d2;
    }
    return best;
  }

  private spawn(p: ArenaPlayer): void {
    p.x = this.random() * this.rules.size;
    p.y = this.random() * this.rules.size;
  }

  /** mulberry32: small, fast, seeded. */
  private random(): number {
    this.seed = (this.seed + 0x6d2b79f5) >>> 0;
    let t = this.seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

function inRange(axis: number): boolean {
  return Number.isInteger(axis) && axis >= -127 && axis <= 127;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Signed difference of two angles, in (−π, π]. */
function angleBetween(a: number, b: number): number {
  let d = a - b;
  while (d > Math.PI) d -= 2 * Math.PI;
  while (d <= -Math.PI) d += 2 * Math.PI;
  return d;
}
