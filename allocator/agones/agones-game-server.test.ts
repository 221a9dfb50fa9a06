import { describe, expect, it } from '@jest/globals';
import { loadCrd, schemaAt } from '../../test/fixtures/agones/agones-fixtures.js';
import { CrdValidator } from '../../test/fixtures/agones/crd-validator.js';
import { agonesGameServer } from '../../test/helpers/fake-kube-api.js';
import { fromAgonesGameServer } from './agones-game-server.js';

// Reading Agones' GameServer objects into Hangar's model: every field Hangar uses, the defaults for
// fields an Agones version leaves out, and what cannot be read. Inputs are checked against the
// GameServer CRD first, so they are objects a real API server would hold.

const crd = new CrdValidator(loadCrd('gameservers.agones.dev'), schemaAt(loadCrd('fleets.agones.dev'), 'spec', 'template', 'metadata'));

/** A GameServer mid-match: allocated, with players, counters, lists, SDK labels and annotations. */
function allocatedGameServer(): Record<string, unknown> {
  const obj = agonesGameServer('arena-x7k2p-9q4mz', {
    fleet: 'arena',
    state: 'Allocated',
    labels: { mode: 'ctf', 'agones.dev/sdk-acks-allocation': 'true' },
    annotations: { 'hangar.dev/match-id': 'm-42', 'agones.dev/last-allocated': '2026-09-01T10:00:00.123456789Z' },
    hostPort: 7312,
  });
  const meta = obj.metadata as Record<string, unknown>;
  Object.assign(meta, { uid: '0d6c1a8e-2f43-4b1e-9d3c-7a51f0e2b9c4', resourceVersion: '918273', generation: 3, creationTimestamp: '2026-09-01T09:58:02Z' });
  const spec = obj.spec as Record<string, unknown>;
  Object.assign(spec, {
    players: { initialCapacity: 8 },
    counters: { rooms: { count: 0, capacity: 4 } },
    lists: { players: { capacity: 8, values: [] } },
  });
  Object.assign(obj.status as Record<string, unknown>, {
    players: { count: 2, capacity: 8, ids: ['p-1', 'p-2'] },
    counters: { rooms: { count: 1, capacity: 4 } },
    lists: { players: { capacity: 8, values: ['p-1', 'p-2'] } },
  });
  return obj;
}

describe('fromAgonesGameServer', () => {
  it('reads every field Hangar uses', () => {
    const obj = allocatedGameServer();
    expect(crd.errors(obj)).toEqual([]);
    expect(fromAgonesGameServer(obj)).toEqual({
      metadata: {
        name: 'arena-x7k2p-9q4mz',
        namespace: 'default',
        uid: '0d6c1a8e-2f43-4b1e-9d3c-7a51f0e2b9c4',
        resourceVersion: '918273',
        generation: 3,
        creationTimestamp: '2026-09-01T09:58:02Z',
        labels: { 'agones.dev/fleet': 'arena', 'agones.dev/gameserverset': 'arena-7pjrq', mode: 'ctf', 'agones.dev/sdk-acks-allocation': 'true' },
        annotations: {
          'agones.dev/ready-container-id': 'containerd://4b1f',
          'agones.dev/sdk-version': '1.61.0',
          'hangar.dev/match-id': 'm-42',
          'agones.dev/last-allocated': '2026-09-01T10:00:00.123456789Z',
        },
      },
      spec: {
        container: 'simple-game-server',
        ports: [{ name: 'default', portPolicy: 'Dynamic', protocol: 'UDP', container: 'simple-game-server', containerPort: 7654, hostPort: 7312 }],
        health: { disabled: false, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 },
        scheduling: 'Packed',
        sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
        players: { initialCapacity: 8 },
        counters: { rooms: { count: 0, capacity: 4 } },
        lists: { players: { capacity: 8, values: [] } },
        eviction: { safe: 'Never' },
        template: (obj.spec as { template: unknown }).template,
      },
      status: {
        state: 'Allocated',
        address: '34.105.12.7',
        addresses: [
          { type: 'InternalIP', address: '10.128.0.5' },
          { type: 'ExternalIP', address: '34.105.12.7' },
          { type: 'PodIP', address: '10.16.0.7' },
        ],
        ports: [{ name: 'default', port: 7312 }],
        nodeName: 'gke-hangar-default-pool-1a2b',
        reservedUntil: null,
        players: { count: 2, capacity: 8, ids: ['p-1', 'p-2'] },
        counters: { rooms: { count: 1, capacity: 4 } },
        lists: { players: { capacity: 8, values: ['p-1', 'p-2'] } },
      },
    });
  });

  it('reads a Reserved server being deleted, and hands out a frozen record', () => {
    const obj = agonesGameServer('gs-1', { state: 'Reserved' });
    Object.assign(obj.metadata as object, { deletionTimestamp: '2026-09-01T10:05:00Z' });
    Object.assign(obj.status as object, { reservedUntil: '2026-09-01T10:06:00Z' });
    expect(crd.errors(obj)).toEqual([]);
    const gs = fromAgonesGameServer(obj);
    expect(gs.metadata.deletionTimestamp).toBe('2026-09-01T10:05:00Z');
    expect(gs.status.reservedUntil).toBe('2026-09-01T10:06:00Z');
    expect(gs.status.players).toBeNull();
    expect(() => {
      (gs.metadata.labels as Record<string, string>).x = 'y';
    }).toThrow(TypeError);
  });

  it("fills Agones' defaults for fields an object leaves out", () => {
    const obj = {
      metadata: { name: 'bare', namespace: 'default' },
      spec: { template: { spec: { containers: [{ name: 'game', image: 'game:1' }] } }, counters: { rooms: {} }, lists: { players: {} } },
      status: { state: 'Scheduled', counters: { rooms: {} } },
    };
    expect(crd.errors(obj)).toEqual([]);
    const gs = fromAgonesGameServer(obj);
    expect(gs.spec).toMatchObject({
      ports: [],
      health: { disabled: false, initialDelaySeconds: 5, periodSeconds: 5, failureThreshold: 3 },
      scheduling: 'Packed',
      sdkServer: { logLevel: 'Info', grpcPort: 9357, httpPort: 9358 },
      counters: { rooms: { count: 0, capacity: 1000 } },
      lists: { players: { capacity: 1000, values: [] } },
      eviction: { safe: 'Never' },
    });
    expect(gs.spec.players).toBeUndefined();
    expect(gs.status).toEqual({ state: 'Scheduled', address: '', addresses: [], ports: [], nodeName: '', reservedUntil: null, players: null, counters: { rooms: { count: 0, capacity: 1000 } }, lists: {} });
    expect(gs.metadata).toEqual({ name: 'bare', namespace: 'default', uid: '', resourceVersion: '', generation: 0, creationTimestamp: '', labels: {}, annotations: {} });
  });

  it('refuses an object without a name or with a state Hangar does not know', () => {
    expect(() => fromAgonesGameServer({ metadata: {}, status: { state: 'Ready' } })).toThrow(expect.objectContaining({ code: 'KUBE_REQUEST_FAILED' }));
    expect(() => fromAgonesGameServer(agonesGameServer('gs-1', { state: 'Hibernating' }))).toThrow('GameServer gs-1 has state "Hibernating", which this version of Hangar does not know');
  });
});
