import { describe, expect, it } from '@jest/globals';
import { AutoscalerWebhookError, ErrorCode } from '../../core/errors.js';
import { fleetAutoscaleReview, parseFleetAutoscaleResponse, webhookUrl } from './fleet-autoscale-review.js';
import { fleetViewFixture } from './fleet-view-fixture.js';

describe('fleetAutoscaleReview', () => {
  it('carries uid, name, namespace and the status as Agones marshals it (empty parts left out)', () => {
    const fleet = fleetViewFixture({ name: 'arena', status: { replicas: 10, readyReplicas: 4, reservedReplicas: 1, allocatedReplicas: 5 } });
    expect(fleetAutoscaleReview({ ...fleet, metadata: { namespace: 'games' } }, 'uid-1')).toEqual({
      request: { uid: 'uid-1', name: 'arena', namespace: 'games', status: { replicas: 10, readyReplicas: 4, reservedReplicas: 1, allocatedReplicas: 5 } },
      response: null,
    });
  });

  it('adds players, counters, lists, labels and annotations when there are any', () => {
    const fleet = fleetViewFixture({ status: { replicas: 2, players: { count: 3, capacity: 20 } }, counters: { rooms: { count: 1, capacity: 8 } } });
    const review = fleetAutoscaleReview({ ...fleet, metadata: { labels: { mode: 'ctf' }, annotations: { owner: 'ops' } } }, 'u');
    expect(review.request).toMatchObject({
      namespace: 'default',
      status: { players: { count: 3, capacity: 20 }, counters: { rooms: { count: 1, capacity: 8, allocatedCount: 0, allocatedCapacity: 0 } } },
      labels: { mode: 'ctf' },
      annotations: { owner: 'ops' },
    });
    expect(review.request).not.toHaveProperty('status.lists');
  });
});

describe('parseFleetAutoscaleResponse', () => {
  const answer = (response: unknown) => JSON.stringify({ request: null, response });
  const ok: Array<[string, string, { replicas: number; limited: boolean }]> = [
    ['scale: true takes the replicas', answer({ uid: 'u', scale: true, replicas: 12 }), { replicas: 12, limited: false }],
    ['scale: true to zero', answer({ scale: true, replicas: 0 }), { replicas: 0, limited: false }],
    ["scale: false keeps the fleet's current replicas", answer({ uid: 'u', scale: false, replicas: 99 }), { replicas: 5, limited: false }],
    ['scale: false needs no replicas', answer({ scale: false }), { replicas: 5, limited: false }],
  ];
  for (const [description, body, expected] of ok) it(description, () => expect(parseFleetAutoscaleResponse(body, 5)).toEqual(expected));

  const bad: Array<[string, string, RegExp]> = [
    ['not JSON', 'invalid data', /not JSON/],
    ['no response', JSON.stringify({ request: {} }), /response is missing/],
    ['a JSON string', '"scale"', /not a usable FleetAutoscaleReview/],
    ['no scale', answer({ replicas: 3 }), /response\.scale must be true or false/],
    ['scale as a string', answer({ scale: 'yes', replicas: 3 }), /response\.scale must be true or false/],
    ['scale without replicas', answer({ scale: true }), /gives no response\.replicas/],
    ['negative replicas', answer({ scale: true, replicas: -1 }), /response\.replicas must not be negative/],
    ['fractional replicas', answer({ scale: true, replicas: 2.5 }), /response\.replicas must be a whole number/],
    ['replicas beyond int32', answer({ scale: true, replicas: 2 ** 31 }), /response\.replicas must be at most 2147483647/],
  ];
  for (const [description, body, message] of bad) {
    it(`rejects ${description}`, () => {
      expect(() => parseFleetAutoscaleResponse(body, 5)).toThrow(AutoscalerWebhookError);
      expect(() => parseFleetAutoscaleResponse(body, 5)).toThrow(message);
    });
  }
});

describe('webhookUrl', () => {
  it('takes an http or https url', () => {
    expect(webhookUrl({ url: 'http://127.0.0.1:8000/scale' }).href).toBe('http://127.0.0.1:8000/scale');
    expect(webhookUrl({ url: 'https://autoscaler.example/scale', caBundle: 'x' }).protocol).toBe('https:');
  });

  const bad: Array<[string, Parameters<typeof webhookUrl>[0], RegExp]> = [
    ['a service, which nothing resolves locally', { service: { name: 'autoscaler', namespace: 'games', path: '/scale' } }, /games\/autoscaler \(http:\/\/autoscaler\.games\.svc:8000\/scale\) cannot be reached locally.*set webhook\.url/],
    ['a service with a caBundle (https, as Agones builds it)', { service: { name: 'autoscaler', namespace: '', port: 9443 }, caBundle: 'x' }, /https:\/\/autoscaler\.default\.svc:9443/],
    ['both url and service', { url: 'http://127.0.0.1/', service: { name: 'a', namespace: 'b' } }, /both url and service/],
    ['neither', {}, /neither url nor service/],
    ['an empty url', { url: '' }, /neither url nor service/],
    ['a relative url', { url: '/scale' }, /is not a URL/],
    ['another scheme', { url: 'ftp://127.0.0.1/scale' }, /must be http:\/\/ or https:\/\//],
  ];
  for (const [description, policy, message] of bad) {
    it(`refuses ${description}`, () => {
      expect(() => webhookUrl(policy)).toThrow(message);
      expect(thrown(() => webhookUrl(policy))).toMatchObject({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED });
    });
  }
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
