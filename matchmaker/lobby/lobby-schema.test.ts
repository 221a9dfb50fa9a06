import { describe, expect, it } from '@jest/globals';
import { LobbyRequestInvalidError } from './lobby-errors.js';
import { AcceptRequestSchema, ClientMessageSchema, IdSchema, LoginRequestSchema, parseLobbyRequest, PartyPassRequestSchema, TicketRequestSchema } from './lobby-schema.js';

const regions = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`region-${i}`, 20]));
/** Shaped like party passes (compact JWS); whether they verify is PlayerAuth's business, not the schema's. */
const passes = (n: number) => Array.from({ length: n }, (_, i) => `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwJHtpfSJ9.sig-${i}_x`);
const submit = { type: 'submit', id: 1, queue: 'duel', latencies: { 'eu-west': 24 } };

function problems(schema: Parameters<typeof parseLobbyRequest>[0], value: unknown, what = 'message'): readonly string[] {
  try {
    parseLobbyRequest(schema, value, what);
  } catch (err) {
    if (err instanceof LobbyRequestInvalidError) return err.problems;
    throw err;
  }
  return [];
}

describe('lobby schema', () => {
  const accepted: Array<[string, unknown]> = [
    ['a minimal submit', submit],
    ['a full submit at every limit', { ...submit, id: 'req-1', latencies: { ...regions(31), 'us-east': 10_000 }, skill: 5000, party: passes(16) }],
    ['a party pass request', { type: 'party-pass', id: 9, leader: 'guest-0d5c:a.b_c' }],
    ['zero latency and skill', { ...submit, latencies: { lan: 0 }, skill: 0 }],
    ['cancel', { type: 'cancel', id: 2, ticketId: 'ticket-1' }],
    ['status', { type: 'status', id: 3, ticketId: 'a:b.c-d_e' }],
    ['accept', { type: 'accept', id: 4, matchId: 'm-1' }],
    ['decline', { type: 'decline', id: 5, matchId: 'm-1' }],
    ['ping', { type: 'ping', id: 0 }],
  ];
  for (const [description, message] of accepted) {
    it(`accepts ${description}`, () => {
      expect(problems(ClientMessageSchema, message)).toEqual([]);
    });
  }

  const refused: Array<[string, unknown, string[]]> = [
    ['not an object', [1, 2], ['message: must be a JSON object']],
    ['null', null, ['message: must be a JSON object']],
    ['no type', { id: 1 }, ['type: must be one of queues, submit, party-pass, cancel, status, accept, decline, ping']],
    ['an unknown type', { type: 'join', id: 1 }, ['type: must be one of queues, submit, party-pass, cancel, status, accept, decline, ping']],
    ['no id', { type: 'ping' }, ['id: required']],
    ['an object id', { type: 'ping', id: {} }, ['id: must be a string of 1 to 64 characters or a non-negative integer']],
    ['an unknown field', { ...submit, mode: 'ranked' }, ['mode: unknown field']],
    ['a missing queue', { type: 'submit', id: 1, latencies: { eu: 1 } }, ['queue: required']],
    ['a numeric queue', { ...submit, queue: 7 }, ['queue: Invalid input: expected string, received number']],
    ['a queue with spaces', { ...submit, queue: 'ranked duel' }, ['queue: must be a queue name of 1 to 64 letters, digits, "_", "." or "-"']],
    ['no latencies', { ...submit, latencies: {} }, ['latencies: must measure 1 to 32 regions, got 0']],
    ['33 regions', { ...submit, latencies: regions(33) }, ['latencies: must measure 1 to 32 regions, got 33']],
    ['10,000 regions (one problem, not thousands)', { ...submit, latencies: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`bad key ${i}`, -1])) }, ['latencies: must measure 1 to 32 regions, got 10000']],
    ['latencies as an array', { ...submit, latencies: [24] }, ['latencies: Invalid input: expected record, received array']],
    ['a negative latency', { ...submit, latencies: { 'eu-west': -1 } }, ['latencies.eu-west: must be from 0 to 10000 ms']],
    ['a latency over 10 s', { ...submit, latencies: { 'eu-west': 10_001 } }, ['latencies.eu-west: must be from 0 to 10000 ms']],
    ['a latency as a string', { ...submit, latencies: { 'eu-west': '24' } }, ['latencies.eu-west: Invalid input: expected number, received string']],
    ['a bad region name', { ...submit, latencies: { 'eu west': 24 } }, ['latencies.eu west: must be a region name of 1 to 64 letters, digits, "_", "." or "-"']],
    ['skill over 5000', { ...submit, skill: 5001 }, ['skill: must be from 0 to 5000']],
    ['a party of 17', { ...submit, party: passes(17) }, ['party: at most 16 other players']],
    // The old protocol, and the lock-out it allowed: a player id puts no one in a ticket.
    ['a party of player ids', { ...submit, party: [...passes(1), 'bob'] }, ['party[1]: must be a party pass (the member gets one with POST /v1/party-passes or a party-pass message), not a player id']],
    ['an over-long party pass', { ...submit, party: [`a.b.${'c'.repeat(1021)}`] }, ['party[0]: must be a party pass of at most 1024 characters']],
    ['a party pass request without a leader', { type: 'party-pass', id: 1 }, ['leader: required']],
    ['a party pass request naming a bad id', { type: 'party-pass', id: 1, leader: 'bob smith' }, ['leader: must be a player id of 1 to 64 letters, digits, "_", ".", ":" or "-"']],
    ['a cancel without a ticket', { type: 'cancel', id: 1 }, ['ticketId: required']],
    ['an over-long ticket id', { type: 'status', id: 1, ticketId: 't'.repeat(129) }, ['ticketId: must be an id of 1 to 128 letters, digits, "_", ".", ":" or "-"']],
    ['an accept with a ticket id', { type: 'accept', id: 1, ticketId: 't' }, ['matchId: required', 'ticketId: unknown field']],
    ['several problems at once', { ...submit, queue: '', skill: -1, extra: 1 }, ['queue: must be a queue name of 1 to 64 letters, digits, "_", "." or "-"', 'skill: must be from 0 to 5000', 'extra: unknown field']],
  ];
  for (const [description, message, expected] of refused) {
    it(`refuses ${description}, naming the field`, () => {
      expect(problems(ClientMessageSchema, message)).toEqual(expected);
    });
  }

  it('checks HTTP bodies and path parameters the same way', () => {
    expect(problems(TicketRequestSchema, { queue: 'duel', latencies: { eu: 1 }, type: 'submit' }, 'body')).toEqual(['type: unknown field']);
    expect(problems(TicketRequestSchema, 'duel', 'body')).toEqual(['body: must be a JSON object']);
    expect(problems(PartyPassRequestSchema, { leader: 'alice', queue: 'duel' }, 'body')).toEqual(['queue: unknown field']);
    expect(problems(AcceptRequestSchema, { accept: 'yes' }, 'body')).toEqual(['accept: Invalid input: expected boolean, received string']);
    expect(problems(IdSchema, 'a/b', 'ticketId')).toEqual(['ticketId: must be an id of 1 to 128 letters, digits, "_", ".", ":" or "-"']);
    expect(problems(LoginRequestSchema, { guest: true, name: 'Ada' })).toEqual([]);
    expect(problems(LoginRequestSchema, { username: 'ada', password: 'x' }, 'body')).toEqual([
      'guest: only guest login is available: send { "guest": true } (no identity provider is configured)',
      'username: unknown field',
      'password: unknown field',
    ]);
    expect(problems(LoginRequestSchema, { guest: true, name: 'a\u0000b' })).toEqual(['name: must not contain control characters']);
  });

  it('puts every problem in the error message too', () => {
    expect(() => parseLobbyRequest(ClientMessageSchema, { ...submit, skill: 9000 }, 'submit message')).toThrow('invalid submit message: skill: must be from 0 to 5000');
  });
});
