/**
 * The running daemon's pipelines: start, live reload by difference, drain.
 *
 * Reload (CONTRACT §5): the new config arrives validated. Components whose
 * config did not change are kept (receivers keep their sockets); new
 * exporters and pipelines are started before any data is pointed at them;
 * each replaced exporter then hands over to its successor (same ID): its
 * listener (`handover.ts`), state and queued batches, and it forwards what
 * still reaches it; replaced receivers stop, handing each listener the new
 * config keeps to their successor (what arrives meanwhile is held, not
 * lost); kept receivers are re-pointed and new receivers start (adopting
 * those listeners); replaced pipelines are then drained (their in-flight
 * calls finish, their processors flush) into exporters that are still
 * running; replaced exporters finish their in-flight sends last. No accepted
 * point is dropped by the swap.
 */
import type { Factory, Host } from '../component.ts';
import type { ComponentConfig, TributaryConfig } from '../config/model.ts';
import { closeUnadopted, handoverKey, wantParked } from './handover.ts';
import { TributaryError, errorMessage } from '../errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import {
  buildGraph,
  receiverTargets,
  shutdownExporters,
  shutdownGraph,
  shutdownPipelines,
  shutdownReceivers,
  startGraph,
  type ExporterNode,
  type Graph,
} from './graph.ts';

export type ServiceState = 'starting' | 'running' | 'draining' | 'stopped';

export interface ServiceOptions {
  logger: Logger;
  telemetry: PipelineTelemetry;
}

export class Service {
  private readonly logger: Logger;
  private readonly telemetry: PipelineTelemetry;
  private graph?: Graph;
  private current?: TributaryConfig;
  private reloading: Promise<unknown> = Promise.resolve();
  state: ServiceState = 'starting';

  readonly host: Host;

  constructor(opts: ServiceOptions) {
    this.logger = opts.logger;
    this.telemetry = opts.telemetry;
    this.host = {
      sockets: new Map(),
      reportError: (componentId, err) => {
        this.logger.error({ component: componentId, err: errorMessage(err) }, 'component error');
      },
    };
  }

  get config(): TributaryConfig | undefined {
    return this.current;
  }

  /** Build and start every pipeline. On failure, what was started is stopped again and the error (naming the component) is thrown. */
  async start(config: TributaryConfig): Promise<void> {
    const graph = buildGraph(config, { telemetry: this.telemetry, logger: this.logger, shutdownTimeoutMs: config.service.shutdownTimeoutMs });
    this.graph = graph;
    this.current = config;
    try {
      await startGraph(graph, this.host);
    } catch (err) {
      this.state = 'draining';
      await shutdownGraph(graph, this.logger);
      this.state = 'stopped';
      throw err;
    }
    this.state = 'running';
    this.logger.info(
      { pipelines: [...graph.pipelines.keys()], receivers: [...graph.receivers.keys()], exporters: [...graph.exporters.keys()] },
      'pipelines started',
    );
  }

