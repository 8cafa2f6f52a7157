import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { grpcSettings, httpSettings, otlpConfigSchema, validateConfig } from './config.ts';
import { otlpReceiverFactory } from './factory.ts';

const fromYaml = (text: string) => otlpConfigSchema.parse(parseYaml(text) ?? {});

describe('otlp receiver config', () => {
  it('defaults to both protocols on loopback with a 20 MiB limit', () => {
    const cfg = otlpReceiverFactory.createDefaultConfig();
    expect(otlpReceiverFactory.listenAddresses!(cfg)).toEqual([
      { key: 'protocols.grpc.endpoint', transport: 'tcp', address: '127.0.0.1:4317' },
      { key: 'protocols.http.endpoint', transport: 'tcp', address: '127.0.0.1:4318' },
    ]);
    expect(grpcSettings(cfg)?.maxBodyBytes).toBe(20 * 1024 * 1024);
    expect(httpSettings(cfg)).toMatchObject({ maxBodyBytes: 20 * 1024 * 1024, metricsPath: '/v1/metrics' });
    expect(validateConfig(cfg)).toEqual([]);
  });

  it('opens only the protocols written; a null protocol means its defaults (otelcol)', () => {
    const cfg = fromYaml('protocols:\n  grpc:\n');
    expect(cfg.protocols.http).toBeUndefined();
    expect(otlpReceiverFactory.listenAddresses!(cfg)).toEqual([{ key: 'protocols.grpc.endpoint', transport: 'tcp', address: '127.0.0.1:4317' }]);
  });

  it("accepts otelcol's per-protocol spellings of the size limit", () => {
    const cfg = fromYaml(`
protocols:
  grpc: { endpoint: 0.0.0.0:14317, max_recv_msg_size_mib: 4, include_metadata: true }
  http: { endpoint: 0.0.0.0:14318, max_request_body_size: 1048576, traces_url_path: /v1/traces }
max_request_body_size: 8MiB
`);
    expect(grpcSettings(cfg)).toMatchObject({ endpoint: '0.0.0.0:14317', maxBodyBytes: 4 * 1024 * 1024 });
    expect(httpSettings(cfg)).toMatchObject({ endpoint: '0.0.0.0:14318', maxBodyBytes: 1024 * 1024 });
    const top = fromYaml('max_request_body_size: 8MiB\nauth: { bearer_token: abc }');
    expect(grpcSettings(top)).toMatchObject({ maxBodyBytes: 8 * 1024 * 1024, bearerToken: 'abc' });
    expect(httpSettings(top)).toMatchObject({ maxBodyBytes: 8 * 1024 * 1024, bearerToken: 'abc' });
  });

  it('reports unknown keys, bad endpoints, no protocol, half a TLS pair and one address twice', () => {
    expect(otlpConfigSchema.safeParse({ protocols: { grpc: { endpoint: '127.0.0.1:4317', bogus: 1 } } }).success).toBe(false);
    expect(otlpConfigSchema.safeParse({ protocols: { http: { endpoint: 'nope' } } }).success).toBe(false);
    expect(otlpConfigSchema.safeParse({ protocols: { thrift: {} } }).success).toBe(false);
    expect(validateConfig(fromYaml('protocols: {}'))).toEqual([['protocols', 'must enable at least one protocol (grpc or http)']]);
    expect(validateConfig(fromYaml('protocols: { http: { tls: { cert_file: /c.pem } } }'))).toEqual([
      ['protocols.http.tls', 'a server needs both cert_file and key_file'],
    ]);
    expect(validateConfig(fromYaml('protocols: { grpc: { endpoint: "127.0.0.1:5000" }, http: { endpoint: "127.0.0.1:5000" } }'))[0][0]).toBe(
      'protocols.http.endpoint',
    );
  });
});
