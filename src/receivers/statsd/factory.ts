/** The `statsd` receiver factory (CONTRACT §3): StatsD and DogStatsD over UDP, TCP or a Unix datagram socket. */
import type { ReceiverFactory } from '../../component.ts';
import { statsdConfigSchema, transportOf, validateStatsdConfig, type StatsdConfig } from './config.ts';
import { StatsdReceiver } from './receiver.ts';

export const statsdReceiverFactory: ReceiverFactory<StatsdConfig> = {
  kind: 'receiver',
  type: 'statsd',
  configSchema: statsdConfigSchema,
  createDefaultConfig: () => statsdConfigSchema.parse({}),
  listenAddresses: (config) => [{ key: 'endpoint', transport: transportOf(config), address: config.endpoint }],
  validate: validateStatsdConfig,
  create: (settings, config, next) => new StatsdReceiver(settings, config, next),
};
