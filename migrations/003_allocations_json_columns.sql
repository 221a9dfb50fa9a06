-- The allocation records' request and ports as json (the text, checked to be JSON) instead of
-- jsonb. Converting each row's request to jsonb was a third of PostgreSQL's CPU per row (about 34
-- µs a row of the matchmaker's request with jsonb, 21 with json, measured alone; BENCHMARKS.md,
-- Allocator under load), and at the stream's full rate every record must reach the database on
-- the cores the allocator runs on. Nothing reads inside these columns on the write path; queries
-- use -> and ->> as before, or cast to jsonb (request::jsonb @> ...) when they need containment.
-- Rewrites the table once, holding its lock meanwhile: the writers keep what they record in their
-- bounded buffers (and count what overflows) until it is done.
ALTER TABLE allocations
  DROP CONSTRAINT allocations_request_check,
  DROP CONSTRAINT allocations_ports_check,
  ALTER COLUMN request TYPE json USING request::json,
  ALTER COLUMN ports DROP DEFAULT,
  ALTER COLUMN ports TYPE json USING ports::json,
  ALTER COLUMN ports SET DEFAULT '[]',
  ADD CONSTRAINT allocations_request_is_object CHECK (json_typeof(request) = 'object'),
  ADD CONSTRAINT allocations_ports_is_array CHECK (json_typeof(ports) = 'array');
