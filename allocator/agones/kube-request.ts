import { ApiException, Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import { KubernetesForbiddenError, KubernetesRequestError, KubernetesUnavailableError, type AppError } from '../../core/errors.js';

// One Kubernetes API call, bounded in time by the injected clock and turned into Hangar's coded
// errors: 403 → KUBE_FORBIDDEN (with the RBAC rule that is missing), 5xx / 429 / no answer / no
// connection → KUBE_UNAVAILABLE (a 429 with how long to wait before sending it again), anything
// else → KUBE_REQUEST_FAILED carrying the HTTP status (callers that expect a 404 or a 409 look at
// `status`).

/** What a request does, for messages and RBAC hints: verb, resource and API group as RBAC names them. */
export interface KubeAction {
  verb: 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';
  resource: string;
  group: string;
  namespace: string;
  name?: string;
}

export interface KubeRequestOptions {
  clock: Clock;
  timeoutMs: number;
}

/** Runs `send` with an abort signal that fires after `timeoutMs` on `clock`; maps every failure to an AppError. */
export async function kubeRequest<T>(action: KubeAction, options: KubeRequestOptions, send: (config: ConfigurationOptions) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const cancel = options.clock.setTimeout(() => controller.abort(), options.timeoutMs);
  try {
    return await send(abortWith(controller.signal));
  } catch (err) {
    if (controller.signal.aborted) {
      throw new KubernetesUnavailableError(`${describe(action)}: no answer from the Kubernetes API server within ${options.timeoutMs} ms`, { cause: err });
    }
    throw kubeError(err, action);
  } finally {
    cancel();
  }
}

/** A client-node failure (ApiException, a watch's status error, a network error) as a coded AppError. */
export function kubeError(err: unknown, action: KubeAction): AppError {
  const status = statusOf(err);
  if (status === undefined) {
    return new KubernetesUnavailableError(`${describe(action)}: cannot reach the Kubernetes API server (${causeText(err)})`, { cause: err });
  }
  const detail = serverMessage(err);
  const answered = `the API server answered ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 403) {
    const rule = `"${action.verb}" on ${action.resource} in API group ${action.group} (namespace ${action.namespace})`;
    return new KubernetesForbiddenError(`${describe(action)}: ${answered}. Grant Hangar's service account ${rule} in its Role.`, { cause: err });
  }
  if (status === 429) return new KubernetesUnavailableError(`${describe(action)}: ${answered}`, { cause: err }, retryAfterMs(err));
  if (status >= 500) return new KubernetesUnavailableError(`${describe(action)}: ${answered}`, { cause: err });
  return new KubernetesRequestError(status, `${describe(action)}: ${answered}`, { cause: err });
}

/** The HTTP status of a client-node error: ApiException.code, or statusCode on the Watch's errors. */
function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/**
 * How long a 429 asks the client to wait: its Retry-After header (whole seconds, as the API
 * server's priority and fairness and max-in-flight filters send it), 1 s when there is none.
 */
function retryAfterMs(err: unknown): number {
  const headers = err instanceof ApiException ? (err.headers as Record<string, string> | undefined) : undefined;
  const value = Object.entries(headers ?? {}).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
  const seconds = value !== undefined && /^\d+$/.test(value.trim()) ? Number(value) : 1;
  return seconds * 1000;
}

/** The `message` of the Kubernetes Status object in an error's body, if there is one. */
function serverMessage(err: unknown): string | undefined {
  if (!(err instanceof ApiException) || typeof err.body !== 'string') return undefined;
  try {
    const body = JSON.parse(err.body) as { message?: unknown };
    return typeof body.message === 'string' ? body.message : undefined;
  } catch {
    return err.body.slice(0, 200) || undefined;
  }
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err.message}${cause}`;
}

function describe(a: KubeAction): string {
  return `${a.verb} ${a.resource}.${a.group}${a.name ? ` ${a.name}` : ''} in namespace ${a.namespace}`;
}

/** Per-request options that give the request an abort signal (the object API takes Observable middleware). */
function abortWith(signal: AbortSignal): ConfigurationOptions {
  const middleware: ObservableMiddleware = {
    pre: (context) => {
      context.setSignal(signal);
      return new Observable(Promise.resolve(context));
    },
    post: (context) => new Observable(Promise.resolve(context)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' };
}