  /** Apply a validated config by difference. Serialised: a reload waits for the previous one. */
  reload(config: TributaryConfig): Promise<void> {
    const run = this.reloading.then(() => this.applyReload(config));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async applyReload(config: TributaryConfig): Promise<void> {
    const old = this.graph;
    const oldConfig = this.current;
    if (!old || !oldConfig || this.state !== 'running') throw new Error(`cannot reload while ${this.state}`);
    const deps = { telemetry: this.telemetry, logger: this.logger, shutdownTimeoutMs: config.service.shutdownTimeoutMs };
    const next = buildGraph(config, deps, old);

    const removedReceivers = [...old.receivers.values()].filter((n) => next.receivers.get(n.id) !== n);
    const removedPipelines = [...old.pipelines.values()].filter((p) => next.pipelines.get(p.id) !== p);
    const removedExporters = [...old.exporters.values()].filter((n) => next.exporters.get(n.id) !== n);
    const keptReceivers = [...next.receivers.values()].filter((n) => old.receivers.get(n.id) === n);
    const freshReceivers = [...next.receivers.values()].filter((n) => old.receivers.get(n.id) !== n);
    const successions = removedExporters.flatMap((o) => {
      const successor = next.exporters.get(o.id);
      return successor ? [{ old: o, successor }] : [];
    });

    // Exporters are replaced start-then-stop, so a successor listening where its predecessor
    // did must not bind: the mark tells it to wait for the listener, handed over below.
    const exporterHandover = new Set<string>();
    for (const { old: o } of successions.filter((s) => s.old.instance.handOverTo !== undefined))
      for (const key of intersect(listenKeys(oldConfig.exporters, [o.id]), listenKeys(config.exporters, [o.id]))) exporterHandover.add(key);
    wantParked(this.host, exporterHandover);

    // New exporters and pipelines first, so nothing is pointed at a component that is not running.
    try {
      await startGraph(next, this.host, { skipReceivers: true });
    } catch (err) {
      // Undo what this reload started; the old graph is untouched and keeps running.
      const fresh = {
        receivers: new Map(),
        pipelines: new Map([...next.pipelines].filter(([, p]) => old.pipelines.get(p.id) !== p)),
        exporters: new Map([...next.exporters].filter(([, e]) => old.exporters.get(e.id) !== e)),
      };
      await shutdownGraph(fresh, this.logger);
      await closeUnadopted(this.host);
      throw err;
    }

    // Replaced exporters hand over now, before any data is re-pointed: successors take
    // listeners, state and queued batches, and what reaches a predecessor is forwarded.
    const handoverFailure = await handOverExporters(successions, this.logger);

    // Replaced receivers park the listeners their successors keep (held, not closed),
    // close the others, and flush; then the successors start and adopt what was parked.
    const handedOver = intersect(
      listenKeys(oldConfig.receivers, removedReceivers.map((n) => n.id)),
      listenKeys(config.receivers, freshReceivers.map((n) => n.id)),
    );
    wantParked(this.host, handedOver);
    let receiverFailure: unknown;
    try {
      await shutdownReceivers(removedReceivers, this.logger);
      for (const n of keptReceivers) n.fanout.setPipelines(receiverTargets(config, next, n.id));
      this.graph = next;
      this.current = config;
      await startGraph(next, this.host);
    } catch (err) {
      receiverFailure = err;
    }
    // Only a receiver that failed to start leaves a listener behind.
    const closed = await closeUnadopted(this.host);
    if (closed.length > 0) this.logger.warn({ listeners: closed }, 'listeners parked for a successor that did not take them were closed');

    // Drain what was replaced, front to back, into exporters that are still running
    // (also after a receiver failed to start: what the replaced ones accepted must not stay stuck).
    await shutdownPipelines(removedPipelines, this.logger);
    await shutdownExporters(removedExporters, this.logger);
    if (receiverFailure !== undefined) throw receiverFailure;
    if (handoverFailure !== undefined) throw handoverFailure;

    this.logger.info(
      {
        kept: { receivers: keptReceivers.map((n) => n.id), pipelines: [...next.pipelines.values()].filter((p) => old.pipelines.get(p.id) === p).map((p) => p.id) },
        replaced: { receivers: removedReceivers.map((n) => n.id), pipelines: removedPipelines.map((p) => p.id), exporters: removedExporters.map((n) => n.id) },
        handedOver: [...handedOver, ...exporterHandover],
      },
      'config reloaded',
    );
  }

  /**
   * Drain and stop within `timeoutMs`: receivers stop first, processors flush,
   * exporters send what they hold (a disk queue keeps the rest for next start).
   * Resolves true when everything stopped in time.
   */
  async shutdown(timeoutMs: number): Promise<boolean> {
    if (this.state === 'stopped' || this.state === 'draining') return true;
    this.state = 'draining';
    await this.reloading;
    const graph = this.graph;
    if (!graph) {
      this.state = 'stopped';
      return true;
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
      timer.unref();
    });
    const done = shutdownGraph(graph, this.logger).then(() => true as const);
    const inTime = await Promise.race([done, deadline]);
    clearTimeout(timer);
    this.state = 'stopped';
    if (!inTime) this.logger.warn({ timeoutMs }, 'shutdown timed out; some data may remain queued');
    return inTime;
  }
}

/**
 * Each replaced exporter hands over to its successor. One that fails is
 * logged and left to drain on its own at shutdown; the first failure is
 * returned so the reload is reported as failed (the rest stays applied).
 */
async function handOverExporters(successions: Array<{ old: ExporterNode; successor: ExporterNode }>, logger: Logger): Promise<unknown> {
  let failure: unknown;
  for (const { old, successor } of successions) {
    try {
      await old.instance.handOverTo?.(successor.instance);
    } catch (err) {
      logger.error({ component: old.id, err: errorMessage(err) }, 'exporter handover failed');
      failure ??= new TributaryError('TRIB_START_FAILED', `exporters::${old.id}: handover: ${errorMessage(err)}`, { cause: err });
    }
  }
  return failure;
}

/** Handover keys of the listeners the components `ids` of `section` open. */
function listenKeys(section: Map<string, ComponentConfig<Factory>>, ids: Iterable<string>): Set<string> {
  const keys = new Set<string>();
  for (const id of ids) {
    const cc = section.get(id);
    for (const la of cc?.factory.listenAddresses?.(cc.config) ?? []) {
      const key = handoverKey(la);
      if (key !== undefined) keys.add(key);
    }
  }
  return keys;
}

function intersect(a: Set<string>, b: Set<string>): Set<string> {
  return new Set([...a].filter((k) => b.has(k)));
}
