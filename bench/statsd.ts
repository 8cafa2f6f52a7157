/**
 * StatsD ingest: etsy's statsd daemon (npm `statsd`) against Tributary's real
 * daemon, on the same machine, fed by the same paced sender.
 *
 *   node bench/statsd.ts [--step-ms 3000] [--deadline-s 360]
 *
 * For each daemon it finds the highest rate (lines/s) sustained with under
 * 0.1% of lines lost: climb ×1.5 from a start rate while steps pass, then
 * bisect between the last pass and the first failure. A failing step is run a
 * second time before it counts as a failure (other work on the machine can
 * spoil one step). Lines received are read from each daemon's own counters:
 * etsy's `statsd.metrics_received` (summed over flushes by a counting backend,
 * read through its management console), Tributary's
 * `tributary_statsd_lines_total` on the admin endpoint.
 *
 * CPU sharing on 2 cores: the daemon under test is pinned to CPU 0 (all its
 * threads) and the sender to CPU 1, with `taskset`; the daemons run one after
 * the other, never together, so each gets the same core to itself.
 *
 * Besides the rates, each daemon's CPU time per line received at its best
 * step is printed (from /proc; less sensitive to other work on the machine
 * than the rates). The target is Tributary ≥ 3× etsy's rate: a miss is
 * printed, and the exit code stays 0. `--record` stores this run's figures in
 * bench/baseline.json for the next run's "vs previous". BENCH_DAEMON_FLAGS
 * passes Node/V8 flags to Tributary's daemon only (e.g. "--max-semi-space-size=1").
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { freePort, freeUdpPort } from '../test/harness/ports.ts';
import { cpuSeconds } from './lib/proc.ts';
import { record, vsPrevious } from './lib/baseline.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const STEP_MS = arg('--step-ms', 3000);
const DEADLINE = Date.now() + arg('--deadline-s', 360) * 1000;
const LOSS_LIMIT = 0.001;
const FLUSH_MS = 2000; // both daemons flush every 2s
const BISECT_STEPS = 3;
const TARGET_RATIO = 3;
const BENCH = 'statsd';
const DAEMON_FLAGS = (process.env.BENCH_DAEMON_FLAGS ?? '').split(' ').filter((f) => f !== '');

const haveTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return cpus().length >= 2;
  } catch {
    return false;
  }
})();

function pinned(cpu: number, args: string[]): [string, string[]] {
  return haveTaskset ? ['taskset', ['-c', String(cpu), ...args]] : [args[0], args.slice(1)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Target {
  name: string;
  port: number;
  proc: ChildProcess;
  /** Lines the daemon has counted so far. */
  lines(): Promise<number>;
  /** How long a count can stay unchanged while lines are still pending. */
  quietMs: number;
}

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function tcpCommand(port: number, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let out = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('management console timeout'));
    }, 3000);
    sock.on('connect', () => sock.write(cmd + '\n'));
    sock.on('data', (d) => {
      out += d.toString();
      if (out.includes('END\n')) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function startEtsy(dir: string): Promise<Target> {
  const port = await freeUdpPort();
  const mgmt = await freePort();
  const configPath = join(dir, 'etsy-config.js');
  writeFileSync(
    configPath,
    JSON.stringify({ address: '127.0.0.1', port, mgmt_address: '127.0.0.1', mgmt_port: mgmt, flushInterval: FLUSH_MS, backends: [join(ROOT, 'bench/statsd-etsy-counter.cjs')] }),
  );
  const [cmd, args] = pinned(0, [process.execPath, '-r', join(ROOT, 'bench/statsd-etsy-shim.cjs'), join(ROOT, 'node_modules/statsd/bin/statsd'), configPath]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const lines = async () => {
    const out = await tcpCommand(mgmt, 'stats');
    const m = /benchcounter\.lines_total: (\d+)/.exec(out);
    if (!m) throw new Error('no line count in etsy stats');
    return Number(m[1]);
  };
  await waitFor('etsy statsd', async () => (await lines()) >= 0);
  // Its count moves only at flushes.
  return { name: 'etsy statsd', port, proc, lines, quietMs: FLUSH_MS + 700 };
}

async function startTributary(dir: string): Promise<Target> {
  const port = await freeUdpPort();
  const admin = await freePort();
  const prom = await freePort();
  const configPath = join(dir, 'tributary.yaml');
  writeFileSync(
    configPath,
    `receivers:
  statsd:
    endpoint: 127.0.0.1:${port}
    aggregation_interval: ${FLUSH_MS}ms
exporters:
  prometheus:
    endpoint: 127.0.0.1:${prom}
service:
  admin: { endpoint: 127.0.0.1:${admin} }
  pipelines:
    metrics: { receivers: [statsd], exporters: [prometheus] }
`,
  );
  const [cmd, args] = pinned(0, [process.execPath, ...DAEMON_FLAGS, join(ROOT, 'bin/tributary.js'), 'run', '--config', configPath]);
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TRIBUTARY_LOG_LEVEL: 'warn' } });
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d.toString()));
  const base = `http://127.0.0.1:${admin}`;
  try {
    await waitFor('tributary /readyz', async () => (await fetch(`${base}/readyz`)).status === 200);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`Tributary daemon did not start: ${(err as Error).message}\n${stderr.slice(-2000)}`);
  }
  const lines = async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const m = /^tributary_statsd_lines_total\{[^}]*\} (\d+)/m.exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { name: 'Tributary', port, proc, lines, quietMs: 400 };
}

