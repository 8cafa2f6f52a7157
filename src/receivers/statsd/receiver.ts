/**
 * The `statsd` receiver: a listener feeding the aggregator, and a timer that
 * flushes one batch per `aggregation_interval` downstream. Bad lines, events,
 * series over the cap and refused flushes are all counted, never thrown.
 *
 * On a live reload that keeps the endpoint, the socket is handed to the new
 * receiver instead of being closed (`../../service/handover.ts`): not one datagram lost.
 */
import type { CreateSettings, Host, Receiver } from '../../component.ts';
import type { MetricsConsumer } from '../../consumer.ts';
import { reasonOf } from '../../errors.ts';
import type { CounterHandle } from '../../telemetry/self-metrics.ts';
import { handoverKey, park, parkWanted, ParkedListener, takeParked } from '../../service/handover.ts';
import { memoryPressure } from '../../processors/memory_limiter/monitor.ts';
import { ReceiverObs } from '../obs.ts';
import { handlePerValue } from '../../telemetry/self-metrics.ts';
import { countLines, StatsdAggregator, type AggregatorSink } from './aggregator.ts';
import { socketMode, transportOf, type StatsdConfig } from './config.ts';
import { listenerKind, listenTcp, listenUdp, listenUnixgram, type ListenHandlers, type Listener, type ListenOptions } from './transport.ts';

/** Bad-line log lines per reason are at most this frequent (the first is logged at once). */
const BAD_LINE_LOG_INTERVAL_MS = 60_000;
/** Offending text in logs is cut to this many characters. */
const BAD_LINE_LOG_CHARS = 200;

export class StatsdReceiver implements Receiver {
  private readonly settings: CreateSettings;
  private readonly config: StatsdConfig;
  private readonly next: MetricsConsumer;
  private readonly obs: ReceiverObs;
  private readonly linesTotal: CounterHandle;
  private readonly ignoredLines: (kind: string) => CounterHandle;
  private readonly badLines: (reason: string) => CounterHandle;
  private readonly badLog = new Map<string, { lastAt: number; suppressed: number }>();
  private aggregator: StatsdAggregator | null = null;
  private listener: Listener | null = null;
  private host: Host | undefined;
  /** Under which `host.sockets` key the listener can be handed over on reload. */
  private readonly handoverKey: string | undefined;
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastRefusalLogAt = 0;

  constructor(settings: CreateSettings, config: StatsdConfig, next: MetricsConsumer) {
    this.settings = settings;
    this.config = config;
    this.next = next;
    this.obs = new ReceiverObs(settings);
    const receiver = settings.id.id;
    this.linesTotal = settings.telemetry.registry
      .counter('tributary_statsd_lines_total', 'StatsD lines received (metrics, events, service checks and bad lines).')
      .bind({ receiver });
    // Registered on first use, so the family shows in the exposition only once a line was ignored.
    this.ignoredLines = handlePerValue((kind) =>
      settings.telemetry.registry
        .counter('tributary_statsd_ignored_lines_total', 'StatsD lines accepted but not turned into metrics: events, service checks, types mapped to disabled.')
        .bind({ receiver, kind }),
    );
    this.badLines = handlePerValue((reason) => settings.telemetry.statsdBadLines.bind({ receiver, reason }));
    this.handoverKey = handoverKey({ transport: transportOf(config), address: config.endpoint });
  }

  /** The address bound (`host:port` or socket path); useful when the endpoint asked for port 0. */
  get address(): string | undefined {
    return this.listener?.address;
  }

  async start(host: Host): Promise<void> {
    this.host = host;
    const sink: AggregatorSink = {
      badLine: (reason, line) => this.badLine(reason, line),
      ignored: (kind) => this.ignoredLines(kind).add(1),
      seriesLimited: (n) => this.obs.refusedPoints('series_limit', n),
    };
    const aggregator = new StatsdAggregator(this.config, sink);
    this.aggregator = aggregator;
    const opts: ListenOptions = {
      endpoint: this.config.endpoint,
      receiveBufferSize: this.config.receive_buffer_size,
      socketMode: socketMode(this.config),
      maxLineLength: this.config.max_line_length,
      logger: this.settings.logger,
      onData: (buf) => {
        if (this.stopped) return;
        if (memoryPressure()) {
          // Above a memory_limiter's soft limit: shed before parsing (or aggregating) anything; each line counted as refused.
          const lines = countLines(buf);
          this.linesTotal.add(lines);
          this.obs.refusedPoints('memory_limit', lines);
          return;
        }
        try {
          this.linesTotal.add(aggregator.ingest(buf));
        } catch (err) {
          // The parser never throws on input; this guards against a bug taking the listener down.
          this.badLine('internal_error', buf);
          this.settings.logger.error({ err }, 'statsd: datagram handling failed');
        }
      },
      onTooLong: (head) => {
        this.linesTotal.add(1);
        this.badLine('too_long', head);
      },
      onError: (err) => host.reportError(this.settings.id.id, err),
    };
    const t = this.config.transport;
    const family = t.endsWith('6') ? 6 : t.endsWith('4') ? 4 : undefined;
    const parked = await takeParked<Listener, ListenHandlers>(host, this.handoverKey, listenerKind(transportOf(this.config), this.config.endpoint, family));
    if (parked) this.adopt(parked, opts);
    else await this.listen(opts, family);
    this.timer = setInterval(() => void this.flush(), this.config.aggregation_interval);
    this.timer.unref();
  }

