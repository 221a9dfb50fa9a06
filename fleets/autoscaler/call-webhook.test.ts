import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { systemClock } from '../../core/clock.js';
import { ErrorCode } from '../../core/errors.js';
import { FakeClock } from '../../test/helpers/fake-clock.js';
import { callWebhook } from './call-webhook.js';
import { fleetViewFixture } from './fleet-view-fixture.js';
import { answer, selfSignedPair, webhookServerFixture, type TlsPair, type WebhookHandler, type WebhookServerFixture } from './webhook-server-fixture.js';
import { freeTcpPort } from '../../test/helpers/free-port.js';

// The Webhook policy against real HTTP and HTTPS servers on 127.0.0.1, after Agones'
// TestApplyWebhookPolicy: a good answer, a bad status, a bad body, no answer, TLS with a caBundle.

const fleet = { ...fleetViewFixture({ name: 'arena', status: { replicas: 10, readyReplicas: 2, allocatedReplicas: 8 } }), metadata: { namespace: 'games', labels: { mode: 'ctf' } } };
const scaleTo = (replicas: number): WebhookHandler => (req, res) => {
  const review = JSON.parse(req.body) as { request: { uid: string } };
  answer(res, 200, { request: review.request, response: { uid: review.request.uid, scale: true, replicas } });
};

let servers: WebhookServerFixture[] = [];
async function serve(handler: WebhookHandler, tls?: TlsPair): Promise<WebhookServerFixture> {
  const server = await webhookServerFixture(handler, tls);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

describe('callWebhook over HTTP', () => {
  it('posts the FleetAutoscaleReview as JSON and takes the replicas it answers', async () => {
    const server = await serve(scaleTo(16));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).resolves.toEqual({ replicas: 16, limited: false });
    const [req] = server.received;
    expect(req!.method).toBe('POST');
    expect(req!.headers['content-type']).toBe('application/json');
    const review = JSON.parse(req!.body);
    expect(review).toEqual({
      request: {
        uid: expect.stringMatching(/^[0-9a-f-]{36}$/),
        name: 'arena',
        namespace: 'games',
        status: { replicas: 10, readyReplicas: 2, reservedReplicas: 0, allocatedReplicas: 8 },
        labels: { mode: 'ctf' },
      },
      response: null,
    });
  });

  it("keeps the fleet's replicas when the answer says not to scale", async () => {
    const server = await serve((_req, res) => answer(res, 200, { response: { scale: false, replicas: 0 } }));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).resolves.toEqual({ replicas: 10, limited: false });
  });

  it('fails on an error status', async () => {
    const server = await serve((_req, res) => answer(res, 500, 'Wrong Status Replicas Parameter'));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toMatchObject({
      code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED,
      message: `bad status code 500 from the webhook at ${server.url}`,
    });
  });

  it('takes only a 200, as Agones does', async () => {
    const server = await serve((_req, res) => answer(res, 201, { response: { scale: true, replicas: 3 } }));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toThrow(/bad status code 201/);
  });

  it('fails on a body that is not JSON', async () => {
    const server = await serve((_req, res) => answer(res, 200, 'invalid data'));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toMatchObject({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message: expect.stringMatching(/not JSON/) });
  });

  it('fails on an answer without the fields it needs', async () => {
    const server = await serve((_req, res) => answer(res, 200, { response: { scale: true } }));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toThrow(/gives no response\.replicas/);
  });

  it('fails on negative replicas', async () => {
    const server = await serve(scaleTo(-3));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toThrow(/response\.replicas must not be negative/);
  });

  it('gives up after 15 s without an answer', async () => {
    const clock = new FakeClock();
    const server = await serve(() => undefined);
    const received = server.nextRequest();
    const call = callWebhook({ url: server.url }, fleet, { clock });
    await received;
    clock.advance(15_000);
    await expect(call).rejects.toMatchObject({ code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED, message: `the webhook at ${server.url} did not answer within 15000 ms` });
  });

  it('takes a shorter timeout, and not a moment less', async () => {
    const clock = new FakeClock();
    const server = await serve(() => undefined);
    const received = server.nextRequest();
    let settled = false;
    const call = callWebhook({ url: server.url }, fleet, { clock, timeoutMs: 1000 }).finally(() => (settled = true));
    await received;
    clock.advance(999);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(settled).toBe(false);
    clock.advance(1);
    await expect(call).rejects.toThrow(/did not answer within 1000 ms/);
  });

  it('fails when nothing listens', async () => {
    const port = await freeTcpPort();
    await expect(callWebhook({ url: `http://127.0.0.1:${port}/scale` }, fleet, { clock: systemClock })).rejects.toMatchObject({
      code: ErrorCode.AUTOSCALER_WEBHOOK_FAILED,
      message: expect.stringMatching(/cannot reach the webhook .*ECONNREFUSED/),
    });
  });

  it('stops when its signal aborts', async () => {
    const server = await serve(() => undefined);
    const received = server.nextRequest();
    const abort = new AbortController();
    const call = callWebhook({ url: server.url }, fleet, { clock: systemClock, signal: abort.signal });
    await received;
    abort.abort();
    await expect(call).rejects.toThrow(/was cancelled/);
  });

  it('stops reading an answer over 1 MiB', async () => {
    const server = await serve((_req, res) => answer(res, 200, `{"response":{"scale":true,"replicas":1},"padding":"${'x'.repeat(2 * 1024 * 1024)}"}`));
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toThrow(/more than 1048576 bytes/);
  });

  it('does not call a service, and says why', async () => {
    await expect(callWebhook({ service: { name: 'autoscaler', namespace: 'games' } }, fleet, { clock: systemClock })).rejects.toThrow(/cannot be reached locally/);
  });
});

describe('callWebhook over HTTPS', () => {
  let pair: TlsPair;
  beforeAll(() => {
    pair = selfSignedPair();
  });
  const base64 = (pem: string) => Buffer.from(pem).toString('base64');

  it("trusts the server through the policy's caBundle", async () => {
    const server = await serve(scaleTo(4), pair);
    await expect(callWebhook({ url: server.url, caBundle: base64(pair.cert) }, fleet, { clock: systemClock })).resolves.toEqual({ replicas: 4, limited: false });
    expect(server.received).toHaveLength(1);
  });

  it('refuses the server without a caBundle (a self-signed certificate)', async () => {
    const server = await serve(scaleTo(4), pair);
    await expect(callWebhook({ url: server.url }, fleet, { clock: systemClock })).rejects.toThrow(/cannot reach the webhook .*self[- ]signed/i);
    expect(server.received).toHaveLength(0);
  });

  it('refuses the server when the caBundle holds another CA', async () => {
    const server = await serve(scaleTo(4), pair);
    const otherCa = readFileSync('test/fixtures/agones/test-ca.crt', 'utf8');
    await expect(callWebhook({ url: server.url, caBundle: base64(otherCa) }, fleet, { clock: systemClock })).rejects.toThrow(/cannot reach the webhook/);
    expect(server.received).toHaveLength(0);
  });

  it('refuses a caBundle with no certificate in it', async () => {
    const server = await serve(scaleTo(4), pair);
    await expect(callWebhook({ url: server.url, caBundle: base64('invalid-value') }, fleet, { clock: systemClock })).rejects.toThrow(/holds no PEM certificate/);
  });
});

