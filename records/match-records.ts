import { systemClock, type Cancel, type Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { backoffDelay } from '../core/retry.js';
import type { RecordsMetrics } from '../core/metrics.js';
import { answeredWithin, type Database } from './database.js';
import { isRowError } from './records-errors.js';

// Matches and player sessions (migrations/002_matches.sql). A match row, with a session per
// player, is written when the match is made; the game server's result fills in the end. Writes run
// in the background, a match's in the order they were asked for, so a slow or absent database never
// delays a match. While the database cannot be reached they wait (up to maxPending of them), and one
// probe at a time asks it, backing off, until it answers; then they are written. Every write is
// idempotent, so one retried after a lost answer changes nothing. The match starts when its server
// is claimed (the first player arrived). Each match carries the site of the game servers it was
// made on (migrations/004_match_sites.sql): the records of one database may hold several
// deployments' matches, and each judges only its own.

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

export interface MatchRecordsOptions {
  clock?: Clock;
  /** The first wait before asking a database that failed again, doubling up to maxRetryDelayMs (defaults 1 s, 30 s). */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Writes kept waiting for the database; beyond it new ones are dropped and counted (default 20,000). */
  maxPending?: number;
  /** A write or probe with no answer after this long counts as failed (default 30 s): a partition would otherwise hang it for as long as TCP takes. */
  writeTimeoutMs?: number;
  /** close() waits this long for the writes still pending (default 10 s). */
  closeTimeoutMs?: number;
}

const TABLE = 'matches';

export class MatchRecords {
  /** Each match's last write: the next one of that match waits for it. */
  private readonly chains = new Map<string, Promise<void>>();
  private pending = 0;
  /** While the database is not answering: settles when a probe gets an answer, or at close. */
  private outage: { over: Promise<void>; end: () => void; stopProbe: Cancel } | undefined;
  private droppedInOutage = 0;
  private closed = false;
  /** close() gave up: writes still pending were counted as dropped, whatever they do later. */
  private abandoned = false;
  private readonly clock: Clock;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxPending: number;
  private readonly writeTimeoutMs: number;
  private readonly closeTimeoutMs: number;

  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly log: Logger,
    private readonly metrics: RecordsMetrics,
    /** The site of the game servers this writer's matches are made on (gameServerSite). */
    readonly site: string,
    options: MatchRecordsOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.maxRetryDelayMs = Math.max(this.retryDelayMs, options.maxRetryDelayMs ?? 30_000);
    this.maxPending = options.maxPending ?? 20_000;
    this.writeTimeoutMs = options.writeTimeoutMs ?? 30_000;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 10_000;
  }

  matchMade(m: MatchRecord): void {
    const roster = m.players.map((p) => ({ playerId: p.playerId, team: String(p.team) }));
    this.enqueue(m.id, async () => {
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
  }

  /** The first player reached the match's game server. */
  matchStarted(matchId: string, startedAt: Date): void {
    this.enqueue(matchId, async () => {
      await this.db.query('UPDATE matches SET started_at = $2 WHERE id = $1 AND started_at IS NULL', [matchId, startedAt]);
    });
  }

  /**
   * The game server reported how the match ended. A result with `connectedAt` (player id → ISO
   * time, as the arena reports it) also dates each player's arrival; players it leaves out never came.
   */
  matchEnded(matchId: string, result: unknown, endedAt: Date): void {
    const arrivals = connectionTimes(result);
    this.enqueue(matchId, async () => {
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

  /** Waits until every write asked for so far is written or dropped (while the database is down, until it is back). */
  async flush(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  /**
   * Takes no more writes and waits up to closeTimeoutMs for those pending, with no more retries once
   * the database fails; what is still pending then is dropped and counted. Does not close the database.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.outage?.stopProbe();
    // Those waiting for the database try once more, now.
    this.outage?.end();
    let cancel: Cancel = () => undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      cancel = this.clock.setTimeout(() => resolve(true), this.closeTimeoutMs);
    });
    const gaveUp = await Promise.race([this.flush().then(() => false), timedOut]);
    cancel();
    if (!gaveUp) return;
    this.abandoned = true;
    this.metrics.dropped.inc({ table: TABLE, reason: 'shutdown' }, this.pending);
    this.log.warn({ dropped: this.pending }, 'could not write every match record before closing; dropping the rest');
    this.metrics.buffered.set({ table: TABLE }, 0);
  }

  /** Runs `write` after the match's earlier writes, retrying it while the database is unreachable. */
  private enqueue(matchId: string, write: () => Promise<void>): void {
    if (this.closed) return this.drop('closed', 'match record asked for after close; dropped');
    if (this.pending >= this.maxPending) return this.drop('buffer_full', 'too many match records waiting for the database; dropping new ones');
    this.pending++;
    this.metrics.buffered.set({ table: TABLE }, this.pending);
    const previous = this.chains.get(matchId);
    const done: Promise<void> = (previous ? previous.then(() => this.attempt(write)) : this.attempt(write)).finally(() => {
      if (this.chains.get(matchId) === done) this.chains.delete(matchId);
      if (this.abandoned) return;
      this.pending--;
      this.metrics.buffered.set({ table: TABLE }, this.pending);
    });
    this.chains.set(matchId, done);
  }

  /** Settles when the write is done or dropped; never rejects. */
  private async attempt(write: () => Promise<void>): Promise<void> {
    for (;;) {
      if (this.outage) await this.outage.over;
      const started = this.clock.monotonic();
      try {
        await answeredWithin(write(), this.writeTimeoutMs, this.clock);
        this.observe(started, 'ok');
        if (!this.abandoned) this.metrics.written.inc({ table: TABLE });
        return;
      } catch (err) {
        this.observe(started, 'error');
        if (this.abandoned) return;
        if (isRowError(err)) return this.drop('rejected', 'the database refused a match record; dropped', err);
        if (this.closed) return this.drop('shutdown', 'cannot write a match record while closing; dropped', err);
        this.startOutage(err);
      }
    }
  }

  /** The first failure of a run of them: writes wait, and a probe asks the database until it answers. */
  private startOutage(err: unknown): void {
    if (this.outage) return;
    let end!: () => void;
    const over = new Promise<void>((resolve) => (end = resolve));
    let probes = 1;
    let delay = backoffDelay(this.retryDelayMs, this.maxRetryDelayMs, probes);
    let stop: Cancel = () => undefined;
    const outage = { over, end, stopProbe: () => stop() };
    this.outage = outage;
    this.droppedInOutage = 0;
    this.log.warn({ err, pending: this.pending, retryInMs: delay }, 'cannot write match records; keeping them and retrying');
    const probe = () => {
      stop = this.clock.setTimeout(() => {
        answeredWithin(this.db.query('SELECT 1'), this.writeTimeoutMs, this.clock).then(
          () => {
            if (this.outage !== outage) return;
            this.outage = undefined;
            this.log.info({ pending: this.pending, dropped: this.droppedInOutage }, 'match records are being written again');
            end();
          },
          (failure: unknown) => {
            if (this.outage !== outage || this.closed) return;
            delay = backoffDelay(this.retryDelayMs, this.maxRetryDelayMs, ++probes);
            // One line when writing stops, then one per roughly maxRetryDelayMs of failing.
            if (delay === this.maxRetryDelayMs) this.log.warn({ err: failure, pending: this.pending, retryInMs: delay }, 'still cannot write match records');
            probe();
          },
        );
      }, delay);
    };
    probe();
  }

  private observe(started: number, outcome: 'ok' | 'error'): void {
    this.metrics.flushDuration.observe({ table: TABLE, outcome }, (this.clock.monotonic() - started) / 1000);
  }

  private drop(reason: 'closed' | 'buffer_full' | 'rejected' | 'shutdown', message: string, err?: unknown): void {
    this.metrics.dropped.inc({ table: TABLE, reason });
    if (this.outage) {
      // One line per outage for what it cost, the rest counted.
      if (this.droppedInOutage++) return;
    }
    this.log.warn({ err, reason }, message);
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
