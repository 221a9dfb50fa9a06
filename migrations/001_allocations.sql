-- Every allocation the allocator answered, written in batches off the request path
-- (records/allocation-records.ts). The writer retries a batch whose acknowledgement was lost, so
-- it inserts with ON CONFLICT (id) DO NOTHING and ids are made by the writer.
CREATE TABLE allocations (
  id           uuid PRIMARY KEY,
  requested_at timestamptz NOT NULL,
  -- The GameServerAllocation spec as the allocator read it (after defaults).
  request      jsonb NOT NULL CHECK (jsonb_typeof(request) = 'object'),
  state        text NOT NULL CHECK (state IN ('Allocated', 'UnAllocated', 'Contention')),
  game_server  text,
  fleet        text,
  address      text,
  -- [{"name": "default", "port": 7000}], as in the allocation result.
  ports        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(ports) = 'array'),
  latency_ms   double precision NOT NULL CHECK (latency_ms >= 0),
  -- Who asked: the allocator's name for the calling client.
  client       text,
  -- No foreign key to matches: allocation rows arrive in batches, possibly before their match's row.
  match_id     text,
  CONSTRAINT allocations_allocated_has_server CHECK (state <> 'Allocated' OR game_server IS NOT NULL)
);

-- Recent allocations, time ranges, and retention deletes.
CREATE INDEX allocations_requested_at ON allocations (requested_at);
-- One game server's history.
CREATE INDEX allocations_game_server ON allocations (game_server, requested_at) WHERE game_server IS NOT NULL;
CREATE INDEX allocations_match_id ON allocations (match_id) WHERE match_id IS NOT NULL;
