import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { PostgresSender } from './sender.ts';
import { postgresConfigSchema } from './config.ts';
import { freePort } from '../../../test/harness/ports.ts';

describe('postgres exporter during a database outage', () => {
  it('warns once about failing rollup merges, not on every tick', async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    // Nothing listens on this port: every connection attempt is refused at once.
    const port = await freePort();
    const sender = new PostgresSender(postgresConfigSchema.parse({ dsn: `postgres://u:p@127.0.0.1:${port}/db`, rollup_flush_interval: '1h' }), logger);
    for (let i = 0; i < 4; i++) await expect(sender.flushRollups()).rejects.toThrow();
    await sender.shutdown();
    const merges = lines.filter((l) => /rollup merge failed/.test(l.msg));
    expect(merges).toHaveLength(4);
    expect(merges.filter((l) => l.level >= 40)).toHaveLength(1);
  });
});
