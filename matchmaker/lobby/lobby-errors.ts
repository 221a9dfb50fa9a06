import { AppError, ErrorCode } from '../../core/errors.js';
import { asCodedError, httpStatusFor } from '../../core/http-errors.js';
import type { Logger } from '../../core/logger.js';
import { PartyPassInvalidError } from '../player-auth.js';

// The lobby's own refusals, and how any error reaches a player: `{ code, message, problems? }`,
// in `{ "error": ... }` over HTTP and `{ "id", "error": ... }` on the WebSocket.

export interface LobbyErrorBody {
  code: string;
  message: string;
  problems?: readonly string[];
}

/** A request or message that does not fit the lobby's schema; `problems` names each field. */
export class LobbyRequestInvalidError extends AppError {
  constructor(
    what: string,
    readonly problems: readonly string[],
  ) {
    super(ErrorCode.LOBBY_REQUEST_INVALID, `invalid ${what}: ${problems.join('; ')}`);
  }
}

export class LobbyRequestTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(ErrorCode.LOBBY_REQUEST_TOO_LARGE, `the request body is larger than ${limitBytes} bytes`);
  }
}

/** `retryMs` is Infinity when waiting will not help (too many sockets open). */
export class LobbyRateLimitedError extends AppError {
  constructor(
    message: string,
    readonly retryMs: number,
  ) {
    super(ErrorCode.LOBBY_RATE_LIMITED, message);
  }
}

/** An error as a player sees it; anything not coded is an internal error, logged with its cause. */
export function lobbyError(err: unknown, log: Logger): { status: number; body: LobbyErrorBody } {
  const coded = asCodedError(err);
  if (coded) {
    const problems = coded instanceof LobbyRequestInvalidError || coded instanceof PartyPassInvalidError ? coded.problems : undefined;
    return { status: httpStatusFor(coded.code), body: { code: coded.code, message: coded.message, ...(problems ? { problems } : {}) } };
  }
  log.error({ err }, 'lobby request failed');
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' } };
}
