/**
 * The pipeline graph, built in one place (otelcol's service/internal/graph).
 *
 *   receiver ─► ReceiverFanout ─► pipeline: processor → … → ExporterFanout ─► exporters
 *
 * Receivers and exporters are single instances shared by every pipeline that
 * names them; processors are instantiated per pipeline. Nodes are created
 * back to front so each gets a built successor, started exporters first and
 * receivers last, and shut down in the reverse order so buffered data drains
 * forward into components that are still running.
 *
 * `buildGraph` can reuse the components of a running graph whose config did
 * not change (live reload): such receivers keep their sockets and are only
 * re-pointed at the new pipelines.
 */
import { isDeepStrictEqual } from 'node:util';
import type { CreateSettings, Exporter, Host, Processor, Receiver, ComponentKind, ComponentId } from '../component.ts';
import type { ComponentConfig, TributaryConfig } from '../config/model.ts';
import type { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import type { Logger } from '../telemetry/logger.ts';
import { ExporterFanout, PipelineEntry, ReceiverFanout } from './fanout.ts';
import { TributaryError, errorMessage } from '../errors.ts';

export interface ReceiverNode {
  id: string;
  raw: unknown;
  instance: Receiver;
  fanout: ReceiverFanout;
  started: boolean;
}

export interface ExporterNode {
  id: string;
  raw: unknown;
  instance: Exporter;
  started: boolean;
}

export interface PipelineNode {
  id: string;
  /** What the pipeline was built from, to decide on reload whether it can be kept. */
  signature: unknown;
  processors: Processor[];
  entry: PipelineEntry;
  exporterIds: string[];
  started: boolean;
}

export interface Graph {
  receivers: Map<string, ReceiverNode>;
  pipelines: Map<string, PipelineNode>;
  exporters: Map<string, ExporterNode>;
}

export interface GraphDeps {
  telemetry: PipelineTelemetry;
  logger: Logger;
  /** `service.shutdown_timeout`; exporters get most of it to drain their queues. */
  shutdownTimeoutMs?: number;
}

/** Exporters drain last: leave them the shutdown budget minus what receivers and processors typically need. */
function exporterDrainBudget(shutdownTimeoutMs: number | undefined): number | undefined {
  return shutdownTimeoutMs === undefined ? undefined : Math.max(0, Math.floor(shutdownTimeoutMs * 0.9) - 250);
}

function settingsFor(deps: GraphDeps, kind: ComponentKind, id: ComponentId, pipeline = ''): CreateSettings {
  return {
    id,
    kind,
    pipeline,
    telemetry: deps.telemetry,
    logger: deps.logger.child(pipeline ? { kind, component: id.id, pipeline } : { kind, component: id.id }),
    shutdownTimeoutMs: kind === 'exporter' ? exporterDrainBudget(deps.shutdownTimeoutMs) : undefined,
  };
}

function sameComponent(a: { raw: unknown } | undefined, b: ComponentConfig<unknown>): boolean {
  return a !== undefined && isDeepStrictEqual(a.raw, b.raw);
}

/**
 * Build a graph for `config`, reusing from `previous` every receiver, exporter
 * and whole pipeline whose config is unchanged. Nothing is started here.
 */
export function buildGraph(config: TributaryConfig, deps: GraphDeps, previous?: Graph): Graph {
  const graph: Graph = { receivers: new Map(), pipelines: new Map(), exporters: new Map() };

  const usedExporters = new Set<string>();
  const usedReceivers = new Set<string>();
  for (const p of config.pipelines.values()) {
    p.exporters.forEach((e) => usedExporters.add(e));
    p.receivers.forEach((r) => usedReceivers.add(r));
  }

  // 1. Exporters (the back of the graph).
  for (const id of usedExporters) {
    const cc = config.exporters.get(id)!;
    const prev = previous?.exporters.get(id);
    if (prev && sameComponent(prev, cc)) {
      graph.exporters.set(id, prev);
      continue;
    }
    const instance = cc.factory.create(settingsFor(deps, 'exporter', cc.id), cc.config);
    graph.exporters.set(id, { id, raw: cc.raw, instance, started: false });
  }

  // 2. Pipelines, each built back to front: exporter fan-out, then processors in reverse.
  for (const p of config.pipelines.values()) {
    const signature = {
      processors: p.processors.map((id) => [id, config.processors.get(id)!.raw]),
      exporters: [...p.exporters],
    };
    const prev = previous?.pipelines.get(p.id);
    // Kept only when its processors are configured alike and every exporter instance is the same one.
    if (prev && isDeepStrictEqual(prev.signature, signature) && p.exporters.every((id) => previous!.exporters.get(id) === graph.exporters.get(id))) {
      graph.pipelines.set(p.id, prev);
      continue;
    }
    const fanout = new ExporterFanout(
      p.id,
      p.exporters.map((id) => ({ id, consumer: graph.exporters.get(id)!.instance })),
      deps.telemetry,
      deps.logger.child({ pipeline: p.id }),
    );
    let next: Processor | ExporterFanout = fanout;
    const processors: Processor[] = [];
    for (let i = p.processors.length - 1; i >= 0; i--) {
      const cc = config.processors.get(p.processors[i])!;
      const proc = cc.factory.create(settingsFor(deps, 'processor', cc.id, p.id), cc.config, next);
      processors.unshift(proc);
      next = proc;
    }
    graph.pipelines.set(p.id, {
      id: p.id,
      signature,
      processors,
      entry: new PipelineEntry(p.id, next),
      exporterIds: [...p.exporters],
      started: false,
    });
  }

  // 3. Receivers (the front), each behind a fan-out to its pipelines.
  for (const id of usedReceivers) {
    const cc = config.receivers.get(id)!;
    const prev = previous?.receivers.get(id);
    if (prev && sameComponent(prev, cc)) {
      // Kept: re-pointing happens in `activate`, once the new pipelines have started.
      graph.receivers.set(id, prev);
      continue;
    }
    const fanout = new ReceiverFanout(id, deps.telemetry);
    fanout.setPipelines(receiverTargets(config, graph, id));
    const instance = cc.factory.create(settingsFor(deps, 'receiver', cc.id), cc.config, fanout);
    graph.receivers.set(id, { id, raw: cc.raw, instance, fanout, started: false });
  }
  return graph;
}

/** Pipelines each receiver of `config` should feed, in `graph`. */
export function receiverTargets(config: TributaryConfig, graph: Graph, receiverId: string): PipelineEntry[] {
  return [...config.pipelines.values()].filter((p) => p.receivers.includes(receiverId)).map((p) => graph.pipelines.get(p.id)!.entry);
}

function startError(kind: string, id: string, err: unknown): TributaryError {
  const cause = errorMessage(err);
  return new TributaryError('TRIB_START_FAILED', `${kind}::${id}: ${cause}`, { cause: err });
}

/** Start what is not yet started: exporters, then processors (back to front), then receivers. */
export async function startGraph(graph: Graph, host: Host, opts: { skipReceivers?: boolean } = {}): Promise<void> {
  for (const node of graph.exporters.values()) {
    if (node.started) continue;
    try {
      await node.instance.start(host);
    } catch (err) {
      throw startError('exporters', node.id, err);
    }
    node.started = true;
  }
  for (const p of graph.pipelines.values()) {
    if (p.started) continue;
    for (let i = p.processors.length - 1; i >= 0; i--) {
      try {
        await p.processors[i].start(host);
      } catch (err) {
        throw startError('processors', `${p.id}/${i}`, err);
      }
    }
    p.started = true;
  }
  if (opts.skipReceivers) return;
  for (const node of graph.receivers.values()) {
    if (node.started) continue;
    try {
      await node.instance.start(host);
    } catch (err) {
      throw startError('receivers', node.id, err);
    }
    node.started = true;
  }
}

/** Shut receivers or exporters down side by side; a failure is logged and the others still stop. */
async function shutdownNodes(kind: 'receiver' | 'exporter', nodes: Iterable<ReceiverNode | ExporterNode>, logger: Logger): Promise<void> {
  await Promise.all(
    [...nodes].map(async (n) => {
      try {
        await n.instance.shutdown();
      } catch (err) {
        logger.warn({ component: n.id, err: String(err) }, `${kind} shutdown failed`);
      }
      n.started = false;
    }),
  );
}

export function shutdownReceivers(nodes: Iterable<ReceiverNode>, logger: Logger): Promise<void> {
  return shutdownNodes('receiver', nodes, logger);
}

/** Shut pipelines down front to back: wait for in-flight calls, then let each processor flush into the next. */
export async function shutdownPipelines(nodes: Iterable<PipelineNode>, logger: Logger): Promise<void> {
  await Promise.all(
    [...nodes].map(async (p) => {
      await p.entry.idle();
      for (const proc of p.processors) {
        try {
          await proc.shutdown();
        } catch (err) {
          logger.warn({ pipeline: p.id, err: String(err) }, 'processor shutdown failed');
        }
      }
      p.started = false;
    }),
  );
}

export function shutdownExporters(nodes: Iterable<ExporterNode>, logger: Logger): Promise<void> {
  return shutdownNodes('exporter', nodes, logger);
}

/** Stop a whole graph: receivers first, so data drains through processors into exporters. */
export async function shutdownGraph(graph: Graph, logger: Logger): Promise<void> {
  await shutdownReceivers(graph.receivers.values(), logger);
  await shutdownPipelines(graph.pipelines.values(), logger);
  await shutdownExporters(graph.exporters.values(), logger);
}
