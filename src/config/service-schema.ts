/**
 * Schemas for the parts of the config that are not components: `service`
 * (shutdown timeout, admin endpoint, otelcol's `telemetry`) and the
 * `health_check` extension, spelled as otelcol writes them so an otelcol
 * config loads unchanged.
 */
import { z, duration, hostPort } from './types.ts';
import type { ServiceSettings } from './model.ts';

export const DEFAULT_ADMIN_ENDPOINT = '0.0.0.0:13133';
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 20_000;

type LogLevel = ServiceSettings['logLevel'];

/** otelcol (zap) levels and pino's own; zap's panic levels are fatal to us. */
const LOG_LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  dpanic: 'fatal',
  panic: 'fatal',
  fatal: 'fatal',
  silent: 'silent',
};

const logLevel = () =>
  z.string().transform((v, ctx): LogLevel => {
    const level = LOG_LEVELS[v.toLowerCase()];
    if (!level) {
      ctx.addIssue({ code: 'custom', message: `invalid log level "${v}": use debug, info, warn or error` });
      return z.NEVER;
    }
    return level;
  });

const telemetrySchema = z
  .object({
    logs: z
      .object({
        level: logLevel().optional(),
        encoding: z.enum(['console', 'json']).optional(),
        development: z.boolean().optional(),
        disable_caller: z.boolean().optional(),
        disable_stacktrace: z.boolean().optional(),
        sampling: z.record(z.string(), z.unknown()).nullish(),
        output_paths: z.array(z.string()).optional(),
        error_output_paths: z.array(z.string()).optional(),
        initial_fields: z.record(z.string(), z.unknown()).nullish(),
        processors: z.array(z.unknown()).optional(),
      })
      .strict()
      .nullish(),
    metrics: z
      .object({
        level: z
          .string()
          .transform((v) => v.toLowerCase())
          .pipe(z.enum(['none', 'basic', 'normal', 'detailed']))
          .optional(),
        address: z.string().optional(),
        readers: z.array(z.unknown()).optional(),
      })
      .strict()
      .nullish(),
    resource: z.record(z.string(), z.unknown()).nullish(),
    traces: z.unknown().optional(),
  })
  .strict();

/** `service`, except `pipelines`, which are checked by hand for their own messages. */
export const serviceSchema = z
  .object({
    pipelines: z.unknown(),
    extensions: z.array(z.string()).nullish(),
    telemetry: telemetrySchema.nullish(),
    shutdown_timeout: duration().default(DEFAULT_SHUTDOWN_TIMEOUT_MS),
    admin: z.object({ endpoint: hostPort().optional() }).strict().nullish(),
  })
  .strict();

export const pipelineSchema = z
  .object({
    receivers: z.array(z.string()).nullish(),
    processors: z.array(z.string()).nullish(),
    exporters: z.array(z.string()).nullish(),
  })
  .strict();

/** otelcol's health_check extension: served by the admin endpoint, never a second listener. */
export const healthCheckSchema = z
  .object({
    endpoint: hostPort().optional(),
    path: z.string().optional(),
    response_body: z.unknown().optional(),
    check_collector_pipeline: z.record(z.string(), z.unknown()).nullish(),
  })
  .strict();

export const TOP_LEVEL_KEYS = ['receivers', 'processors', 'exporters', 'extensions', 'service'] as const;
