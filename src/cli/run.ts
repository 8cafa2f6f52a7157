/**
 * `tributary run`: load the config, start the admin endpoint and the
 * pipelines, then live until a signal. SIGHUP and config file changes reload;
 * SIGTERM/SIGINT drain within `service.shutdown_timeout` (a second signal
 * exits at once).
 */
import { loadConfig, redactConfig, toYaml } from '../config/load.ts';
import { formatIssue } from '../config/model.ts';
import type { TributaryConfig } from '../config/model.ts';
import { AdminServer } from '../admin/server.ts';
import { Service } from '../service/service.ts';
import { ConfigWatcher } from '../service/config-watcher.ts';
import { createLogger } from '../telemetry/logger.ts';
import { PipelineTelemetry } from '../telemetry/self-metrics.ts';
import { printIssues } from './main.ts';
import { errorMessage } from '../errors.ts';

interface RunOptions {
  files: string[];
  sets: string[];
  io: { out: (s: string) => void; err: (s: string) => void };
}

export async function runDaemon({ files, sets, io }: RunOptions): Promise<number> {
  const startedAt = performance.now();
  const loaded = await loadConfig({ files, sets, env: process.env });
  if (!loaded.config || loaded.issues.some((i) => i.severity === 'error')) {
    printIssues(loaded.issues, io);
    return 1;
  }
  let config: TributaryConfig = loaded.config;
  const logger = createLogger({ level: config.service.logLevel });
  for (const w of loaded.issues) logger.warn({ file: w.file, line: w.line, path: w.path }, w.message);

  const telemetry = new PipelineTelemetry();
  const service = new Service({ logger, telemetry });
  const admin = new AdminServer({
    endpoint: config.service.adminEndpoint,
    logger,
    registry: telemetry.registry,
    readiness: () => ({ ready: service.state === 'running', state: service.state }),
    configText: () => toYaml(redactConfig((service.config ?? config).effective)),
    healthCheckPath: healthCheckPath(config),
  });

  try {
    await admin.start();
    await service.start(config);
  } catch (err) {
    const message = errorMessage(err);
    logger.fatal({ err: message }, 'start failed');
    io.err(`tributary: ${message}\n`);
    await service.shutdown(1000);
    await admin.close();
    return 1;
  }
  logger.info({ admin: admin.address, startup_ms: Math.round(performance.now() - startedAt), files }, 'tributary ready');

  // Both series exist from the start at 0: an alert on increase(...{result="failure"}) cannot see the
  // first failure if the series only appears with it (Prometheus has no earlier sample to compare).
  const reloadSucceeded = telemetry.configReloads.bind({ result: 'success' });
  const reloadFailed = telemetry.configReloads.bind({ result: 'failure' });
  const reload = async (trigger: string) => {
    if (service.state !== 'running') return;
    const next = await loadConfig({ files, sets, env: process.env });
    const errors = next.issues.filter((i) => i.severity === 'error');
    if (!next.config || errors.length > 0) {
      reloadFailed.add();
      for (const e of errors) logger.error({ trigger }, `config reload rejected: ${formatIssue(e)}`);
      return;
    }
    const t0 = performance.now();
    try {
      await service.reload(next.config);
      config = next.config;
      reloadSucceeded.add();
      logger.info({ trigger, reload_ms: Math.round(performance.now() - t0) }, 'config reload applied');
    } catch (err) {
      reloadFailed.add();
      logger.error({ trigger, err: errorMessage(err) }, 'config reload failed; previous pipelines keep running');
    }
  };

  const watcher = new ConfigWatcher(files, () => void reload('file change'), logger);
  watcher.start();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting at once');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal, timeout_ms: config.service.shutdownTimeoutMs }, 'draining');
      watcher.close();
      const inTime = await service.shutdown(config.service.shutdownTimeoutMs);
      await admin.close();
      logger.info({ in_time: inTime }, 'stopped');
      resolve(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => void reload('SIGHUP'));
  });
}

/**
 * The path of the enabled health_check extension (any `health_check` or
 * `health_check/name` listed in service.extensions), defaulting to `/` as
 * otelcol's does: probes copied from an otelcol deployment ask for `/`.
 */
function healthCheckPath(config: TributaryConfig): string | undefined {
  const extensions = (config.effective.extensions ?? {}) as Record<string, unknown>;
  const service = (config.effective.service ?? {}) as { extensions?: unknown };
  const enabled = Array.isArray(service.extensions) ? service.extensions : [];
  const id = enabled.find((e): e is string => typeof e === 'string' && (e === 'health_check' || e.startsWith('health_check/')));
  if (id === undefined) return undefined;
  const ext = extensions[id] as { path?: unknown } | null | undefined;
  const path = typeof ext?.path === 'string' ? ext.path : '/';
  return path === '/healthz' ? undefined : path;
}
