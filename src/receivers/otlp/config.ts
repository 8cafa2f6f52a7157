/**
 * `otlp` receiver config, as otelcol writes it:
 *
 *   receivers:
 *     otlp:
 *       protocols:
 *         grpc: { endpoint: 127.0.0.1:4317, max_recv_msg_size_mib: 4 }
 *         http: { endpoint: 127.0.0.1:4318, max_request_body_size: 20MiB }
 *
 * Only the protocols present are opened; `grpc:` with no value means its
 * defaults. `max_request_body_size`, `tls`, `auth` and `include_metadata`
 * may be set for both protocols at the top level or per protocol (the
 * protocol's own setting wins). `auth.bearer_token` is a secret.
 */
import { hostPort, size, tlsSettings, z } from '../../config/types.ts';
import type { TlsSettings } from '../../config/types.ts';

export const DEFAULT_GRPC_ENDPOINT = '127.0.0.1:4317';
export const DEFAULT_HTTP_ENDPOINT = '127.0.0.1:4318';
export const DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024;

const authSettings = () =>
  z
    .object({
      /** Clients must send `Authorization: Bearer <token>` (HTTP header or gRPC metadata). */
      bearer_token: z.string().min(1, 'must not be empty'),
    })
    .strict();

const tls = () => tlsSettings();

const commonProtocolFields = {
  tls: tls().optional(),
  auth: authSettings().optional(),
  /** Accepted for otelcol compatibility; client metadata is not carried into the model. */
  include_metadata: z.boolean().optional(),
};

const grpcSchema = z
  .object({
    endpoint: hostPort().default(DEFAULT_GRPC_ENDPOINT),
    /** otelcol's spelling of the gRPC receive limit, in MiB. */
    max_recv_msg_size_mib: z.number().positive().optional(),
    max_request_body_size: size().optional(),
    max_concurrent_streams: z.number().int().nonnegative().optional(),
    ...commonProtocolFields,
  })
  .strict();

const httpSchema = z
  .object({
    endpoint: hostPort().default(DEFAULT_HTTP_ENDPOINT),
    max_request_body_size: size().optional(),
    metrics_url_path: z.string().startsWith('/', 'must start with /').default('/v1/metrics'),
    // Accepted so otelcol configs load unchanged; Tributary handles metrics only.
    traces_url_path: z.string().optional(),
    logs_url_path: z.string().optional(),
    ...commonProtocolFields,
  })
  .strict();

/** `grpc:` written with no value (YAML null) means "enabled with defaults", as in otelcol. */
const nullAsEmpty = (v: unknown) => (v === null ? {} : v);

export const otlpConfigSchema = z
  .object({
    protocols: z
      .object({
        grpc: z.preprocess(nullAsEmpty, grpcSchema).optional(),
        http: z.preprocess(nullAsEmpty, httpSchema).optional(),
      })
      .strict()
      .prefault({ grpc: {}, http: {} }),
    max_request_body_size: size().default(DEFAULT_MAX_BODY_BYTES),
    ...commonProtocolFields,
  })
  .strict();

export type OtlpReceiverConfig = z.infer<typeof otlpConfigSchema>;

export function createDefaultConfig(): OtlpReceiverConfig {
  return otlpConfigSchema.parse({});
}

/** One protocol's effective settings, after top-level defaults are applied. */
export interface ProtocolSettings {
  endpoint: string;
  maxBodyBytes: number;
  tls?: TlsSettings;
  bearerToken?: string;
}

export interface GrpcSettings extends ProtocolSettings {
  maxConcurrentStreams?: number;
}

export interface HttpSettings extends ProtocolSettings {
  metricsPath: string;
  /** How long a whole request may take to arrive; not a config key (tests shorten it). Default in `http.ts`. */
  requestTimeoutMs?: number;
}

export function grpcSettings(cfg: OtlpReceiverConfig): GrpcSettings | undefined {
  const g = cfg.protocols.grpc;
  if (!g) return undefined;
  const maxBodyBytes = g.max_recv_msg_size_mib !== undefined ? Math.floor(g.max_recv_msg_size_mib * 1024 * 1024) : (g.max_request_body_size ?? cfg.max_request_body_size);
  return {
    endpoint: g.endpoint,
    maxBodyBytes,
    tls: g.tls ?? cfg.tls,
    bearerToken: (g.auth ?? cfg.auth)?.bearer_token,
    maxConcurrentStreams: g.max_concurrent_streams,
  };
}

export function httpSettings(cfg: OtlpReceiverConfig): HttpSettings | undefined {
  const h = cfg.protocols.http;
  if (!h) return undefined;
  return {
    endpoint: h.endpoint,
    maxBodyBytes: h.max_request_body_size ?? cfg.max_request_body_size,
    tls: h.tls ?? cfg.tls,
    bearerToken: (h.auth ?? cfg.auth)?.bearer_token,
    metricsPath: h.metrics_url_path,
  };
}

/** Cross-field checks, as [key path, message]. */
export function validateConfig(cfg: OtlpReceiverConfig): Array<[string, string]> {
  const issues: Array<[string, string]> = [];
  if (!cfg.protocols.grpc && !cfg.protocols.http) {
    issues.push(['protocols', 'must enable at least one protocol (grpc or http)']);
  }
  for (const [name, p] of [
    ['grpc', grpcSettings(cfg)],
    ['http', httpSettings(cfg)],
  ] as const) {
    if (!p) continue;
    if (p.maxBodyBytes <= 0) issues.push([`protocols.${name}`, 'maximum request size must be greater than 0']);
    if (p.tls && (!p.tls.cert_file || !p.tls.key_file)) {
      issues.push([`protocols.${name}.tls`, 'a server needs both cert_file and key_file']);
    }
  }
  if (cfg.protocols.grpc && cfg.protocols.http && cfg.protocols.grpc.endpoint === cfg.protocols.http.endpoint) {
    issues.push(['protocols.http.endpoint', `same address as protocols.grpc.endpoint (${cfg.protocols.http.endpoint})`]);
  }
  return issues;
}
