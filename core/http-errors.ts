import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { AppError, asRedisUnavailable, ErrorCode } from './errors.js';
import type { Logger } from './logger.js';

// The one place error codes become HTTP statuses. Every HTTP error body has the same shape:
// { "error": { "code": "...", "message": "..." } }.

const STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.CONFIG_INVALID]: 400,
  [ErrorCode.RESOURCE_INVALID]: 422,
  [ErrorCode.ALLOCATION_INVALID]: 400,
  [ErrorCode.USAGE]: 400,
  [ErrorCode.GS_NOT_FOUND]: 404,
  [ErrorCode.FLEET_NOT_FOUND]: 404,
  [ErrorCode.RESOURCE_OWNED_BY_FILE]: 409,
  [ErrorCode.VERSION_CONFLICT]: 409,
  [ErrorCode.GS_ILLEGAL_TRANSITION]: 409,
  [ErrorCode.PORT_UNAVAILABLE]: 503,
  [ErrorCode.KUBE_UNAVAILABLE]: 503,
  [ErrorCode.KUBE_FORBIDDEN]: 502,
  [ErrorCode.PLAYER_UNAUTHENTICATED]: 401,
  [ErrorCode.GUEST_LOGIN_DISABLED]: 403,
  [ErrorCode.LOBBY_REQUEST_INVALID]: 400,
  [ErrorCode.LOBBY_REQUEST_TOO_LARGE]: 413,
  [ErrorCode.LOBBY_RATE_LIMITED]: 429,
  [ErrorCode.PARTY_PASS_INVALID]: 403,
  [ErrorCode.QUEUE_NOT_FOUND]: 404,
  [ErrorCode.TICKET_REJECTED]: 422,
  [ErrorCode.TICKET_NOT_FOUND]: 404,
  [ErrorCode.TICKET_NOT_OWNER]: 403,
  [ErrorCode.TICKET_ALREADY_MATCHED]: 409,
  [ErrorCode.MATCH_NOT_FOUND]: 404,
  [ErrorCode.MATCH_ACCEPT_CLOSED]: 409,
  [ErrorCode.MATCHMAKER_DRAINING]: 503,
  [ErrorCode.REDIS_UNAVAILABLE]: 503,
  [ErrorCode.STACK_DRAINING]: 503,
};

/**
 * The codes of requests refused before any of Hangar's own rules apply: who asks (an API key, the
 * admin token), how often, how the request is sent, where it goes, and bugs. docs/errors.md lists
 * them under "Request errors"; everything else is an ErrorCode.
 */
export const RequestErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  RATE_LIMITED: 'RATE_LIMITED',
  BAD_REQUEST: 'BAD_REQUEST',
  TOO_LARGE: 'TOO_LARGE',
  NOT_FOUND: 'NOT_FOUND',
  INTERNAL: 'INTERNAL',
} as const;
export type RequestErrorCode = (typeof RequestErrorCode)[keyof typeof RequestErrorCode];

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** `err` as a coded error: ours, or a dependency's failure we can name (Redis unreachable); undefined for a bug. */
export function asCodedError(err: unknown): AppError | undefined {
  return err instanceof AppError ? err : asRedisUnavailable(err);
}

export interface ErrorBody {
  code: ErrorCode | RequestErrorCode;
  message: string;
  /** Each problem of an invalid request, when there are several. */
  problems?: readonly string[];
}

/** Answers with JSON already serialised, on node:http's response or express's (which is one). */
export function sendJson(res: ServerResponse, status: number, json: string, headers?: OutgoingHttpHeaders): void {
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

export function sendError(res: ServerResponse, status: number, code: ErrorCode | RequestErrorCode, message: string): void {
  sendErrorBody(res, status, { code, message });
}

export function sendErrorBody(res: ServerResponse, status: number, error: ErrorBody, headers?: OutgoingHttpHeaders): void {
  sendJson(res, status, JSON.stringify({ error }), headers);
}

/** Express error middleware: coded errors keep their code; anything else is a logged 500. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const coded = asCodedError(err);
    if (coded) {
      sendError(res, httpStatusFor(coded.code), coded.code, coded.message);
      return;
    }
    // express.json() raises these for malformed or oversized bodies.
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500) {
      sendError(res, status, 'BAD_REQUEST', (err as Error).message);
      return;
    }
    log.error({ err, method: req.method, path: req.path }, 'request failed');
    sendError(res, 500, 'INTERNAL', 'internal error');
  };
}

export function notFoundHandler(req: Request, res: Response): void {
  sendError(res, 404, 'NOT_FOUND', `no route ${req.method} ${req.path}`);
}
