import type { ListenAddress, ReceiverFactory } from '../../component.ts';
import { createDefaultConfig, otlpConfigSchema, validateConfig, type OtlpReceiverConfig } from './config.ts';
import { OtlpReceiver } from './receiver.ts';

export const otlpReceiverFactory: ReceiverFactory<OtlpReceiverConfig> = {
  kind: 'receiver',
  type: 'otlp',
  configSchema: otlpConfigSchema,
  createDefaultConfig,
  validate: validateConfig,
  listenAddresses(config): ListenAddress[] {
    const out: ListenAddress[] = [];
    if (config.protocols.grpc) out.push({ key: 'protocols.grpc.endpoint', transport: 'tcp', address: config.protocols.grpc.endpoint });
    if (config.protocols.http) out.push({ key: 'protocols.http.endpoint', transport: 'tcp', address: config.protocols.http.endpoint });
    return out;
  },
  create(settings, config, next) {
    return new OtlpReceiver(settings, config, next);
  },
};
