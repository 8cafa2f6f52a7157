/**
 * Paced StatsD load for bench/statsd.ts, run as its own process (pinned to
 * its own core by the parent): 1,000 distinct series with DogStatsD tags,
 * 20 lines per datagram, sent at a fixed lines/s rate for a fixed time.
 *
 *   node bench/statsd-sender.ts <port> <linesPerSecond> <durationMs>
 *
 * Prints one JSON line: { sentLines, sentDatagrams, elapsedMs, achievedRate }.
 */
import dgram from 'node:dgram';

const [port, rate, durationMs] = process.argv.slice(2).map(Number);
const LINES_PER_DATAGRAM = 20;
const SERIES = 1000;

/**
 * Every series gets one line shape; values vary so parsers do real number work.
 * Mix: 60% counters (a quarter of them sampled), 20% gauges, 20% timers, all tagged.
 */
function line(series: number, round: number): string {
  const tags = `#env:prod,service:svc${series % 10},host:node-${series % 50}`;
  const name = `bench.app.metric_${series}`;
  const v = (series * 31 + round * 7) % 1000;
  switch (series % 10) {
    case 0:
    case 1:
      return `${name}:${v}|g|${tags}`;
    case 2:
    case 3:
      return `${name}:${(v / 10).toFixed(1)}|ms|${tags}`;
    case 4:
      return `${name}:1|c|@0.5|${tags}`;
    default:
      return `${name}:${1 + (v % 5)}|c|${tags}`;
  }
}

// Pre-built datagrams (several rounds of every series) so sending costs no string work.
const datagrams: Buffer[] = [];
for (let round = 0; round < 5; round++) {
  for (let s = 0; s < SERIES; s += LINES_PER_DATAGRAM) {
    const lines: string[] = [];
    for (let j = 0; j < LINES_PER_DATAGRAM; j++) lines.push(line(s + j, round));
    datagrams.push(Buffer.from(lines.join('\n')));
  }
}

const socket = dgram.createSocket({ type: 'udp4', sendBufferSize: 4 * 1024 * 1024 });
// A connected UDP socket reports ICMP port-unreachable as errors; the receiver's counters tell what arrived.
socket.on('error', () => {});
socket.connect(port, '127.0.0.1', () => {
  const perSecond = rate / LINES_PER_DATAGRAM;
  const start = process.hrtime.bigint();
  let sent = 0;
  let next = 0;
  const tick = () => {
    const elapsedNs = Number(process.hrtime.bigint() - start);
    if (elapsedNs >= durationMs * 1e6) return finish(elapsedNs);
    // Send what is due by now (the schedule, not a sleep, sets the rate), in bursts of at most 1ms worth.
    const due = Math.floor((elapsedNs / 1e9) * perSecond);
    const burst = Math.min(due - sent, Math.ceil(perSecond / 1000) + 1);
    for (let i = 0; i < burst; i++) {
      socket.send(datagrams[next]);
      next = next + 1 === datagrams.length ? 0 : next + 1;
    }
    sent += burst > 0 ? burst : 0;
    setImmediate(tick);
  };
  const finish = (elapsedNs: number) => {
    // Let queued sends leave before reporting.
    socket.send(Buffer.alloc(0), () => {
      const elapsedMs = elapsedNs / 1e6;
      process.stdout.write(
        JSON.stringify({ sentLines: sent * LINES_PER_DATAGRAM, sentDatagrams: sent, elapsedMs, achievedRate: (sent * LINES_PER_DATAGRAM) / (elapsedMs / 1000) }) + '\n',
      );
      socket.close();
    });
  };
  tick();
});
