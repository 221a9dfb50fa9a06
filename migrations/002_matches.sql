-- The matchmaker's records: one row per match, one per player in it. Timestamps that come from
-- different machines (the game server's start/end, a player's connect) are not checked against
-- each other, so clock skew between hosts never costs a record.
CREATE TABLE matches (
  id          text PRIMARY KEY CHECK (id <> ''),
  queue       text NOT NULL CHECK (queue <> ''),
  mode        text NOT NULL CHECK (mode <> ''),
  fleet       text,
  game_server text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  started_at  timestamptz,
  ended_at    timestamptz,
  -- What the game server reported (scores, winner), as JSON.
  result      jsonb,
  -- [{"playerId": "...", "team": "..."}], the roster as formed.
  players     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(players) = 'array')
);

CREATE INDEX matches_queue_created_at ON matches (queue, created_at);
CREATE INDEX matches_game_server ON matches (game_server, created_at) WHERE game_server IS NOT NULL;
-- Matches not yet ended: dashboards and the sweep for matches whose server never reported an end.
CREATE INDEX matches_open ON matches (created_at) WHERE ended_at IS NULL;

CREATE TABLE player_sessions (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Deleting a match (retention) deletes its sessions.
  match_id     text NOT NULL REFERENCES matches (id) ON DELETE CASCADE,
  player_id    text NOT NULL CHECK (player_id <> ''),
  ticket_id    text NOT NULL CHECK (ticket_id <> ''),
  queued_at    timestamptz NOT NULL,
  matched_at   timestamptz NOT NULL,
  connected_at timestamptz,
  ended_at     timestamptz,
  team         text,
  CONSTRAINT player_sessions_one_per_match UNIQUE (match_id, player_id),
  -- Both set by the matchmaker, on one clock.
  CONSTRAINT player_sessions_matched_after_queued CHECK (matched_at >= queued_at)
);

-- A player's history, newest first.
CREATE INDEX player_sessions_player ON player_sessions (player_id, matched_at DESC);
CREATE INDEX player_sessions_ticket ON player_sessions (ticket_id);
