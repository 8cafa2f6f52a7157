/**
 * Small fake factories for the loader's tests: just enough schema (built
 * with the shared zod helpers, like the real ones) and listen addresses to
 * exercise every validation rule without loading any component code.
 */
import type { ExporterFactory, Factory, ListenAddress, ProcessorFactory, ReceiverFactory } from '../../component.ts';
import type { RegistryLike } from '../load.ts';
import { duration, hostPort, size, url, z } from '../types.ts';

const notRunnable = (): never => {
  throw new Error('fake factory: not runnable');
};

const otlpSchema = z
  .object({
    protocols: z
      .object({
        grpc: z.object({ endpoint: hostPort().default('127.0.0.1:4317') }).strict().nullish(),
        http: z.object({ endpoint: hostPort().default('127.0.0.1:4318') }).strict().nullish(),
      })
      .strict()
      .prefault({ grpc: {} }),
    max_request_body_size: size().default(20 * 1024 * 1024),
  })
  .strict();

const otlpReceiver: ReceiverFactory<z.infer<typeof otlpSchema>> = {
  kind: 'receiver',
  type: 'otlp',
  configSchema: otlpSchema,
  createDefaultConfig: () => otlpSchema.parse({}),
  listenAddresses: (c) => {
    const out: ListenAddress[] = [];
    if (c.protocols.grpc) out.push({ key: 'protocols.grpc.endpoint', transport: 'tcp', address: c.protocols.grpc.endpoint });
    if (c.protocols.http) out.push({ key: 'protocols.http.endpoint', transport: 'tcp', address: c.protocols.http.endpoint });
    return out;
  },
  create: notRunnable,
};

const statsdSchema = z
  .object({
    endpoint: hostPort().default('127.0.0.1:8125'),
    transport: z.enum(['udp', 'tcp']).default('udp'),
    aggregation_interval: duration().default(10_000),
  })
  .strict();

const statsdReceiver: ReceiverFactory<z.infer<typeof statsdSchema>> = {
  kind: 'receiver',
  type: 'statsd',
  configSchema: statsdSchema,
  createDefaultConfig: () => statsdSchema.parse({}),
  listenAddresses: (c) => [{ key: 'endpoint', transport: c.transport, address: c.endpoint }],
  create: notRunnable,
};

const batchSchema = z
  .object({
    send_batch_size: z.number().int().min(0).default(8192),
    send_batch_max_size: z.number().int().min(0).default(0),
    timeout: duration().default(200),
  })
  .strict();

const batchProcessor: ProcessorFactory<z.infer<typeof batchSchema>> = {
  kind: 'processor',
  type: 'batch',
  configSchema: batchSchema,
  createDefaultConfig: () => batchSchema.parse({}),
  validate: (c) =>
    c.send_batch_max_size !== 0 && c.send_batch_max_size < c.send_batch_size
      ? [['send_batch_max_size', 'must be greater than or equal to send_batch_size']]
      : [],
  create: notRunnable,
};

const prometheusSchema = z.object({ endpoint: hostPort().default('0.0.0.0:9464') }).strict();

const prometheusExporter: ExporterFactory<z.infer<typeof prometheusSchema>> = {
  kind: 'exporter',
  type: 'prometheus',
  configSchema: prometheusSchema,
  createDefaultConfig: () => prometheusSchema.parse({}),
  listenAddresses: (c) => [{ key: 'endpoint', transport: 'tcp', address: c.endpoint }],
  create: notRunnable,
};

const otlpHttpSchema = z
  .object({
    endpoint: url(),
    headers: z.record(z.string(), z.string()).default({}),
    timeout: duration().default(10_000),
    compression: z.enum(['gzip', 'none']).default('gzip'),
    retry_on_failure: z.object({ enabled: z.boolean().default(true), max_elapsed_time: duration().default(300_000) }).strict().prefault({}),
    sending_queue: z.object({ queue_size: z.number().int().min(1).max(1_000_000).default(1000) }).strict().prefault({}),
  })
  .strict();

const otlpHttpExporter: ExporterFactory<z.infer<typeof otlpHttpSchema>> = {
  kind: 'exporter',
  type: 'otlp_http',
  configSchema: otlpHttpSchema,
  createDefaultConfig: () => otlpHttpSchema.parse({ endpoint: 'http://127.0.0.1:4318' }),
  create: notRunnable,
};

const debugSchema = z.object({ verbosity: z.enum(['basic', 'normal', 'detailed']).default('basic') }).strict();

const debugExporter: ExporterFactory<z.infer<typeof debugSchema>> = {
  kind: 'exporter',
  type: 'debug',
  configSchema: debugSchema,
  createDefaultConfig: () => debugSchema.parse({}),
  create: notRunnable,
};

const byKind: Record<'receivers' | 'processors' | 'exporters', Factory[]> = {
  receivers: [otlpReceiver, statsdReceiver],
  processors: [batchProcessor],
  exporters: [prometheusExporter, otlpHttpExporter, debugExporter],
};

const aliases: Record<string, string> = { otlphttp: 'otlp_http' };

export const fakeRegistry: RegistryLike = {
  findFactory: (kind, type) => byKind[kind].find((f) => f.type === (kind === 'exporters' ? (aliases[type] ?? type) : type)),
  knownTypes: (kind) => [...byKind[kind].map((f) => f.type), ...(kind === 'exporters' ? Object.keys(aliases) : [])].sort(),
};
