import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** Fixed field names for log records, so every component says the same thing the same way. */
export const LogField = {
  component: 'component',
  gameServer: 'gsName',
  fleet: 'fleet',
  state: 'state',
  /** A child process's pid; `pid` itself is the logging process's own, on every record. */
  childPid: 'childPid',
  port: 'port',
  file: 'file',
} as const;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerSettings {
  level: LogLevel;
  /** Where records go; stderr by default so stdout stays free for a command's own output. */
  destination?: DestinationStream;
}

/**
 * The one root logger of a process; components take `root.child({ component })`, from the root: a
 * child of a component's logger that sets `component` again writes the key twice in one record.
 */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { pid: process.pid },
    // An error's own message, its cause beside it: pino's default serializer appends every cause's
    // message to the error's, and Hangar's messages already end with their cause's, so each would
    // be written twice.
    serializers: { err: pino.stdSerializers.errWithCause },
    // Secrets never reach the logs, whichever object they ride in on.
    redact: {
      paths: ['*.password', '*.token', '*.secret', '*.authorization', 'req.headers.authorization', 'env.JWT_SECRET', 'env.ENCRYPTION_KEY', 'env.DB_PASSWORD', 'env.REDIS_PASSWORD'],
      censor: '[redacted]',
    },
  };
  return pino(options, settings.destination ?? pino.destination({ dest: 2, sync: false }));
}

/** A logger that drops everything, for tests and library callers that pass none. */
export const silentLogger: Logger = pino({ level: 'silent' });
