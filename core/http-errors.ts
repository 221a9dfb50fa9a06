import type { NextFunction, Request, Response } from 'express';
import { AppError, ErrorCode } from './errors.js';
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
  [ErrorCode.QUEUE_NOT_FOUND]: 404,
  [ErrorCode.TICKET_REJECTED]: 422,
  [ErrorCode.TICKET_NOT_FOUND]: 404,
  [ErrorCode.TICKET_NOT_OWNER]: 403,
  [ErrorCode.TICKET_ALREADY_MATCHED]: 409,
  [ErrorCode.MATCH_NOT_FOUND]: 404,
  [ErrorCode.MATCH_ACCEPT_CLOSED]: 409,
};

export function httpStatusFor(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** The body of every HTTP error reply. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}

export function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json(errorBody(code, message));
}

/** Express error middleware: coded errors keep their code; anything else is a logged 500. */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    if (err instanceof AppError) {
      sendError(res, httpStatusFor(err.code), err.code, err.message);
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
