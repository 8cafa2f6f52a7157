/**
 * The `otlp` receiver: one gRPC and/or one HTTP server feeding the same
 * pipeline consumer. Across a live reload each server can be handed to the
 * replacing receiver (see `../../service/handover.ts`).
 */
import type { CreateSettings, Host, Receiver } from '../../component.ts';
import type { MetricsConsumer } from '../../consumer.ts';
import { ReceiverObs } from '../obs.ts';
import { grpcSettings, httpSettings, type OtlpReceiverConfig } from './config.ts';
import { OtlpGrpcServer } from './grpc.ts';
import { OtlpHttpServer } from './http.ts';

export class OtlpReceiver implements Receiver {
  readonly grpc: OtlpGrpcServer | undefined;
  readonly http: OtlpHttpServer | undefined;
  private shuttingDown: Promise<void> | undefined;
  private host: Host | undefined;

  constructor(settings: CreateSettings, config: OtlpReceiverConfig, next: MetricsConsumer) {
    const obs = new ReceiverObs(settings);
    const g = grpcSettings(config);
    const h = httpSettings(config);
    this.grpc = g ? new OtlpGrpcServer(g, obs, next, settings.logger) : undefined;
    this.http = h ? new OtlpHttpServer(h, obs, next, settings.logger) : undefined;
  }

  async start(host: Host): Promise<void> {
    this.host = host;
    try {
      await this.grpc?.start(host);
      await this.http?.start(host);
    } catch (err) {
      // Do not leave the other listener open after a failed start.
      await this.shutdown();
      throw err;
    }
  }

  shutdown(): Promise<void> {
    this.shuttingDown ??= Promise.all([this.grpc?.shutdown(this.host), this.http?.shutdown(this.host)]).then(() => undefined);
    return this.shuttingDown;
  }
}
