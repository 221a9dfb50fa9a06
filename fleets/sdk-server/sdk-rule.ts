import { status } from '@grpc/grpc-js';
import type { GameServer } from '../../core/game-server.js';

/** A request the SDK server refuses: the gRPC status code and the message the client sees. */
export class SdkError extends Error {
  constructor(
    readonly grpcCode: status,
    message: string,
  ) {
    super(message);
    this.name = 'SdkError';
  }
}

/**
 * Agones' Go SDK servers return plain Go errors, which grpc-go sends as code 2 UNKNOWN with the
 * error text (even where the proto comments say NOT_FOUND or OUT_OF_RANGE). Game code that checks
 * `err.code` sees 2 from the real sidecar, so Hangar answers the same.
 */
export function agonesError(message: string): SdkError {
  return new SdkError(status.UNKNOWN, message);
}

/** What a rule decided: the record to store (undefined: store nothing) and the call's answer. */
export interface RuleOutcome<R> {
  next: GameServer | undefined;
  result: R;
}

/**
 * One SDK request as a pure function of the current record. It runs inside
 * `store.update(name, mutate)`, so it may run more than once (compare-and-set retries) and must not
 * touch anything but its input; it throws SdkError (or IllegalTransitionError) to refuse.
 */
export type SdkRule<R> = (gs: GameServer) => RuleOutcome<R>;

export function changed<R>(next: GameServer, result: R): RuleOutcome<R> {
  return { next, result };
}

export function unchanged<R>(result: R): RuleOutcome<R> {
  return { next: undefined, result };
}
