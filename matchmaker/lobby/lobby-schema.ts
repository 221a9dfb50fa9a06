import { z } from 'zod';
import { formatFieldPath } from '../../core/yaml-source.js';
import { PLAYER_ID_PATTERN } from '../player-auth.js';
import { LobbyRequestInvalidError } from './lobby-errors.js';

// What the lobby accepts, as strict zod schemas: an unknown field, a wrong type or an oversized
// value is refused before anything reaches the matchmaker. The limits are guards on size, not game
// rules (a queue's own party size and latency windows are the matchmaker's to apply).

export const MAX_REGIONS = 32;
export const MAX_LATENCY_MS = 10_000;
export const MAX_PARTY = 16;
/** A party pass is about 400 characters; the limit keeps 16 of them well inside one request. */
export const MAX_PARTY_PASS_LENGTH = 1024;
export const MAX_SKILL = 5000;
/** HTTP bodies and WebSocket frames; the largest valid request is a few KiB. */
export const MAX_REQUEST_BYTES = 16 * 1024;

const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
const ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

const name = (what: string) => z.string().regex(NAME_PATTERN, `must be a ${what} of 1 to 64 letters, digits, "_", "." or "-"`);
export const IdSchema = z.string().regex(ID_PATTERN, 'must be an id of 1 to 128 letters, digits, "_", ".", ":" or "-"');
const playerId = z.string().regex(PLAYER_ID_PATTERN, 'must be a player id of 1 to 64 letters, digits, "_", ".", ":" or "-"');
// A compact JWS: the pass's signature and claims are PlayerAuth's to check, once the shape is right.
const partyPass = z
  .string()
  .max(MAX_PARTY_PASS_LENGTH, `must be a party pass of at most ${MAX_PARTY_PASS_LENGTH} characters`)
  .regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, 'must be a party pass (the member gets one with POST /v1/party-passes or a party-pass message), not a player id');
const latencyMs = z.number().min(0, `must be from 0 to ${MAX_LATENCY_MS} ms`).max(MAX_LATENCY_MS, `must be from 0 to ${MAX_LATENCY_MS} ms`);

// The count is checked before the entries, so a flood of bad regions is one problem, not thousands.
const latencies = z
  .record(z.string(), z.unknown())
  .refine((o) => Object.keys(o).length >= 1 && Object.keys(o).length <= MAX_REGIONS, {
    error: (iss) => `must measure 1 to ${MAX_REGIONS} regions, got ${Object.keys(iss.input as object).length}`,
  })
  .pipe(z.record(name('region name'), latencyMs));

const ticketFields = {
  queue: name('queue name'),
  latencies,
  skill: z.number().min(0, `must be from 0 to ${MAX_SKILL}`).max(MAX_SKILL, `must be from 0 to ${MAX_SKILL}`).optional(),
  /** One party pass from each other member: their consent, not their ids (see PlayerAuth.partyOf). */
  party: z.array(partyPass).max(MAX_PARTY, `at most ${MAX_PARTY} other players`).optional(),
};

/** POST /v1/tickets. */
export const TicketRequestSchema = z.strictObject(ticketFields);
/** A ticket as a player sends it: `party` holds passes, which the lobby turns into member ids. */
export type LobbyTicketRequest = z.infer<typeof TicketRequestSchema>;

const partyPassFields = { leader: playerId };
/** POST /v1/party-passes: the asking player's consent to be in `leader`'s tickets. */
export const PartyPassRequestSchema = z.strictObject(partyPassFields);

/** POST /v1/login: guests only (see PlayerAuth.issue for where an identity provider would go). */
export const LoginRequestSchema = z.strictObject({
  guest: z.literal(true, 'only guest login is available: send { "guest": true } (no identity provider is configured)'),
  name: z
    .string()
    .min(1, 'must be 1 to 32 characters')
    .max(32, 'must be 1 to 32 characters')
    .regex(/^[^\p{C}]+$/u, 'must not contain control characters')
    .optional(),
});

/** POST /v1/matches/:id/accept. */
export const AcceptRequestSchema = z.strictObject({ accept: z.boolean() });

export const RequestIdSchema = z.union([z.string().min(1).max(64), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)], {
  error: (iss) => (iss.input === undefined ? 'required' : 'must be a string of 1 to 64 characters or a non-negative integer'),
});

export const CLIENT_MESSAGE_TYPES = ['queues', 'submit', 'party-pass', 'cancel', 'status', 'accept', 'decline', 'ping'] as const;

/** One WebSocket message from a player; the reply carries its `id`. */
export const ClientMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('queues'), id: RequestIdSchema }),
  z.strictObject({ type: z.literal('submit'), id: RequestIdSchema, ...ticketFields }),
  z.strictObject({ type: z.literal('party-pass'), id: RequestIdSchema, ...partyPassFields }),
  z.strictObject({ type: z.literal('cancel'), id: RequestIdSchema, ticketId: IdSchema }),
  z.strictObject({ type: z.literal('status'), id: RequestIdSchema, ticketId: IdSchema }),
  z.strictObject({ type: z.literal('accept'), id: RequestIdSchema, matchId: IdSchema }),
  z.strictObject({ type: z.literal('decline'), id: RequestIdSchema, matchId: IdSchema }),
  z.strictObject({ type: z.literal('ping'), id: RequestIdSchema }),
]);
export type ClientMessage = z.infer<typeof ClientMessageSchema>;

/** `value` parsed by `schema`, or LobbyRequestInvalidError naming every bad field (`what` names a value that is not an object). */
export function parseLobbyRequest<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value, { error: (iss) => (iss.input === undefined && iss.code === 'invalid_type' ? 'required' : undefined) });
  if (result.success) return result.data;
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const where = formatFieldPath(path);
    if (issue.code === 'unrecognized_keys') for (const key of issue.keys) problems.push(`${formatFieldPath([...path, key])}: unknown field`);
    else if (issue.code === 'invalid_union' && where === 'type') problems.push(`type: must be one of ${CLIENT_MESSAGE_TYPES.join(', ')}`);
    else if (issue.code === 'invalid_key') problems.push(`${where}: ${issue.issues[0]?.message ?? issue.message}`);
    else if (issue.code === 'invalid_type' && issue.expected === 'object' && where === '') problems.push(`${what}: must be a JSON object`);
    else problems.push(`${where || what}: ${issue.message}`);
  }
  throw new LobbyRequestInvalidError(what, problems);
}
