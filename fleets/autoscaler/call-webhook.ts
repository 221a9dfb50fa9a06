import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../core/clock.js';
import { AutoscalerWebhookError } from '../../core/errors.js';
import type { WebhookPolicy } from '../../core/resources.js';
import type { FleetView } from '../fleet-status.js';
import { fleetAutoscaleReview, parseFleetAutoscaleResponse, webhookUrl, type FleetMetadata } from './fleet-autoscale-review.js';
import type { PolicyResult } from './policies.js';

// The Webhook policy's HTTP call: POST the FleetAutoscaleReview, read the answer. Like Agones'
// client it trusts only the caBundle's certificates when one is given, gives up after 15 s, and
// takes only a 200.

/** Agones' webhook client timeout. */
export const WEBHOOK_TIMEOUT_MS = 15_000;

/** Answers larger than this are not a review; stop reading rather than buffer them. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export interface WebhookCallOptions {
  /** Runs the timeout, so tests can move time instead of waiting. */
  clock: Clock;
  timeoutMs?: number;
  /** Aborts the call (the autoscaler was removed or replaced). */
  signal?: AbortSignal;
}

export async function callWebhook(policy: WebhookPolicy, fleet: FleetView & { metadata?: FleetMetadata }, options: WebhookCallOptions): Promise<PolicyResult> {
  const url = webhookUrl(policy);
  const ca = policy.caBundle === undefined ? undefined : caCertificates(policy.caBundle);
  const body = JSON.stringify(fleetAutoscaleReview(fleet, randomUUID()));
  const answer = await postJson(url, body, { ...options, ca });
  if (answer.status !== 200) throw new AutoscalerWebhookError(`bad status code ${answer.status} from the webhook at ${url.href}`);
  return parseFleetAutoscaleResponse(answer.body, fleet.status.replicas);
}

/** The PEM certificates in a caBundle (base64, as the CRD stores it). */
function caCertificates(caBundle: string): string {
  const pem = Buffer.from(caBundle, 'base64').toString('utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new AutoscalerWebhookError('webhook.caBundle holds no PEM certificate');
  return pem;
}

interface Answer {
  status: number;
  body: string;
}

function postJson(url: URL, body: string, options: WebhookCallOptions & { ca: string | undefined }): Promise<Answer> {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  return new Promise<Answer>((resolve, reject) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    // No keep-alive pool: one call every few seconds does not need one, and nothing lingers after close.
    const req =
      url.protocol === 'https:'
        ? https.request(url, { method: 'POST', headers, agent: false, ...(options.ca !== undefined && { ca: options.ca }) })
        : http.request(url, { method: 'POST', headers, agent: false });
    const fail = (err: Error) => req.destroy(err);
    const cancelTimeout = options.clock.setTimeout(() => fail(new AutoscalerWebhookError(`the webhook at ${url.href} did not answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => fail(new AutoscalerWebhookError(`the call to the webhook at ${url.href} was cancelled`));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      cancelTimeout();
      options.signal?.removeEventListener('abort', onAbort);
    };
    if (options.signal?.aborted) onAbort();

    req.on('error', (err) => {
      done();
      reject(err instanceof AutoscalerWebhookError ? err : new AutoscalerWebhookError(`cannot reach the webhook at ${url.href}: ${err.message}`, { cause: err }));
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_ANSWER_BYTES) fail(new AutoscalerWebhookError(`the webhook at ${url.href} answered with more than ${MAX_ANSWER_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('end', () => {
        done();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
      // A destroyed request ends its response with 'aborted'/'error'; req's 'error' handler reports it.
      res.on('error', () => undefined);
    });
    req.end(body);
  });
}
