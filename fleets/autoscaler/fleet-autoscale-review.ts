import * as z from 'zod';
import { AutoscalerWebhookError } from '../../core/errors.js';
import type { FleetStatus, WebhookPolicy } from '../../core/resources.js';
import type { FleetView } from '../fleet-status.js';
import type { PolicyResult } from './policies.js';

// The Webhook policy's wire format, Agones' FleetAutoscaleReview (pkg/apis/autoscaling/v1): the
// request Hangar sends, the answer it accepts, and where it sends it. No I/O here; call-webhook.ts
// does the HTTP.

/** The fleet metadata a webhook request carries (Agones' FleetAutoscaleRequestMetaData, on by default). */
export interface FleetMetadata {
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface FleetAutoscaleRequest {
  uid: string;
  name: string;
  namespace: string;
  status: Partial<FleetStatus>;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface FleetAutoscaleResponse {
  uid?: string;
  scale: boolean;
  replicas?: number;
}

export interface FleetAutoscaleReview {
  request: FleetAutoscaleRequest | null;
  response: FleetAutoscaleResponse | null;
}

/** The review Agones posts: the fleet's status as Go marshals it (empty optional parts left out). */
export function fleetAutoscaleReview(fleet: FleetView & { metadata?: FleetMetadata }, uid: string): FleetAutoscaleReview {
  const s = fleet.status;
  const meta = fleet.metadata ?? {};
  const filled = (m: Record<string, unknown> | undefined) => m !== undefined && Object.keys(m).length > 0;
  return {
    request: {
      uid,
      name: fleet.name,
      namespace: meta.namespace ?? 'default',
      status: {
        replicas: s.replicas,
        readyReplicas: s.readyReplicas,
        reservedReplicas: s.reservedReplicas,
        allocatedReplicas: s.allocatedReplicas,
        ...(s.players && { players: s.players }),
        ...(filled(s.counters) && { counters: s.counters }),
        ...(filled(s.lists) && { lists: s.lists }),
      },
      ...(filled(meta.labels) && { labels: meta.labels }),
      ...(filled(meta.annotations) && { annotations: meta.annotations }),
    },
    response: null,
  };
}

const INT32_MAX = 2 ** 31 - 1;

// Agones reads the answer leniently and crashes on a missing `response`, or writes whatever
// `replicas` holds into the fleet. Hangar refuses such answers with a reason instead.
const ReviewAnswerSchema = z.object({
  response: z.object(
    {
      uid: z.string().optional(),
      scale: z.boolean({ error: 'must be true or false' }),
      replicas: z.int({ error: 'must be a whole number' }).min(0, 'must not be negative').max(INT32_MAX, `must be at most ${INT32_MAX}`).optional(),
    },
    { error: 'is missing: the answer must be a FleetAutoscaleReview with a response' },
  ),
});

/**
 * What a webhook's answer means for the fleet: `replicas` when it says scale, otherwise the
 * fleet's current replicas (as Agones does). Throws AutoscalerWebhookError for an unusable answer.
 */
export function parseFleetAutoscaleResponse(body: string, currentReplicas: number): PolicyResult {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new AutoscalerWebhookError(`the webhook answered with something that is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ReviewAnswerSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'} ${i.message}`);
    throw new AutoscalerWebhookError(`the webhook's answer is not a usable FleetAutoscaleReview: ${problems.join('; ')}`);
  }
  const { scale, replicas } = parsed.data.response;
  if (!scale) return { replicas: currentReplicas, limited: false };
  if (replicas === undefined) throw new AutoscalerWebhookError("the webhook's answer says scale but gives no response.replicas");
  return { replicas, limited: false };
}

/** Where the review goes. A `service` is a Kubernetes Service, which nothing resolves locally. */
export function webhookUrl(policy: WebhookPolicy): URL {
  if (policy.url !== undefined && policy.service !== undefined) throw new AutoscalerWebhookError('webhook has both url and service; keep one');
  if (policy.service !== undefined) {
    const { name, namespace, path = '', port = 8000 } = policy.service;
    // The address Agones would call in a cluster, to say exactly what cannot be reached here.
    const clusterUrl = `${policy.caBundle === undefined ? 'http' : 'https'}://${name}.${namespace || 'default'}.svc:${port}${path}`;
    throw new AutoscalerWebhookError(
      `webhook.service ${namespace || 'default'}/${name} (${clusterUrl}) cannot be reached locally: there is no cluster DNS outside Kubernetes; set webhook.url to the webhook's address instead`,
    );
  }
  if (policy.url === undefined || policy.url === '') throw new AutoscalerWebhookError('webhook has neither url nor service: nowhere to send the request');
  let url: URL;
  try {
    url = new URL(policy.url);
  } catch (err) {
    throw new AutoscalerWebhookError(`webhook.url ${JSON.stringify(policy.url)} is not a URL`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AutoscalerWebhookError(`webhook.url ${JSON.stringify(policy.url)} must be http:// or https://`);
  return url;
}
