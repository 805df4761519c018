/**
 * The logger the net layer takes: pino's calling convention (context object first, message
 * second), so a pino logger or child logger plugs in as is.
 */

export type LogFn = (context: Record<string, unknown>, message: string) => void;

export interface NetLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

const discard: LogFn = () => undefined;

/** A logger that drops everything (tests, benches). */
export const silentLogger: NetLogger = { debug: discard, info: discard, warn: discard, error: discard };
