import { describe, expect, it } from '@jest/globals';
import { ALL_GAME_SERVER_STATES, canTransition, copyMeta, copyStatus, GameServerState as S, initialStatus, LEGAL_TRANSITIONS, transition, type GameServer } from './game-server.js';
import { deepFreeze } from './freeze.js';
import { IllegalTransitionError } from './errors.js';
import type { GameServerSpec } from './resources.js';

const spec: GameServerSpec = {
  container: 'game',
  ports: [{ name: 'default', portPolicy: 'Dynamic', protocol: 'UDP', containerPort: 7654 }],
  health: { disabled: false, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 },
  scheduling: 'Packed',
  sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
  players: { initialCapacity: 10 },
  counters: { rooms: { count: 1, capacity: 10 } },
  lists: { players: { capacity: 100, values: ['a'] } },
  eviction: { safe: 'Never' },
  template: { spec: { containers: [{ name: 'game', command: ['node'] }] } },
};

function server(state: GameServer['status']['state']): GameServer {
  return {
    metadata: { name: 'gs-1', namespace: 'default', uid: 'u', resourceVersion: '1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z', labels: {}, annotations: {} },
    spec,
    status: { ...initialStatus(spec), state },
  };
}

describe('GameServer states', () => {
  it('has all eleven Agones states', () => {
    expect([...ALL_GAME_SERVER_STATES].sort()).toEqual(
      ['Allocated', 'Creating', 'Error', 'PortAllocation', 'Ready', 'RequestReady', 'Reserved', 'Scheduled', 'Shutdown', 'Starting', 'Unhealthy'],
    );
    expect(Object.keys(LEGAL_TRANSITIONS).sort()).toEqual([...ALL_GAME_SERVER_STATES].sort());
  });

  const legal: Array<[S, S]> = [
    [S.PortAllocation, S.Creating],
    [S.Creating, S.Starting],
    [S.Starting, S.Scheduled],
    [S.Scheduled, S.RequestReady],
    [S.RequestReady, S.Ready],
    [S.Ready, S.Allocated],
    [S.Ready, S.Reserved],
    [S.Reserved, S.Ready],
    [S.Reserved, S.Allocated],
    [S.Allocated, S.RequestReady],
    [S.Allocated, S.Allocated],
    [S.Ready, S.Shutdown],
    [S.Allocated, S.Unhealthy],
    [S.Unhealthy, S.Shutdown],
    [S.Creating, S.Error],
  ];
  it.each(legal)('allows %s → %s', (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(transition(server(from), to).status.state).toBe(to);
  });

  const illegal: Array<[S, S]> = [
    [S.Unhealthy, S.Ready],
    [S.Unhealthy, S.RequestReady],
    [S.Error, S.Ready],
    [S.Shutdown, S.Ready],
    [S.Shutdown, S.Shutdown],
    [S.PortAllocation, S.Ready],
    [S.Scheduled, S.Ready],
    [S.Ready, S.Ready],
    [S.Ready, S.Creating],
  ];
  it.each(illegal)('refuses %s → %s with a coded error', (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    const attempt = () => transition(server(from), to);
    expect(attempt).toThrow(IllegalTransitionError);
    expect(attempt).toThrow(`gs-1 cannot move from ${from} to ${to}`);
  });

  it('keeps reservedUntil only while Reserved', () => {
    const reserved = { ...server(S.Reserved), status: { ...server(S.Reserved).status, reservedUntil: '2026-01-01T00:00:05Z' } };
    expect(transition(reserved, S.Reserved).status.reservedUntil).toBe('2026-01-01T00:00:05Z');
    expect(transition(reserved, S.Ready).status.reservedUntil).toBeNull();
  });

  it('starts counters, lists and players from the spec without sharing its arrays', () => {
    const status = initialStatus(spec);
    expect(status.state).toBe(S.PortAllocation);
    expect(status.players).toEqual({ count: 0, capacity: 10, ids: [] });
    expect(status.counters).toEqual({ rooms: { count: 1, capacity: 10 } });
    status.lists.players!.values.push('b');
    expect(spec.lists.players!.values).toEqual(['a']);
  });

  it('moves a frozen record (as the stores keep them) to a new status, sharing every other part', () => {
    const gs = deepFreeze({ ...server(S.Ready), metadata: { ...server(S.Ready).metadata, deletionTimestamp: '2026-01-01T00:00:09Z' } });
    const allocated = transition(gs, S.Allocated);
    expect(allocated).toStrictEqual({ ...gs, status: { ...gs.status, state: S.Allocated } });
    expect(Object.isFrozen(allocated.status)).toBe(false);
    expect(allocated.metadata).toBe(gs.metadata);
    expect(allocated.status.lists).toBe(gs.status.lists);
  });
});

describe('copies of a record\'s parts', () => {
  it('copy every field of a status, sharing its parts', () => {
    const status = deepFreeze({ ...server(S.Reserved).status, address: '10.0.0.1', addresses: [{ type: 'InternalIP', address: '10.0.0.1' }], ports: [{ name: 'default', port: 7000 }], nodeName: 'n', reservedUntil: '2026-01-01T00:00:05Z' });
    const copy = copyStatus(status);
    expect(copy).toStrictEqual(status);
    expect(copy).not.toBe(status);
    expect(Object.isFrozen(copy)).toBe(false);
    expect(copy.ports).toBe(status.ports);
  });

  it('copy every field of metadata, and a deletionTimestamp only when there is one', () => {
    const meta = deepFreeze({ ...server(S.Ready).metadata, labels: { a: '1' }, annotations: { b: '2' } });
    const copy = copyMeta(meta);
    expect(copy).toStrictEqual(meta);
    expect(Object.hasOwn(copy, 'deletionTimestamp')).toBe(false);
    expect(copy.labels).toBe(meta.labels);
    expect(Object.isFrozen(copy)).toBe(false);
    const deleted = { ...meta, deletionTimestamp: '2026-01-01T00:00:09Z' };
    expect(copyMeta(deleted)).toStrictEqual(deleted);
  });
});
