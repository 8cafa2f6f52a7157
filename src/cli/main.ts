/**
 * The command line (CONTRACT §1). This is the only module that decides exit
 * codes; `bin/tributary.js` calls `main` and exits with what it returns.
 *
 *   tributary run --config FILE [--config FILE …] [--set key.path=value …]
 *   tributary validate --config FILE …
 *   tributary print-config --config FILE …
 *   tributary --version | --help
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { loadConfig, redactConfig, toYaml } from '../config/load.ts';
import { formatIssue, type ConfigIssue } from '../config/model.ts';
import { runDaemon } from './run.ts';

export const EXIT_OK = 0;
export const EXIT_CONFIG_OR_START = 1;
export const EXIT_USAGE = 2;

const HELP = `Usage: tributary [command] --config FILE [--config FILE ...] [--set key.path=value ...]

A metrics sidecar: OTLP and StatsD in; Prometheus, OTLP, Datadog, CloudWatch and PostgreSQL out.

Commands:
  run            run the daemon (the default when only options are given)
  validate       load, expand and validate the config without opening any socket;
                 prints "config OK" or every error as FILE:LINE:COL: key.path: message
  print-config   print the effective config (merged, --set and env applied) as YAML,
                 secrets shown as [REDACTED]

Options:
  -c, --config FILE    config file (.yaml, .yml or .toml); repeat to merge, later files win
      --set KEY=VALUE  override one key, dots separating keys (e.g. --set processors.batch.timeout=1s)
  -h, --help           show this help
  -v, --version        print the version

Signals: SIGTERM/SIGINT drain and stop (a second one exits at once); SIGHUP reloads the config.
Exit codes: 0 clean shutdown, 1 invalid config or failed start, 2 bad command line.
`;

export function version(): string {
  // src/cli/ from the sources, dist/src/cli/ from a build: look upwards for the package's own manifest.
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version: string };
      if (pkg.name === 'tributary') return pkg.version;
    } catch {
      // try the next level
    }
  }
  return 'unknown';
}

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
}

const stdio: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

export async function main(argv: string[], io: Io = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string', short: 'c', multiple: true },
        set: { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    io.err(`tributary: ${(err as Error).message}\nRun 'tributary --help' for usage.\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === 'help') {
    io.out(HELP);
    return EXIT_OK;
  }
  if (values.version) {
    io.out(`tributary ${version()}\n`);
    return EXIT_OK;
  }
  const command = positionals[0] ?? 'run';
  if (positionals.length > 1 || !['run', 'validate', 'print-config'].includes(command)) {
    io.err(`tributary: unknown command '${positionals.join(' ')}'\nRun 'tributary --help' for usage.\n`);
    return EXIT_USAGE;
  }
  const files = values.config ?? [];
  if (files.length === 0) {
    io.err(`tributary: ${command} needs at least one --config FILE\n`);
    return EXIT_USAGE;
  }
  const sets = values.set ?? [];
  for (const s of sets) {
    if (!/^[^=]+=/.test(s)) {
      io.err(`tributary: --set expects key.path=value, got '${s}'\n`);
      return EXIT_USAGE;
    }
  }

  if (command === 'run') return runDaemon({ files, sets, io });

  const result = await loadConfig({ files, sets, env: process.env });
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (command === 'validate') {
    printIssues(result.issues, io);
    if (errors.length > 0 || !result.config) return EXIT_CONFIG_OR_START;
    io.out('config OK\n');
    return EXIT_OK;
  }
  // print-config
  if (errors.length > 0 || !result.config) {
    printIssues(result.issues, io);
    return EXIT_CONFIG_OR_START;
  }
  io.out(toYaml(redactConfig(result.config.effective)));
  return EXIT_OK;
}

export function printIssues(issues: ConfigIssue[], io: Io): void {
  for (const i of issues) {
    io.err(i.severity === 'warning' ? `${formatIssue(i)} (warning)\n` : `${formatIssue(i)}\n`);
  }
}
