/**
 * `statsd` receiver config: otelcol-contrib's statsdreceiver keys, plus
 * Tributary's own (`unit`, `prefix`, `sanitize_names`, `max_series`,
 * `receive_buffer_size`, `socket_permissions`, explicit histogram buckets).
 *
 * Two defaults differ from otelcol on purpose, following CONTRACT §3 and the
 * DogStatsD format: counters are monotonic sums (`is_monotonic_counter: true`)
 * and bare tags (`#tag`) are accepted (`enable_simple_tags: true`).
 */
import { z, duration, size, parseHostPort } from '../../config/types.ts';

const observerType = z.enum(['gauge', 'summary', 'histogram', 'disabled']);

const mappingSchema = z
  .object({
    statsd_type: z.enum(['timing', 'timer', 'histogram', 'distribution']),
    observer_type: observerType,
    histogram: z
      .object({
        /** Exponential histogram: most buckets per sign before downscaling (otelcol's key). */
        max_size: z.number().int().min(2).max(16384).optional(),
        /** Explicit-bucket histogram instead: ascending upper bounds. */
        explicit_buckets: z.array(z.number().finite()).min(1).optional(),
      })
      .strict()
      .optional(),
    summary: z
      .object({
        /** Percentiles 0–100 (otelcol's key); default 0, 10, 50, 90, 95, 100. */
        percentiles: z.array(z.number().min(0).max(100)).min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export const DEFAULT_PERCENTILES = [0, 10, 50, 90, 95, 100];

export const statsdConfigSchema = z
  .object({
    /** `host:port` for udp/tcp, a socket path for unixgram. */
    endpoint: z.string().default('127.0.0.1:8125'),
    /** otelcol's udp4/udp6/tcp4/tcp6 are accepted as spellings of udp/tcp. */
    transport: z.enum(['udp', 'udp4', 'udp6', 'tcp', 'tcp4', 'tcp6', 'unixgram']).default('udp'),
    aggregation_interval: duration().default(10_000),
    enable_metric_type: z.boolean().default(false),
    is_monotonic_counter: z.boolean().default(true),
    enable_simple_tags: z.boolean().default(true),
    timer_histogram_mapping: z.array(mappingSchema).default([]),
    /** Unit of `ms` values as exported: milliseconds as sent, or converted to seconds. */
    unit: z.enum(['ms', 's']).default('ms'),
    /** Prepended to every metric name. */
    prefix: z.string().default(''),
    /** Replace characters outside [A-Za-z0-9_.-] in metric names with `_`. */
    sanitize_names: z.boolean().default(false),
    /** Distinct series (name + type + tags) kept per interval; samples of new series beyond it are dropped and counted. */
    max_series: z.number().int().min(1).default(100_000),
    /** SO_RCVBUF asked for on UDP (the kernel may grant less; the granted size is logged). */
    receive_buffer_size: size().default(8 * 1024 * 1024),
    /** Mode of the unixgram socket file, octal. Default lets any local user send. */
    socket_permissions: z
      .union([z.string().regex(/^0?[0-7]{3,4}$/, 'must be an octal mode such as "0622"'), z.number().int().min(0).max(0o7777)])
      .default('0622'),
    /** Longest line accepted on TCP before the rest of it is discarded. */
    max_line_length: size().default(64 * 1024),
  })
  .strict();

export type StatsdConfig = z.infer<typeof statsdConfigSchema>;
export type TimerMapping = StatsdConfig['timer_histogram_mapping'][number];

export type Transport = 'udp' | 'tcp' | 'unixgram';

export function transportOf(config: StatsdConfig): Transport {
  if (config.transport.startsWith('udp')) return 'udp';
  if (config.transport.startsWith('tcp')) return 'tcp';
  return 'unixgram';
}

export function socketMode(config: StatsdConfig): number {
  const p = config.socket_permissions;
  return typeof p === 'number' ? p : parseInt(p, 8);
}

/** Cross-field checks; [keyPath, message] pairs. */
export function validateStatsdConfig(config: StatsdConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  const transport = transportOf(config);
  if (transport === 'unixgram') {
    if (!config.endpoint.startsWith('/') && !config.endpoint.startsWith('.')) issues.push(['endpoint', 'must be a socket path for transport unixgram']);
  } else if (!parseHostPort(config.endpoint)) {
    issues.push(['endpoint', 'must be host:port with a port from 0 to 65535']);
  }
  if (!(config.aggregation_interval > 0)) issues.push(['aggregation_interval', 'must be greater than 0']);
  const seen = new Set<string>();
  config.timer_histogram_mapping.forEach((m, i) => {
    const type = m.statsd_type === 'timer' ? 'timing' : m.statsd_type;
    if (seen.has(type)) issues.push([`timer_histogram_mapping.${i}.statsd_type`, `${m.statsd_type} is mapped twice`]);
    seen.add(type);
    const b = m.histogram?.explicit_buckets;
    if (b) {
      if (m.histogram?.max_size !== undefined) issues.push([`timer_histogram_mapping.${i}.histogram`, 'max_size (exponential) and explicit_buckets (explicit) are exclusive']);
      for (let j = 1; j < b.length; j++) {
        if (!(b[j] > b[j - 1])) {
          issues.push([`timer_histogram_mapping.${i}.histogram.explicit_buckets`, 'must be strictly ascending']);
          break;
        }
      }
    }
    if (m.histogram && m.observer_type !== 'histogram') issues.push([`timer_histogram_mapping.${i}.histogram`, 'only applies to observer_type histogram']);
    if (m.summary && m.observer_type !== 'summary') issues.push([`timer_histogram_mapping.${i}.summary`, 'only applies to observer_type summary']);
  });
  return issues;
}
