/**
 * Receiver-side accounting. Points a pipeline accepted or refused are counted
 * by the service's receiver fan-out (per pipeline); a receiver itself counts
 * only what it refuses before handing data on: whole requests it could not
 * read (`refusedRequest`) and points it could read but would not pass on
 * (`refusedPoints`, e.g. invalid data points rejected with partial success).
 */
import type { CreateSettings } from '../component.ts';
import { handlePerValue, type CounterHandle } from '../telemetry/self-metrics.ts';


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
