import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { redactConfig, toYaml } from './load.ts';

describe('redactConfig', () => {
  const config = {
    exporters: {
      datadog: { api: { key: 'dd-123', site: 'datadoghq.eu' } },
      'otlp_http/upstream': {
        endpoint: 'https://user:hunter2@collector.example.com:4318/v1',
        headers: { Authorization: 'Bearer abc', 'X-API-Key': 'k-1', 'X-Tenant': 'team-a', cookie: 'session=1' },
        tls: { key_file: '/etc/tls/key.pem', ca_file: '/etc/tls/ca.pem' },
      },
      postgres: { dsn: 'postgres://u:p@db/metrics', password: 'pw', user: 'tributary', api_token: null, client_secret: '' },
      'otlp/list': { auth_tokens: ['t1', 't2'], retry: [{ SecretValue: 's' }] },
    },
    service: { pipelines: { metrics: { receivers: ['otlp'], exporters: ['datadog'] } } },
  };

  it('replaces every secret, recursively, and leaves the rest', () => {
    expect(redactConfig(config)).toEqual({
      exporters: {
        datadog: { api: { key: '[REDACTED]', site: 'datadoghq.eu' } },
        'otlp_http/upstream': {
          endpoint: 'https://user:[REDACTED]@collector.example.com:4318/v1',
          headers: { Authorization: '[REDACTED]', 'X-API-Key': '[REDACTED]', 'X-Tenant': 'team-a', cookie: '[REDACTED]' },
          tls: { key_file: '[REDACTED]', ca_file: '/etc/tls/ca.pem' },
        },
        postgres: { dsn: '[REDACTED]', password: '[REDACTED]', user: 'tributary', api_token: null, client_secret: '' },
        'otlp/list': { auth_tokens: '[REDACTED]', retry: [{ SecretValue: '[REDACTED]' }] },
      },
      service: { pipelines: { metrics: { receivers: ['otlp'], exporters: ['datadog'] } } },
    });
  });

  it('does not modify its input', () => {
    const copy = structuredClone(config);
    redactConfig(config);
    expect(config).toEqual(copy);
  });

  it('renders YAML that reads back to the same value', () => {
    const text = toYaml(redactConfig(config));
    expect(text).toContain('key: "[REDACTED]"');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('dd-123');
    expect(parse(text)).toEqual(redactConfig(config));
  });
});
