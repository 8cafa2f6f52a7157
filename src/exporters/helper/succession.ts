/**
 * Live reload: a replaced exporter hands over to its successor (same ID, new
 * config). The exporters built by the helper wrap a `Sender`; this remembers
 * which, so the old sender can pass its state (a listener, a series store) to
 * the new one without the wrappers knowing each other's classes.
 */
import type { Exporter } from '../../component.ts';
import type { Sender } from './exporter.ts';

const senders = new WeakMap<Exporter, Sender>();

export function registerSender(exporter: Exporter, sender: Sender): void {
  senders.set(exporter, sender);
}

/**
 * Calls `from.handOverTo(successor's sender)` when both sides support it.
 * Runs synchronously up to the sender's first `await`, so state the sender
 * moves before awaiting moves in the same tick as the caller's own switch.
 */
export function handOverSender(from: Sender, successor: Exporter): Promise<void> {
  const to = senders.get(successor);
  if (!to || !from.handOverTo) return Promise.resolve();
  return from.handOverTo(to);
}
