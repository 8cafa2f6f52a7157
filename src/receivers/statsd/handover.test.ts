/**
 * Live-reload handover of the statsd listener: a replaced receiver parks its
 * socket, the new one adopts it; under a steady stream nothing is lost or
 * counted twice, an open TCP connection keeps delivering, and a socket nobody
 * adopts (or of another kind) is closed so the address can be bound again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import dgram from 'node:dgram';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { CollectingConsumer } from '../../consumer.ts';
import type { Host } from '../../component.ts';
import type { Metric, MetricsBatch, NumberPoint } from '../../model/metrics.ts';
import { testHost, testSettings } from '../../testing/settings.ts';
import { closeUnadopted, listenKey, ParkedListener, wantParked } from '../../service/handover.ts';
import { statsdConfigSchema } from './config.ts';
import { statsdReceiverFactory } from './factory.ts';
import type { StatsdReceiver } from './receiver.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function receiver(raw: Record<string, unknown>, host: Host) {
  const next = new CollectingConsumer();
  // Long intervals: the test flushes by hand, nothing depends on timing.
  const config = statsdConfigSchema.parse({ aggregation_interval: '1h', ...raw });
  const r = statsdReceiverFactory.create(testSettings('receiver', 'statsd'), config, next) as StatsdReceiver;
  const start = async () => {
    await r.start(host);
    cleanups.push(() => r.shutdown());
  };
  return { r, next, start };
}

/** A port free right now (bound and released), so two receivers in turn can ask for the same address. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function counterTotal(batches: MetricsBatch[], name: string): number {
  let total = 0;
  for (const b of batches)
    for (const rm of b.resourceMetrics)
      for (const sm of rm.scopeMetrics)
        for (const m of sm.metrics as Metric[]) if (m.name === name) for (const p of m.points as NumberPoint[]) total += p.value;
  return total;
}

/** Sends `name:1|c` datagrams back to back until stopped; resolves with how many were sent. */
function steadyUdp(port: number, name: string) {
  const socket = dgram.createSocket('udp4');
  let running = true;
  let sent = 0;
  const done = (async () => {
    while (running && sent < 200_000) {
      await new Promise<void>((resolve, reject) => socket.send(`${name}:1|c`, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      sent++;
      // Yield now and then so the receiver (same process) keeps up; loopback UDP drops only when its buffer overflows.
      if (sent % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    socket.close();
    return sent;
  })();
  return { stop: () => ((running = false), done), count: () => sent };
}

async function until(fn: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('statsd listener handover', () => {
  it('UDP: the socket moves to the new receiver under a steady stream; every datagram is counted once', async () => {
    const port = await freeUdpPort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = receiver({ endpoint }, host);
    await a.start();
    const load = steadyUdp(port, 'handover.udp');
    await until(() => load.count() > 500, 'load before the handover');

    // What the service does on reload: mark the kept key, stop the old receiver, start the new one.
    wantParked(host, [listenKey('udp', endpoint)]);
    await a.r.shutdown();
    expect(host.sockets.get(listenKey('udp', endpoint))).toBeDefined();
    const b = receiver({ endpoint, aggregation_interval: '30m', prefix: '' }, host);
    await b.start();
    expect(host.sockets.size).toBe(0);
    expect(b.r.address).toBe(endpoint);

    const atHandover = load.count();
    await until(() => load.count() > atHandover + 500, 'load after the handover');
    const sent = await load.stop();
    // Everything sent is in one of the two receivers once the last datagram is in.
    await until(() => {
      void b.r.flush();
      return counterTotal(a.next.batches, 'handover.udp') + counterTotal(b.next.batches, 'handover.udp') >= sent;
    }, 'all datagrams');
    await b.r.flush();
    const before = counterTotal(a.next.batches, 'handover.udp');
    const after = counterTotal(b.next.batches, 'handover.udp');
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    expect(before + after).toBe(sent);
  });

  it('TCP: an open client connection keeps delivering to the new receiver', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = receiver({ endpoint, transport: 'tcp' }, host);
    await a.start();
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    cleanups.push(() => void client.destroy());
    client.write('handover.tcp:1|c\nhandover.tcp:2|c\n');
    await until(() => {
      void a.r.flush();
      return counterTotal(a.next.batches, 'handover.tcp') === 3;
    }, 'lines before the handover');

    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    // Written while the listener is parked: held for the successor.
    client.write('handover.tcp:4|c\n');
    await until(() => (host.sockets.get(listenKey('tcp', endpoint)) as ParkedListener).heldCount === 1, 'the line held');
    const b = receiver({ endpoint, transport: 'tcp', max_line_length: 1024 }, host);
    await b.start();
    client.write('handover.tcp:8|c\n');
    // A new connection reaches the new receiver as well.
    const second = net.connect(port, '127.0.0.1');
    second.end('handover.tcp:16|c\n');
    await until(() => {
      void b.r.flush();
      return counterTotal(b.next.batches, 'handover.tcp') === 28;
    }, 'lines after the handover');
    expect(counterTotal(a.next.batches, 'handover.tcp')).toBe(3);
  });

  it('a parked socket nobody adopts is closed, and the address is free again', async () => {
    const port = await freeUdpPort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = receiver({ endpoint }, host);
    await a.start();
    wantParked(host, [listenKey('udp', endpoint)]);
    await a.r.shutdown();
    expect(await closeUnadopted(host)).toEqual([listenKey('udp', endpoint)]);
    expect(host.sockets.size).toBe(0);
    const b = receiver({ endpoint }, testHost());
    await b.start();
    expect(b.r.address).toBe(endpoint);
  });

  it('a parked socket of another kind (tcp → tcp4) is closed and the new receiver binds afresh', async () => {
    const port = await freePort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = receiver({ endpoint, transport: 'tcp' }, host);
    await a.start();
    wantParked(host, [listenKey('tcp', endpoint)]);
    await a.r.shutdown();
    const b = receiver({ endpoint, transport: 'tcp4' }, host);
    await b.start();
    expect(host.sockets.size).toBe(0);
    const c = net.connect(port, '127.0.0.1');
    c.end('handover.kind:5|c\n');
    await until(() => {
      void b.r.flush();
      return counterTotal(b.next.batches, 'handover.kind') === 5;
    }, 'line on the new socket');
  });

  it('without a park request, shutdown closes the socket as before', async () => {
    const port = await freeUdpPort();
    const endpoint = `127.0.0.1:${port}`;
    const host = testHost();
    const a = receiver({ endpoint }, host);
    await a.start();
    await a.r.shutdown();
    expect(host.sockets.size).toBe(0);
    const b = receiver({ endpoint }, host);
    await b.start();
    expect(b.r.address).toBe(endpoint);
  });

  const unixDgramAvailable = (() => {
    try {
      createRequire(import.meta.url)('unix-dgram');
      return true;
    } catch {
      return false;
    }
  })();

  it.runIf(unixDgramAvailable)('unixgram: the socket file moves to the new receiver', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'statsd-handover-'));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const endpoint = path.join(dir, 'statsd.sock');
    const host = testHost();
    const a = receiver({ endpoint, transport: 'unixgram' }, host);
    await a.start();
    const unix = createRequire(import.meta.url)('unix-dgram');
    const client = unix.createSocket('unix_dgram');
    cleanups.push(() => client.close());
    const send = (text: string) => client.send(Buffer.from(text), 0, text.length, endpoint);
    send('handover.unix:1|c');
    await until(() => {
      void a.r.flush();
      return counterTotal(a.next.batches, 'handover.unix') === 1;
    }, 'datagram before the handover');
    wantParked(host, [listenKey('unixgram', endpoint)]);
    await a.r.shutdown();
    send('handover.unix:2|c');
    await until(() => (host.sockets.get(listenKey('unixgram', endpoint)) as ParkedListener).heldCount === 1, 'the datagram held');
    const b = receiver({ endpoint, transport: 'unixgram', socket_permissions: '0600' }, host);
    await b.start();
    send('handover.unix:4|c');
    await until(() => {
      void b.r.flush();
      return counterTotal(b.next.batches, 'handover.unix') === 6;
    }, 'datagrams after the handover');
    expect(fs.statSync(endpoint).mode & 0o777).toBe(0o600);
  });
});
