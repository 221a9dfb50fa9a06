-- Which view of game servers each match belongs to (allocator/game-server-source.ts, gameServerSite):
-- a local stack's state directory, a Redis store, an Agones cluster and namespace. A matchmaker
-- that starts ends as abandoned the open matches whose server is not in its view; it may only
-- judge the matches of its own site, since deployments sharing this database (two clusters, two
-- local stacks, staging and production) each see only their own servers.
-- NULL: made before this migration, or by an earlier version still running (a rolling upgrade, a
-- rollback). No sweep can tell whose servers those are, so none ends them (docs/operations.md,
-- "Matches that ended without a result"). Adding the column rewrites nothing; the index reads the
-- table once, holding off writes meanwhile, and keeps only open matches.
ALTER TABLE matches ADD COLUMN site text CHECK (site <> '');

-- The startup sweep: one site's open matches, by age.
CREATE INDEX matches_open_site ON matches (site, created_at) WHERE ended_at IS NULL;
