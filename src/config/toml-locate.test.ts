import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { locateToml } from './toml-locate.ts';
import { hasPath, locate, type KeyPath } from './positions.ts';

const TEXT = `# comment line
title = "x" # trailing comment

[receivers.otlp.protocols.grpc]
endpoint = "127.0.0.1:4317"

[ exporters . "otlp_http/upstream" ]
endpoint = 'http://a.example.com'
headers.Authorization = "Bearer \\"quoted\\" # not a comment"
retry_on_failure = { enabled = true, nested = { max_interval = "30s" } }
notes = """
first line
endpoint = "not a key"
"""
after_notes = 1

[exporters.'debug/x']
literal = '''
[not.a.table]
'''
list = [
  "a", # first
  { name = "b", when = 1979-05-27T07:32:00Z },
  [1, 2],
]
continued = """one \\
  two"""
bare-key_1 = 5

[[service.pipelines.metrics.rules]]
match = "a"

[[service.pipelines.metrics.rules]]
match = "b"

[service.pipelines.metrics.rules.extra]
k = 1
`;

describe('locateToml', () => {
  const pos = locateToml('f.toml', TEXT);
  const at = (path: KeyPath, which: 'key' | 'value' = 'key') => {
    const p = locate(pos, path, which);
    return `${p.line}:${p.col}`;
  };

  it('is given valid TOML', () => {
    expect(() => parse(TEXT)).not.toThrow();
  });

  it('locates keys and values of top-level pairs and tables', () => {
    expect(at(['title'])).toBe('2:1');
    expect(at(['title'], 'value')).toBe('2:9');
    expect(at(['receivers', 'otlp', 'protocols', 'grpc'])).toBe('4:27');
    expect(at(['receivers', 'otlp', 'protocols', 'grpc', 'endpoint'])).toBe('5:1');
    expect(at(['receivers', 'otlp', 'protocols', 'grpc', 'endpoint'], 'value')).toBe('5:12');
  });

  it('handles quoted table names with spaces, dotted keys and escaped quotes', () => {
    expect(at(['exporters', 'otlp_http/upstream'])).toBe('7:15');
    expect(at(['exporters', 'otlp_http/upstream', 'endpoint'], 'value')).toBe('8:12');
    expect(at(['exporters', 'otlp_http/upstream', 'headers'])).toBe('9:1');
    expect(at(['exporters', 'otlp_http/upstream', 'headers', 'Authorization'])).toBe('9:9');
    expect(at(['exporters', 'otlp_http/upstream', 'headers', 'Authorization'], 'value')).toBe('9:25');
  });

  it('descends into inline tables', () => {
    expect(at(['exporters', 'otlp_http/upstream', 'retry_on_failure', 'enabled'])).toBe('10:22');
    expect(at(['exporters', 'otlp_http/upstream', 'retry_on_failure', 'nested', 'max_interval'], 'value')).toBe('10:64');
  });

  it('skips multi-line strings, keeping line numbers right after them', () => {
    expect(hasPath(pos, ['exporters', 'otlp_http/upstream', 'endpoint'])).toBe(true);
    expect(at(['exporters', 'otlp_http/upstream', 'notes'], 'value')).toBe('11:9');
    expect(at(['exporters', 'otlp_http/upstream', 'after_notes'])).toBe('15:1');
    expect(hasPath(pos, ['not'])).toBe(false);
    expect(at(['exporters', 'debug/x'])).toBe('17:12');
    expect(at(['exporters', 'debug/x', 'literal'])).toBe('18:1');
  });

  it('locates array elements across lines, inline tables inside them, and line continuations', () => {
    expect(at(['exporters', 'debug/x', 'list', 0])).toBe('22:3');
    expect(at(['exporters', 'debug/x', 'list', 1, 'when'])).toBe('23:17');
    expect(at(['exporters', 'debug/x', 'list', 2, 1])).toBe('24:7');
    expect(at(['exporters', 'debug/x', 'bare-key_1'])).toBe('28:1');
  });

  it('numbers the elements of arrays of tables, and tables nested in the last one', () => {
    expect(at(['service', 'pipelines', 'metrics', 'rules', 0, 'match'])).toBe('31:1');
    expect(at(['service', 'pipelines', 'metrics', 'rules', 1])).toBe('33:29');
    expect(at(['service', 'pipelines', 'metrics', 'rules', 1, 'match'], 'value')).toBe('34:9');
    expect(at(['service', 'pipelines', 'metrics', 'rules', 1, 'extra', 'k'])).toBe('37:1');
  });

  it('falls back to the nearest ancestor for keys it does not know', () => {
    expect(at(['exporters', 'otlp_http/upstream', 'timeout'])).toBe('7:15');
  });

  it('never throws on text it cannot follow', () => {
    const p = locateToml('bad.toml', 'a = 1\n[b\nc = "unterminated');
    expect(locate(p, ['a'], 'key')).toEqual({ file: 'bad.toml', line: 1, col: 1 });
  });
});
