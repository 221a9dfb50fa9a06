import { AppError, ErrorCode } from '../core/errors.js';

// Errors of the records database. Connection failures are sorted by what the operator has to fix,
// and each names the place (host:port) and the variables it came from; none carries a password.

/** Nobody answered at host:port (refused, unknown host, timeout). */
export class DatabaseUnreachableError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.DB_UNREACHABLE, message, options);
  }
}

/** The server answered and refused the credentials. */
export class DatabaseAuthError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.DB_AUTH_FAILED, message, options);
  }
}

/** Anything else that stops a connection: missing database, TLS, a PGlite directory in use. */
export class DatabaseConnectError extends AppError {
  constructor(message: string, options?: ErrorOptions) {
    super(ErrorCode.DB_CONNECT_FAILED, message, options);
  }
}

/** A migration file that cannot be read or whose SQL failed. */
export class MigrationFailedError extends AppError {
  constructor(
    readonly migration: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(ErrorCode.DB_MIGRATION_FAILED, message, options);
  }
}

/** A migration whose file no longer matches what was applied. */
export class MigrationChangedError extends AppError {
  constructor(
    readonly migration: string,
    appliedChecksum: string,
    fileChecksum: string,
  ) {
    super(
      ErrorCode.DB_MIGRATION_CHANGED,
      `migration ${migration} changed after it was applied (applied checksum ${appliedChecksum.slice(0, 12)}…, file now ${fileChecksum.slice(0, 12)}…): ` +
        'restore the file and put the change in a new migration',
    );
  }
}

export interface ConnectTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  /** The variables the settings came from, for "check X" hints. */
  source: string;
}

const UNREACHABLE_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'no answer (timed out)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
};

/** Turns what pg throws while connecting into a coded error naming host:port and what to check. */
export function connectError(err: unknown, target: ConnectTarget): AppError {
  if (err instanceof AppError) return err;
  const where = `${target.host}:${target.port}`;
  const e = err as { code?: string; message?: string; errors?: Array<{ code?: string }> };
  const message = e.message ?? String(err);
  // Node reports a name that resolves to several addresses (localhost) as an AggregateError.
  const code = e.code ?? e.errors?.[0]?.code ?? '';
  const check = target.source === 'DATABASE_URL' ? 'check DATABASE_URL' : 'check DB_HOST and DB_PORT';
  if (UNREACHABLE_CODES[code]) {
    return new DatabaseUnreachableError(`cannot reach PostgreSQL at ${where}: ${UNREACHABLE_CODES[code]} (is it running? ${check})`, { cause: err });
  }
  if (/timeout/i.test(message)) {
    return new DatabaseUnreachableError(`cannot reach PostgreSQL at ${where}: no answer within the connect timeout (${check})`, { cause: err });
  }
  const credentials = target.source === 'DATABASE_URL' ? 'the user and password in DATABASE_URL' : 'DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)';
  if (code === '28P01' || code === '28000') {
    return new DatabaseAuthError(`PostgreSQL at ${where} refused user "${target.user}" for database "${target.database}": ${message} (check ${credentials})`, { cause: err });
  }
  // pg's SASL code throws this before sending anything when the server asks for a password and none is set.
  if (/password must be a string|no password/i.test(message)) {
    return new DatabaseAuthError(`PostgreSQL at ${where} asks user "${target.user}" for a password and none is set (check ${credentials})`, { cause: err });
  }
  if (code === '3D000') {
    return new DatabaseConnectError(`PostgreSQL at ${where} has no database "${target.database}": create it, or fix the database name`, { cause: err });
  }
  return new DatabaseConnectError(`cannot connect to PostgreSQL at ${where} as "${target.user}", database "${target.database}": ${message}`, { cause: err });
}

/**
 * Errors of the rows themselves (SQLSTATE classes 22 data exception, 23 constraint violation, 54
 * limit exceeded), which retrying cannot fix. Anything else (no connection, a missing table before
 * migrations) is the database's state, and the write waits for it.
 */
export function isRowError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^(22|23|54)[0-9A-Z]{3}$/.test(code);
}
