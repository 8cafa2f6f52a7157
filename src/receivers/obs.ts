/**
 * Receiver-side accounting. Points a pipeline accepted or refused are counted
 * by the service's receiver fan-out (per pipeline); a receiver itself counts
 * only what it refuses before handing data on: whole requests it could not
 * read (`refusedRequest`) and points it could read but would not pass on
 * (`refusedPoints`, e.g. invalid data points rejected with partial success).
 */
import type { CreateSettings } from '../component.ts';
import type { CounterHandle } from '../telemetry/self-metrics.ts';

/** A handle per value of one label, bound on first use (binding resolves labels; `add` on the handle is the cheap part). */
export function handlePerValue(bind: (value: string) => CounterHandle): (value: string) => CounterHandle {
  const handles = new Map<string, CounterHandle>();
  return (value) => {
    let h = handles.get(value);
    if (!h) {
      h = bind(value);
      handles.set(value, h);
    }
    return h;
  };
}

export class ReceiverObs {
  private readonly requests: (reason: string) => CounterHandle;
  private readonly points: (reason: string) => CounterHandle;

  constructor(settings: CreateSettings) {
    const receiver = settings.id.id;
    this.requests = handlePerValue((reason) => settings.telemetry.receiverRefusedRequests.bind({ receiver, reason }));
    this.points = handlePerValue((reason) => settings.telemetry.receiverRefused.bind({ receiver, reason }));
  }

  refusedRequest(reason: string): void {
    this.requests(reason).add(1);
  }

  refusedPoints(reason: string, points: number): void {
    if (points <= 0) return;
    this.points(reason).add(points);
  }
}
