/**
 * `otlp_grpc` (alias `otlp`) config, in otelcol's spelling. TLS is on unless
 * `tls.insecure: true` or the endpoint says `http://`, as otelcol decides.
 */
import { z, tlsSettings } from '../../config/types.ts';
import { exporterHelperFields } from '../helper/config.ts';

const endpoint = () =>
  z.string().refine((v) => parseGrpcEndpoint(v) !== undefined, { message: 'must be host:port, or http(s)://host:port' });

export const otlpGrpcConfigSchema = z
  .object({
    endpoint: endpoint(),
    compression: z.enum(['gzip', 'none', '']).default('gzip'),
    headers: z.record(z.string(), z.string()).default({}),
    tls: tlsSettings().optional(),
    ...exporterHelperFields(),
  })
  .strict();

export type OtlpGrpcConfig = z.infer<typeof otlpGrpcConfigSchema>;

export function createDefaultOtlpGrpcConfig(): OtlpGrpcConfig {
  return otlpGrpcConfigSchema.parse({ endpoint: '127.0.0.1:4317' });
}

/** `host:port` and whether the scheme asked for TLS (`https`), not (`http`), or left it to `tls`. */
export function parseGrpcEndpoint(v: string): { target: string; scheme: 'http' | 'https' | undefined } | undefined {
  const m = /^(?:(https?):\/\/)?([^/\s]+?)(?::(\d{1,5}))?\/?$/.exec(v.trim());
  if (!m) return undefined;
  const scheme = m[1] as 'http' | 'https' | undefined;
  const port = m[3] ? Number(m[3]) : scheme === 'https' ? 443 : scheme === 'http' ? 80 : undefined;
  if (port === undefined || port > 65535) return undefined;
  return { target: `${m[2]}:${port}`, scheme };
}

export function usesTls(cfg: OtlpGrpcConfig): boolean {
  const { scheme } = parseGrpcEndpoint(cfg.endpoint)!;
  if (scheme === 'http') return false;
  if (scheme === 'https') return true;
  return !cfg.tls?.insecure;
}
