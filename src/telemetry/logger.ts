/**
 * Structured JSON logs (pino), one line per event. Secrets never reach a log
 * line: config values are logged only after `redactConfig`, and the paths
 * below are censored as a second line of defence.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; stderr by default so stdout stays free for `print-config` and the debug exporter's `stdout` option. */
  destination?: NodeJS.WritableStream | number;
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? ((process.env.TRIBUTARY_LOG_LEVEL as LevelWithSilent | undefined) || 'info');
  const dest = opts.destination ?? 2;
  return pino(
    {
      level,
      base: { service: 'tributary' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ['*.password', '*.api_key', '*.token', '*.secret', '*.dsn', '*.key', 'headers.authorization', 'headers.Authorization'],
        censor: '[REDACTED]',
      },
    },
    typeof dest === 'number' ? pino.destination({ fd: dest, sync: true }) : (dest as any),
  );
}

/** A logger that writes nothing: for unit tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