/** The count once it has stopped moving (backlog drained, last flush counted). */
async function settledCount(t: Target): Promise<number> {
  let last = await t.lines();
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    await sleep(t.quietMs);
    const now = await t.lines();
    if (now === last) return now;
    last = now;
  }
  return last;
}

interface StepResult {
  rate: number;
  achieved: number;
  sent: number;
  received: number;
  loss: number;
  rss: number;
  /** Daemon CPU seconds per line received during the step. */
  cpuPerLine: number;
  pass: boolean;
}

async function step(t: Target, rate: number): Promise<StepResult> {
  const before = await settledCount(t);
  const [cmd, args] = pinned(1, [process.execPath, join(ROOT, 'bench/statsd-sender.ts'), String(t.port), String(Math.round(rate)), String(STEP_MS)]);
  const sender = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  sender.stdout!.on('data', (d) => (out += d.toString()));
  let rss = 0;
  const sampler = setInterval(() => (rss = Math.max(rss, rssBytes(t.proc.pid!))), 200);
  const cpuBefore = cpuSeconds(t.proc.pid!);
  await new Promise((r) => sender.on('exit', r));
  clearInterval(sampler);
  const report = JSON.parse(out.trim().split('\n').pop()!) as { sentLines: number; achievedRate: number };
  const after = await settledCount(t);
  // Up to the settled count: the backlog drained after the sender stopped is work for these lines too.
  const cpu = cpuSeconds(t.proc.pid!) - cpuBefore;
  const received = after - before;
  const loss = report.sentLines > 0 ? Math.max(0, (report.sentLines - received) / report.sentLines) : 1;
  const senderKeptUp = report.achievedRate >= rate * 0.97;
  return { rate, achieved: report.achievedRate, sent: report.sentLines, received, loss, rss, cpuPerLine: received > 0 ? cpu / received : 0, pass: loss < LOSS_LIMIT && senderKeptUp };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function stepWithRetry(t: Target, rate: number): Promise<StepResult> {
  let r = await step(t, rate);
  log(t, r);
  if (!r.pass && r.achieved >= rate * 0.97 && Date.now() < DEADLINE) {
    r = await step(t, rate);
    log(t, r, ' (retry)');
  }
  return r;
}

function log(t: Target, r: StepResult, note = ''): void {
  const flag = r.pass ? 'ok  ' : r.achieved < r.rate * 0.97 ? 'SEND' : 'LOSS';
  console.log(
    `  ${t.name.padEnd(12)} ${flag} target ${fmt(r.rate).padStart(9)} lines/s  sent ${fmt(r.achieved).padStart(9)}/s  lost ${(r.loss * 100).toFixed(3).padStart(7)}%  rss ${(r.rss / 2 ** 20).toFixed(0)} MiB  cpu ${(r.cpuPerLine * 1e6).toFixed(2)} µs/line${note}`,
  );
}

/** Highest passing rate: climb ×1.5, then bisect. Returns the best passing step (or undefined). */
async function search(t: Target, startRate: number, maxRate: number): Promise<{ best?: StepResult; senderLimited: boolean }> {
  let best: StepResult | undefined;
  let failRate = Infinity;
  let rate = startRate;
  let senderLimited = false;
  while (Date.now() < DEADLINE && rate <= maxRate) {
    const r = await stepWithRetry(t, rate);
    if (r.pass) {
      best = r;
      rate *= 1.5;
    } else {
      if (r.achieved < r.rate * 0.97) senderLimited = true;
      failRate = rate;
      if (best) break;
      rate /= 1.5;
      if (rate < 10_000) break;
    }
  }
  for (let i = 0; i < BISECT_STEPS && best && Number.isFinite(failRate) && Date.now() < DEADLINE && !senderLimited; i++) {
    const mid = (best.rate + failRate) / 2;
    const r = await stepWithRetry(t, mid);
    if (r.pass) best = r;
    else failRate = mid;
  }
  return { best, senderLimited };
}

async function stop(t: Target): Promise<void> {
  t.proc.kill('SIGTERM');
  await Promise.race([new Promise((r) => t.proc.once('exit', r)), sleep(5000)]);
  if (t.proc.exitCode === null) t.proc.kill('SIGKILL');
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, 'node_modules/statsd/bin/statsd'))) throw new Error('etsy statsd (npm statsd) is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'bench-statsd-'));
  console.log(
    `statsd ingest: 20 lines/datagram, 1,000 tagged series (60% counters, 20% gauges, 20% timers), ${STEP_MS / 1000}s steps, pass = < ${LOSS_LIMIT * 100}% lines lost; both daemons flush every ${FLUSH_MS / 1000}s`,
  );
  console.log(
    haveTaskset
      ? `CPU: daemon under test pinned to CPU 0, sender to CPU 1 (taskset); daemons measured one after the other. Load average at start: ${loadavg()[0].toFixed(2)}`
      : 'CPU: taskset unavailable or fewer than 2 CPUs: daemon and sender share the CPUs (figures less reliable)',
  );
  console.log('Tributary runs as the real daemon (bin/tributary.js run: statsd receiver → prometheus exporter).');

  const etsy = await startEtsy(dir);
  let etsyResult;
  try {
    etsyResult = await search(etsy, 100_000, 2_000_000);
  } finally {
    await stop(etsy);
  }
  const trib = await startTributary(dir);
  let tribResult;
  try {
    tribResult = await search(trib, 200_000, 5_000_000);
  } finally {
    await stop(trib);
  }
  const e = etsyResult.best?.rate ?? 0;
  const t = tribResult.best?.rate ?? 0;
  const ratio = e > 0 ? t / e : 0;
  const us = (r: StepResult | undefined) => (r ? r.cpuPerLine * 1e6 : 0);
  const mib = (r: StepResult | undefined) => (r ? r.rss / 2 ** 20 : 0);
  console.log('');
  console.log(`etsy statsd sustains  ${fmt(e).padStart(9)} lines/s${etsyResult.senderLimited ? ' (at least: sender limit reached)' : ''}, ${us(etsyResult.best).toFixed(2)} µs CPU/line there, RSS ${mib(etsyResult.best).toFixed(0)} MiB`);
  console.log(
    `Tributary sustains    ${fmt(t).padStart(9)} lines/s${tribResult.senderLimited ? ' (at least: sender limit reached)' : ''} ${vsPrevious(BENCH, 'tributaryLinesPerSecond', t)}`,
  );
  console.log(`  CPU per line there  ${us(tribResult.best).toFixed(2)} µs ${vsPrevious(BENCH, 'tributaryCpuMicrosPerLine', us(tribResult.best))}`);
  console.log(`  RSS at that rate    ${mib(tribResult.best).toFixed(0)} MiB ${vsPrevious(BENCH, 'tributaryRssMiB', mib(tribResult.best))}`);
  console.log(`ratio                 ${e > 0 ? ratio.toFixed(2) : 'n/a'}× etsy ${vsPrevious(BENCH, 'ratioToEtsy', ratio)}`);
  if (e > 0 && t > 0 && ratio >= TARGET_RATIO) console.log(`target met: Tributary sustains ≥ ${TARGET_RATIO}× etsy's rate`);
  else console.log(`TARGET MISSED: ${e > 0 && t > 0 ? `${ratio.toFixed(2)}×` : 'no passing step'}, target ≥ ${TARGET_RATIO}× etsy's rate`);
  console.log(`load average at the end: ${loadavg()[0].toFixed(2)} (rates depend on other work on the machine; CPU per line less so)`);
  if (Date.now() >= DEADLINE) console.log('(deadline reached: the search stopped early)');
  record(BENCH, {
    etsyLinesPerSecond: e,
    tributaryLinesPerSecond: t,
    ratioToEtsy: Number(ratio.toFixed(3)),
    etsyCpuMicrosPerLine: Number(us(etsyResult.best).toFixed(3)),
    tributaryCpuMicrosPerLine: Number(us(tribResult.best).toFixed(3)),
    tributaryRssMiB: Math.round(mib(tribResult.best)),
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
