/**
 * Receiver-side accounting. Points a pipeline accepted or refused are counted
 * by the service's receiver fan-out (per pipeline); a receiver itself counts
 * only what it refuses before handing data on: whole requests it could not
 * read (`refusedRequest`) and points it could read but would not pass on
 * (`refusedPoints`, e.g. invalid data points rejected with partial success).
 */
import type { CreateSettings } from '../component.ts';
import type { CounterHandle } from '../telemetry/self-metrics.ts';

export class ReceiverObs {
  private readonly settings: CreateSettings;
  private readonly requestHandles = new Map<string, CounterHandle>();
  private readonly pointHandles = new Map<string, CounterHandle>();

  constructor(settings: CreateSettings) {
    this.settings = settings;
  }

  refusedRequest(reason: string): void {
    let h = this.requestHandles.get(reason);
    if (!h) {
      h = this.settings.telemetry.receiverRefusedRequests.bind({ receiver: this.settings.id.id, reason });
      this.requestHandles.set(reason, h);
    }
    h.add(1);
  }

  refusedPoints(reason: string, points: number): void {
    if (points <= 0) return;
    let h = this.pointHandles.get(reason);
    if (!h) {
      h = this.settings.telemetry.receiverRefused.bind({ receiver: this.settings.id.id, reason });
      this.pointHandles.set(reason, h);
    }
    h.add(points);
  }
}
