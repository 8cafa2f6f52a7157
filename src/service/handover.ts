/**
 * Listener handover across a live reload (CONTRACT §5: listeners whose
 * endpoint did not change keep their sockets), for components of any kind.
 *
 * A component whose config changed is replaced by a new instance. When the
 * new one listens where the old one did, the socket moves instead of being
 * closed and bound again (which would drop datagrams and refuse connections).
 * The service marks the listen keys the new config keeps (`wantParked`); the
 * old instance parks each marked listener (`park`) and the new one adopts it
 * (`takeParked` + `ParkedListener.adopt`); the service closes whatever was
 * parked but not adopted (`closeUnadopted`).
 *
 * Receivers are replaced stop-then-start:
 *   1. the old receiver's `shutdown()` parks each marked listener: events
 *      arriving from then on are held, in order, instead of handled; it then
 *      waits for its in-flight work and flushes what it aggregated;
 *   2. the new receiver's `start()` adopts the parked listener: the held
 *      events are delivered to it first and new events go straight to it, in
 *      one synchronous step, so nothing slips in between.
 *
 * Exporters are replaced start-then-stop (the new one must run before data
 * is pointed at it, the old one drains after), so the order differs:
 *   1. the new exporter's `start()` sees the mark (`handoverPending`) and
 *      does not bind;
 *   2. the old exporter's `handOverTo(successor)` parks the listener — still
 *      answering with its own handler, so nothing is held — and the successor
 *      adopts it at once (or binds afresh if nothing usable was parked).
 *
 * `host.sockets` carries the marks and the parked listeners, keyed by
 * `listenKey(transport, address)` as `factory.listenAddresses` declares them.
 */
import type { Host, ListenAddress } from '../component.ts';
import { parseHostPort } from '../config/types.ts';

/** Held events beyond this many bytes are dropped (and counted by the adopter); the window is milliseconds, so this only bounds a flood. */
const MAX_HELD_BYTES = 64 * 1024 * 1024;

const PARK_WANTED = Symbol('tributary.parkWanted');

export function listenKey(transport: ListenAddress['transport'], address: string): string {
  return `${transport}:${address}`;
}

/** Keys a listen address can be handed over under; port 0 means "any port", which names no particular socket. */
export function handoverKey(la: Pick<ListenAddress, 'transport' | 'address'>): string | undefined {
  if (la.transport === 'tcp' || la.transport === 'udp') {
    const hp = parseHostPort(la.address);
    if (!hp || hp.port === 0) return undefined;
  }
  return listenKey(la.transport, la.address);
}

export interface ParkedOptions<R, H> {
  /** What the listener is (protocol and socket-level settings); a successor adopts it only when its own kind is the same. */
  kind: string;
  resource: R;
  /** Point the resource's events at `handler`. */
  route(handler: H): void;
  /** Answers events that nobody will handle (the listener is closed unadopted). */
  refuse: H;
  /** Close the resource for good. */
  close(): Promise<void>;
}

/** A listener between owners. Its events are held until `adopt` or `close`. */
export class ParkedListener<R = unknown, H = unknown> {
  readonly kind: string;
  readonly resource: R;
  private readonly opts: ParkedOptions<R, H>;
  private held: Array<(handler: H) => void> = [];
  private heldBytes = 0;
  /** Events dropped because the hold was full. */
  dropped = 0;

  constructor(opts: ParkedOptions<R, H>) {
    this.kind = opts.kind;
    this.resource = opts.resource;
    this.opts = opts;
  }

  /** Keep one event for whoever takes the listener over. */
  hold(event: (handler: H) => void, bytes = 0): void {
    if (this.heldBytes + bytes > MAX_HELD_BYTES) {
      this.dropped++;
      return;
    }
    this.heldBytes += bytes;
    this.held.push(event);
  }

  get heldCount(): number {
    return this.held.length;
  }

  /**
   * Take the listener over: what was held is delivered to `handler` first,
   * then the listener is routed to it, in one synchronous step.
   */
  adopt(handler: H): R {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const event of held) event(handler);
    this.opts.route(handler);
    return this.resource;
  }

  /** Nobody took it: answer what was held, then close. */
  async close(): Promise<void> {
    this.adopt(this.opts.refuse);
    await this.opts.close();
  }
}

// ---- service side ----

/** Ask receivers being replaced to park their listeners under `keys` instead of closing them. */
export function wantParked(host: Host, keys: Iterable<string>): void {
  for (const key of keys) if (!host.sockets.has(key)) host.sockets.set(key, PARK_WANTED);
}

/** End of a reload: close listeners parked but not adopted, forget unanswered marks. Returns the keys closed. */
export async function closeUnadopted(host: Host): Promise<string[]> {
  const closed: string[] = [];
  const closing: Array<Promise<void>> = [];
  for (const [key, value] of host.sockets) {
    if (value === PARK_WANTED) host.sockets.delete(key);
    else if (value instanceof ParkedListener) {
      host.sockets.delete(key);
      closed.push(key);
      closing.push(value.close());
    }
  }
  await Promise.all(closing);
  return closed;
}

// ---- component side ----

/** True when the service wants the listener under `key` parked rather than closed. */
export function parkWanted(host: Host | undefined, key: string | undefined): boolean {
  return host !== undefined && key !== undefined && host.sockets.get(key) === PARK_WANTED;
}

/** Successor side, for components replaced start-then-stop: the listener under `key` will be handed over by the instance being replaced, so do not bind it. */
export const handoverPending = parkWanted;

export function park(host: Host, key: string, listener: ParkedListener<any, any>): void {
  host.sockets.set(key, listener);
}

/**
 * The listener parked under `key`, if it is of `kind`; it is then the caller's
 * to adopt. One of another kind (e.g. other socket options) is closed, so the
 * caller can bind the address afresh.
 */
export async function takeParked<R, H>(host: Host | undefined, key: string | undefined, kind: string): Promise<ParkedListener<R, H> | undefined> {
  if (host === undefined || key === undefined) return undefined;
  const value = host.sockets.get(key);
  if (!(value instanceof ParkedListener)) return undefined;
  host.sockets.delete(key);
  if (value.kind === kind) return value as ParkedListener<R, H>;
  await value.close();
  return undefined;
}