  /** Take over the socket of the receiver this one replaces; what reached it meanwhile is ingested first. */
  private adopt(parked: ParkedListener<Listener, ListenHandlers>, opts: ListenOptions): void {
    const listener = parked.adopt(opts);
    listener.adjust(opts);
    this.listener = listener;
    if (parked.dropped > 0) {
      // One refused request per datagram, as for any datagram not read (a flood during the handover; rare).
      for (let i = 0; i < parked.dropped; i++) this.obs.refusedRequest('reload_hold_full');
      this.settings.logger.warn({ datagrams: parked.dropped }, 'statsd: datagrams dropped while the socket was handed over (hold full)');
    }
    this.settings.logger.info({ address: listener.address }, 'statsd: took over the listening socket');
  }

  private async listen(opts: ListenOptions, family: 4 | 6 | undefined): Promise<void> {
    switch (transportOf(this.config)) {
      case 'udp':
        this.listener = await listenUdp(opts, family);
        break;
      case 'tcp':
        this.listener = await listenTcp(opts, family);
        break;
      case 'unixgram':
        this.listener = await listenUnixgram(opts);
        break;
    }
  }

  /** Flush now (also what the interval timer does). Resolves when the batch was handed on or counted as refused. */
  flush(): Promise<void> {
    const aggregator = this.aggregator;
    if (!aggregator) return Promise.resolve();
    const { batch, points } = aggregator.flush();
    if (points === 0) return this.flushing;
    const run = this.next.consume(batch).catch((err) => {
      const reason = reasonOf(err);
      this.obs.refusedPoints(reason, points);
      const now = Date.now();
      if (now - this.lastRefusalLogAt >= BAD_LINE_LOG_INTERVAL_MS) {
        this.lastRefusalLogAt = now;
        this.settings.logger.warn({ reason, points, err: (err as Error)?.message }, 'statsd: pipeline refused the interval\'s aggregates; dropped and counted');
      }
    });
    this.flushing = this.flushing.then(() => run);
    return this.flushing;
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const listener = this.listener;
    this.listener = null;
    // Parking is synchronous with `stopped`: no datagram reaches this receiver after it, none is ignored before it.
    if (listener && this.host && parkWanted(this.host, this.handoverKey)) park(this.host, this.handoverKey!, this.parked(listener));
    else await listener?.close();
    // What was aggregated so far goes downstream before the pipeline drains.
    await this.flush();
  }

  /** The listener, detached from this receiver: what arrives is held for the successor. */
  private parked(listener: Listener): ParkedListener<Listener, ListenHandlers> {
    const parked = new ParkedListener<Listener, ListenHandlers>({
      kind: listener.kind,
      resource: listener,
      route: (handlers) => {
        listener.handlers = handlers;
      },
      refuse: {
        onData: () => this.obs.refusedRequest('receiver_stopped'),
        onTooLong: () => this.obs.refusedRequest('receiver_stopped'),
        onError: () => undefined,
      },
      close: () => listener.close(),
    });
    listener.handlers = {
      onData: (buf) => parked.hold((h) => h.onData(buf), buf.length),
      onTooLong: (head) => parked.hold((h) => h.onTooLong(head), head.length),
      onError: (err) => parked.hold((h) => h.onError(err)),
    };
    return parked;
  }


  /** Counted every time; `line` is decoded (its first BAD_LINE_LOG_CHARS bytes) only when it is logged. */
  private badLine(reason: string, line: Buffer): void {
    this.badLines(reason).add(1);
    // The first of each reason is logged at once, then at most one line per interval with a count.
    const now = Date.now();
    const state = this.badLog.get(reason);
    if (state && now - state.lastAt < BAD_LINE_LOG_INTERVAL_MS) {
      state.suppressed++;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.badLog.set(reason, { lastAt: now, suppressed: 0 });
    this.settings.logger.warn({ reason, line: line.toString('utf8', 0, BAD_LINE_LOG_CHARS), suppressedSinceLastLog: suppressed }, 'statsd: bad line dropped');
  }
}
