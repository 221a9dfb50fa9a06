import type { Logger } from '../core/logger.js';
import type { RecordsMetrics } from '../core/metrics.js';
import type { Database } from './database.js';

// Matches and player sessions (migrations/002_matches.sql). A match row, with a session per
// player, is written when the match is made; the game server's result fills in the end. Writes run
// in the background: a slow database never delays a match, it only costs a counted dropped record.
// The match starts when its server is claimed (the first player arrived). Each match carries the
// site of the game servers it was made on (migrations/004_match_sites.sql): the records of one
// database may hold several deployments' matches, and each judges only its own.

export interface MatchRecord {
  id: string;
  queue: string;
  mode: string;
  fleet: string;
  gameServer: string;
  createdAt: Date;
  players: Array<{ playerId: string; ticketId: string; team: number; queuedAt: Date }>;
}

/** The match's end and result, and its sessions' end and each player's arrival (first report wins). */
const END_MATCH = `WITH ended AS (
  UPDATE matches SET ended_at = $2, result = $3 WHERE id = $1 AND ended_at IS NULL RETURNING id
), arrivals AS (
  SELECT * FROM unnest($4::text[], $5::timestamptz[]) AS a(player_id, at)
)
UPDATE player_sessions s
SET ended_at = COALESCE(s.ended_at, $2),
    connected_at = COALESCE(s.connected_at, (SELECT a.at FROM arrivals a WHERE a.player_id = s.player_id))
WHERE s.match_id = (SELECT id FROM ended)`;

/**
 * Open matches of site $5 made before $1 on a game server not among $2 (the servers of that site
 * that exist) end now, as abandoned, with their sessions; the ids of those ended.
 */
const END_ORPHANS = `WITH ended AS (
  UPDATE matches
  SET ended_at = $3,
      result = jsonb_build_object('matchId', id, 'abandoned', true, 'reason', $4::text)
  WHERE ended_at IS NULL AND site = $5 AND created_at < $1 AND (game_server IS NULL OR game_server <> ALL ($2::text[]))
  RETURNING id
), sessions AS (
  UPDATE player_sessions SET ended_at = $3 WHERE ended_at IS NULL AND match_id IN (SELECT id FROM ended)
)
SELECT id FROM ended`;

/** How old an open match must be before a sweep of a store that may lag (an Agones view) ends it: its server may be too new to be listed. */
export const ORPHAN_MIN_AGE_MS = 60_000;

/** What a sweep of one site's open matches ended. */
export interface OrphanSweep {
  site: string;
  /** How many matches it ended. */
  ended: number;
}

export class MatchRecords {
  private readonly inFlight = new Set<Promise<void>>();
  /** Matches whose row is still being inserted: their updates wait for it (writes may overtake each other). */
  private readonly inserting = new Map<string, Promise<void>>();

  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly log: Logger,
    private readonly metrics: RecordsMetrics,
    /** The site of the game servers this writer's matches are made on (gameServerSite). */
    readonly site: string,
  ) {}

  matchMade(m: MatchRecord): void {
    const roster = m.players.map((p) => ({ playerId: p.playerId, team: String(p.team) }));
    const inserted = this.run('matches', async () => {
      await this.db.query('INSERT INTO matches (id, queue, mode, fleet, game_server, created_at, players, site) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING', [
        m.id,
        m.queue,
        m.mode,
        m.fleet,
        m.gameServer,
        m.createdAt,
        JSON.stringify(roster),
        this.site,
      ]);
      if (!m.players.length) return;
      const values: unknown[] = [];
      const rows = m.players.map((p, i) => {
        values.push(m.id, p.playerId, p.ticketId, p.queuedAt, m.createdAt, String(p.team));
        const b = i * 6;
        return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
      });
      await this.db.query(`INSERT INTO player_sessions (match_id, player_id, ticket_id, queued_at, matched_at, team) VALUES ${rows.join(', ')} ON CONFLICT (match_id, player_id) DO NOTHING`, values);
    });
    this.inserting.set(m.id, inserted);
    void inserted.finally(() => this.inserting.delete(m.id));
  }

  /** The first player reached the match's game server. */
  matchStarted(matchId: string, startedAt: Date): void {
    this.run('matches', async () => {
      await this.inserting.get(matchId);
      await this.db.query('UPDATE matches SET started_at = $2 WHERE id = $1 AND started_at IS NULL', [matchId, startedAt]);
    });
  }

  /**
   * The game server reported how the match ended. A result with `connectedAt` (player id → ISO
   * time, as the arena reports it) also dates each player's arrival; players it leaves out never came.
   */
  matchEnded(matchId: string, result: unknown, endedAt: Date): void {
    this.run('matches', async () => {
      await this.inserting.get(matchId);
      const arrivals = connectionTimes(result);
      // One statement, so nobody reads a match that has its result but not yet its sessions' times.
      await this.db.query(END_MATCH, [matchId, endedAt, JSON.stringify(result), arrivals.map(([player]) => player), arrivals.map(([, at]) => at)]);
    });
  }

  /**
   * Ends as abandoned every open match of this site made more than `minAgeMs` before `now` whose
   * game server is not in `existing` (the site's servers): one whose end no watch saw (the
   * matchmaker was down, or the stack stopped, when its server went). Other sites' matches, and
   * those of no site (made before sites were recorded), are not this view's to judge.
   */
  async endOrphans(existing: readonly string[], now: Date, minAgeMs: number): Promise<OrphanSweep> {
    const reason = 'its game server was gone when the matchmaker started, and no result had been recorded';
    const { rows } = await this.db.query<{ id: string }>(END_ORPHANS, [new Date(now.getTime() - minAgeMs), existing, now, reason, this.site]);
    const sweep = { site: this.site, ended: rows.length };
    if (sweep.ended) this.log.warn(sweep, 'open matches of this site whose game server is gone ended as abandoned');
    else this.log.info(sweep, 'no open match of this site had lost its game server');
    return sweep;
  }

  /** Waits for the writes in flight. */
  async flush(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }

  /** Runs `write` in the background; the returned promise settles when it is done (never rejects). */
  private run(table: string, write: () => Promise<void>): Promise<void> {
    const done = write()
      .then(() => this.metrics.written.inc({ table }))
      .catch((err: unknown) => {
        this.metrics.dropped.inc({ table, reason: 'rejected' });
        this.log.warn({ err, table }, 'match record not written');
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
    return done;
  }
}

/** The valid entries of a result's `connectedAt`; a game that reports none, or garbage, dates no one. */
function connectionTimes(result: unknown): Array<[string, Date]> {
  const reported = (result as { connectedAt?: unknown } | null)?.connectedAt;
  if (typeof reported !== 'object' || reported === null) return [];
  return Object.entries(reported).flatMap(([player, iso]) => {
    const at = typeof iso === 'string' ? new Date(iso) : undefined;
    return at && !Number.isNaN(at.getTime()) ? [[player, at] as [string, Date]] : [];
  });
}
