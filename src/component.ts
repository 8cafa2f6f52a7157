/**
 * Components and their factories (otelcol's component/receiver/processor/
 * exporter packages, reduced to what Tributary needs).
 *
 * A factory is a type name, a config schema with defaults, and a create
 * function that receives the downstream consumer. Creating never opens
 * sockets or files: that happens in `start`, so `validate` can build nothing
 * and a failed start can be reported with the component's ID.
 */
import type { ZodType } from 'zod';
import type { Logger } from 'pino';
import type { MetricsConsumer } from './consumer.ts';
import type { PipelineTelemetry } from './telemetry/self-metrics.ts';

export type ComponentKind = 'receiver' | 'processor' | 'exporter';

/** `type` or `type/name`, as written in the config. */
export interface ComponentId {
  type: string;
  name: string;
  /** The ID as written: `otlp` or `otlp/upstream`. */
  id: string;
}

export function parseComponentId(id: string): ComponentId | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9_]*)(?:\/([^\s/][^\s]*))?$/.exec(id);
  if (!m) return undefined;
  return { type: m[1], name: m[2] ?? '', id };
}

export interface Component {
  /** Open sockets, files, timers. Rejects with a message naming the cause; must return promptly. */
  start(host: Host): Promise<void>;
  /**
   * Stop taking data, flush what is buffered downstream, release resources.
   * Safe to call before `start` and more than once.
   */
  shutdown(): Promise<void>;
}

export type Receiver = Component;

export interface Processor extends Component, MetricsConsumer {}

export interface Exporter extends Component, MetricsConsumer {
  /**
   * Live reload: `successor` (same ID, new config, already started) replaces
   * this exporter. Pass on what should outlive this instance (a listener,
   * state, queued batches) and forward whatever `consume` receives from now
   * on to it; `shutdown` then only finishes what is in flight. Optional: an
   * exporter without it simply drains on `shutdown`.
   */
  handOverTo?(successor: Exporter): Promise<void>;
}

/** What the service offers running components. */
export interface Host {
  /** Report a fatal runtime error of a component (logged; the daemon keeps running). */
  reportError(componentId: string, err: unknown): void;
  /**
   * Receivers kept across a live reload may hand over listening sockets here:
   * a component asks for a socket it opened earlier under `key`, and stores
   * the one it opens. (Unchanged receivers are simply kept, so most never need this.)
   */
  readonly sockets: Map<string, unknown>;
}

export interface CreateSettings {
  id: ComponentId;
  kind: ComponentKind;
  /** Pipeline ID for processors (one instance per pipeline); '' for shared receivers/exporters. */
  pipeline: string;
  /** Logger with `component` and `kind` bound. */
  logger: Logger;
  telemetry: PipelineTelemetry;
  /**
   * The time an exporter may spend draining its queue on shutdown: the
   * service's `shutdown_timeout` less a margin for the stages before it.
   */
  shutdownTimeoutMs?: number;
}

/** A network address a component will listen on, declared up front so conflicts are found before anything starts. */
export interface ListenAddress {
  /** Config key path relative to the component, e.g. `protocols.grpc.endpoint`. */
  key: string;
  transport: 'tcp' | 'udp' | 'unix' | 'unixgram';
  /** `host:port` or a socket path. */
  address: string;
}

interface FactoryBase<C> {
  readonly type: string;
  /** Zod schema: parses raw config (with defaults) into the typed config; `.strict()` so unknown keys are reported. */
  readonly configSchema: ZodType<C>;
  createDefaultConfig(): C;
  /** Listeners this config would open (for conflict detection and reload). */
  listenAddresses?(config: C): ListenAddress[];
  /** Extra validation across fields, beyond the schema; returns [keyPath, message] pairs. */
  validate?(config: C): Array<[string, string]>;
}

export interface ReceiverFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'receiver';
  create(settings: CreateSettings, config: C, next: MetricsConsumer): Receiver;
}

export interface ProcessorFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'processor';
  create(settings: CreateSettings, config: C, next: MetricsConsumer): Processor;
}

export interface ExporterFactory<C = any> extends FactoryBase<C> {
  readonly kind: 'exporter';
  create(settings: CreateSettings, config: C): Exporter;
}

export type Factory = ReceiverFactory | ProcessorFactory | ExporterFactory;
