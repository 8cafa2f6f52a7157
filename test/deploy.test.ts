/**
 * Deployment artefacts (CONTRACT §8): the kustomize overlays under
 * deploy/k8s rendered with kubectl's kustomize and checked against the
 * Kubernetes schemas, the security and probe settings, the pipelines in the
 * ConfigMaps (validated by the real CLI, and matched against the ports the
 * manifests declare), the Dockerfile's invariants, and the Prometheus alert
 * rules (promtool).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT, BIN } from './harness/daemon.ts';
import {
  allContainers,
  hostOf,
  kustomizeVersion,
  listFiles,
  parseYamlDocs,
  podTemplates,
  portOf,
  render,
  schemaErrors,
  seconds,
  selects,
  unknownFields,
  type K8sObject,
} from './deploy/manifests.ts';
import { copyParts, envPairs, execForm, inContext, parseDockerfile } from './deploy/dockerfile.ts';

const K8S = join(REPO_ROOT, 'deploy', 'k8s');
const OVERLAYS = ['sidecar', 'gateway'];
const IMAGE = 'ghcr.io/tributary/tributary';

function cli(args: string[], cwd = REPO_ROOT, bin = BIN) {
  // A clean environment: the pipelines must validate on their own defaults.
  const env = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const isTributary = (c: K8sObject) => typeof c.image === 'string' && c.image.startsWith(`${IMAGE}:`);

/** The pipeline file a Tributary container runs: the ConfigMap behind its `--config` path. */
function pipelineOf(objects: K8sObject[], spec: K8sObject, container: K8sObject): { name: string; text: string; config: K8sObject } {
  const args: string[] = container.args ?? [];
  const path = args[args.indexOf('--config') + 1];
  const mount = (container.volumeMounts ?? []).find((m: K8sObject) => path.startsWith(`${m.mountPath}/`));
  expect(mount, `${container.name}: --config ${path} is not under a volume mount`).toBeDefined();
  expect(mount.subPath, 'a subPath mount never sees ConfigMap updates, so live reload would not work').toBeUndefined();
  const volume = spec.volumes.find((v: K8sObject) => v.name === mount.name);
  const cmName = volume?.configMap?.name;
  const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName);
  expect(cm, `ConfigMap ${cmName} mounted by ${container.name} is not in the rendered output`).toBeDefined();
  const text = cm!.data[basename(path)];
  expect(text, `ConfigMap ${cmName} has no key ${basename(path)}`).toBeTypeOf('string');
  return { name: `${cmName}/${basename(path)}`, text, config: parseYaml(text) };
}

function namedPort(container: K8sObject, name: string): K8sObject | undefined {
  return (container.ports ?? []).find((p: K8sObject) => p.name === name);
}

describe('deploy/k8s sources', () => {
  const files = listFiles(K8S);

  it('every YAML file parses, and every file is used by a kustomization', () => {
    const referenced = new Set<string>();
    for (const f of files) {
      expect(f.endsWith('.yaml'), `${f}: only YAML belongs in deploy/k8s`).toBe(true);
      const docs = parseYamlDocs(readFileSync(join(K8S, f), 'utf8'), f);
      expect(docs.length, `${f} is empty`).toBeGreaterThan(0);
      if (basename(f) !== 'kustomization.yaml') continue;
      const k = docs[0];
      const dir = dirname(f);
      const refs: string[] = [
        ...(k.resources ?? []),
        ...(k.components ?? []),
        ...(k.patches ?? []).map((p: K8sObject) => p.path).filter(Boolean),
        ...(k.configMapGenerator ?? []).flatMap((g: K8sObject) => (g.files ?? []).map((s: string) => s.split('=').pop())),
      ];
      for (const r of refs) referenced.add(join(dir, r));
    }
    const orphans = files.filter((f) => basename(f) !== 'kustomization.yaml' && !referenced.has(f));
    expect(orphans).toEqual([]);
  });
});

describe.each(OVERLAYS)('deploy/k8s/overlays/%s', (overlay) => {
  let objects: K8sObject[] = [];
  beforeAll(() => {
    kustomizeVersion();
    objects = render(join(K8S, 'overlays', overlay));
  });

  it('renders objects that validate against the Kubernetes schemas, with no unknown field', () => {
    expect(objects.length).toBeGreaterThan(3);
    for (const o of objects) {
      const where = `${o.kind}/${o.metadata?.name}`;
      expect(schemaErrors(o), where).toEqual([]);
      expect(unknownFields(o), where).toEqual([]);
      expect(o.metadata.namespace ?? (o.kind === 'Namespace' ? o.metadata.name : undefined), `${where} has no namespace`).toBe('tributary-example');
    }
  });

  it('the checks themselves catch a bad quantity, a misspelt field and an unknown kind', () => {
    const d = structuredClone(objects.find((o) => o.kind === 'Deployment')!);
    d.spec.template.spec.containers[0].resources.limits.memory = '160 megs';
    d.spec.template.spec.terminationGracePeriodSecond = 30;
    expect(schemaErrors(d).join()).toMatch(/limits\/memory/);
    expect(unknownFields(d)).toEqual(['spec.template.spec.terminationGracePeriodSecond']);
    expect(schemaErrors({ apiVersion: 'v1', kind: 'Pdo', metadata: { name: 'x' } })[0]).toMatch(/no schema/);
  });

  it('every container runs non-root, read-only, unprivileged, with all capabilities dropped', () => {
    const pods = podTemplates(objects);
    expect(pods.length).toBeGreaterThan(0);
    for (const { owner, spec } of pods) {
      const where = `${owner.kind}/${owner.metadata.name}`;
      expect(spec.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault');
      expect(spec.automountServiceAccountToken, where).toBe(false);
      for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) expect(spec[k] ?? false, `${where} ${k}`).toBe(false);
      for (const c of allContainers(spec)) {
        const sc = c.securityContext ?? {};
        const at = `${where} container ${c.name}`;
        expect(sc.runAsNonRoot ?? spec.securityContext.runAsNonRoot, at).toBe(true);
        expect(sc.runAsUser ?? spec.securityContext.runAsUser, at).toBeGreaterThan(0);
        expect(sc.readOnlyRootFilesystem, at).toBe(true);
        expect(sc.allowPrivilegeEscalation, at).toBe(false);
        expect(sc.privileged ?? false, at).toBe(false);
        expect(sc.capabilities?.drop, at).toContain('ALL');
        expect(sc.capabilities?.add ?? [], at).toEqual([]);
        // Graceful shutdown is the daemon's own SIGTERM drain, timed by terminationGracePeriodSeconds.
        expect(c.lifecycle?.preStop, `${at}: no preStop hook`).toBeUndefined();
        expect(c.resources?.requests?.cpu, at).toBeDefined();
        expect(c.resources?.requests?.memory, at).toBeDefined();
        expect(c.resources?.limits?.memory, at).toBeDefined();
      }
    }
  });

  it('runs Tributary as a native sidecar beside the app, started first and probed on /healthz and /readyz', () => {
    const app = podTemplates(objects).find((p) => p.owner.metadata.name === 'example-app')!;
    expect(app).toBeDefined();
    const sidecar = (app.spec.initContainers ?? []).find(isTributary);
    expect(sidecar, 'Tributary must be an init container (native sidecar)').toBeDefined();
    expect(sidecar.restartPolicy).toBe('Always');
    expect(app.spec.containers.some(isTributary), 'and not a regular container').toBe(false);
    expect(app.spec.containers.length).toBeGreaterThan(0);
    expect(app.labels['tributary.dev/role']).toBe('sidecar');
    // The startup probe holds the app back until every pipeline started.
    expect(sidecar.startupProbe.httpGet).toMatchObject({ path: '/readyz', port: 'admin' });
    expect(sidecar.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'admin' });
    expect(sidecar.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'admin' });
    expect(sidecar.resources.limits.cpu, 'no CPU limit: throttling stalls the event loop').toBeUndefined();
  });

  it('runs pipelines that `tributary validate` accepts, and whose ports match the manifests', () => {
    const dir = mkdtempSync(join(tmpdir(), `tributary-deploy-${overlay}-`));
    let checked = 0;
    for (const { owner, spec } of podTemplates(objects)) {
      for (const c of allContainers(spec).filter(isTributary)) {
        const p = pipelineOf(objects, spec, c);
        const file = join(dir, `${p.name.replace('/', '-')}`);
        writeFileSync(file, p.text);
        const r = cli(['validate', '--config', file]);
        expect(r.out, `${p.name}`).toContain('config OK');
        expect(r.code, r.out).toBe(0);
        checked++;

        const cfg = p.config;
        const where = `${owner.metadata.name}: ${p.name}`;
        // Kubelet probes reach the admin endpoint on the pod IP.
        expect(cfg.service.admin.endpoint, where).toMatch(/^0\.0\.0\.0:/);
        expect(namedPort(c, 'admin')?.containerPort, where).toBe(portOf(cfg.service.admin.endpoint));
        // The "metrics" port is declared exactly when a prometheus exporter serves it.
        const prom = Object.entries(cfg.exporters).find(([id]) => id.split('/')[0] === 'prometheus')?.[1] as K8sObject | undefined;
        expect(namedPort(c, 'metrics')?.containerPort, where).toBe(prom ? portOf(prom.endpoint) : undefined);
        // Drain fits the grace period (a sidecar's SIGTERM comes after the app's exit).
        expect(spec.terminationGracePeriodSeconds, where).toBeGreaterThanOrEqual(seconds(cfg.service.shutdown_timeout) + 5);
        expect(cfg.service.pipelines.metrics.processors[0], `${where}: memory_limiter first`).toBe('memory_limiter');

        const receivers = Object.values(cfg.receivers) as K8sObject[];
        const endpoints = receivers.flatMap((r) => (r.protocols ? Object.values(r.protocols).map((x) => (x as K8sObject).endpoint) : [r.endpoint]));
        if (spec.initContainers?.includes(c)) {
          // A sidecar's receivers are for its own pod only.
          for (const e of endpoints) expect(hostOf(e), `${where}: ${e}`).toBe('127.0.0.1');
        } else {
          for (const e of endpoints) {
            expect(hostOf(e), `${where}: ${e}`).toBe('0.0.0.0');
            expect((c.ports as K8sObject[]).map((x) => x.containerPort), `${where}: ${e} has a container port`).toContain(portOf(e));
          }
        }
      }
    }
    // Every Tributary in the overlay was found (by its image) and checked.
    expect(checked).toBe(overlay === 'gateway' ? 2 : 1);
  });

  it('PodMonitors select pods that declare the ports they scrape', () => {
    const monitors = objects.filter((o) => o.kind === 'PodMonitor');
    expect(monitors.length).toBeGreaterThan(0);
    for (const m of monitors) {
      const pods = podTemplates(objects).filter((p) => selects(m.spec.selector, p.labels));
      expect(pods.length, `${m.metadata.name} selects no pod`).toBeGreaterThan(0);
      for (const ep of m.spec.podMetricsEndpoints) {
        for (const p of pods) {
          const has = allContainers(p.spec).some((c) => namedPort(c, ep.port));
          expect(has, `${m.metadata.name}: pod of ${p.owner.metadata.name} has no port named ${ep.port}`).toBe(true);
        }
      }
    }
    const self = monitors.find((m) => m.metadata.name === 'tributary-self')!;
    expect(self.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'admin', path: '/metrics' });
  });
});

describe('deploy/k8s/overlays/gateway: the gateway tier', () => {
  let objects: K8sObject[] = [];
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;
  beforeAll(() => {
    kustomizeVersion();
    objects = render(join(K8S, 'overlays', 'gateway'));
  });

  it('runs the same image as the sidecars, behind a Service, an HPA and a PDB', () => {
    const gw = find('Deployment', 'tributary-gateway');
    const app = find('Deployment', 'example-app');
    const gwContainer = gw.spec.template.spec.containers.find(isTributary);
    expect(gwContainer.image).toBe(app.spec.template.spec.initContainers.find(isTributary).image);
    const podLabels = gw.spec.template.metadata.labels;
    expect(podLabels['tributary.dev/role']).toBe('gateway');
    expect(selects({ matchLabels: gw.spec.selector.matchLabels }, podLabels)).toBe(true);
    expect(gwContainer.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'admin' });
    expect(gwContainer.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'admin' });

    const svc = find('Service', 'tributary-gateway');
    expect(selects({ matchLabels: svc.spec.selector }, podLabels)).toBe(true);
    for (const port of svc.spec.ports) expect(namedPort(gwContainer, port.targetPort), port.name).toBeDefined();

    const hpa = find('HorizontalPodAutoscaler', 'tributary-gateway');
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'tributary-gateway' });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.metrics.some((m: K8sObject) => m.resource?.name === 'cpu')).toBe(true);
    // HPA utilisation is relative to the request.
    expect(gwContainer.resources.requests.cpu).toBeDefined();

    const pdb = find('PodDisruptionBudget', 'tributary-gateway');
    expect(selects(pdb.spec.selector, podLabels)).toBe(true);
    expect(pdb.spec.maxUnavailable ?? hpa.spec.minReplicas - pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);

    const np = find('NetworkPolicy', 'tributary-gateway');
    expect(selects(np.spec.podSelector, podLabels)).toBe(true);
  });

  it('points the sidecars at the gateway Service over OTLP', () => {
    const app = find('Deployment', 'example-app');
    const sidecar = app.spec.template.spec.initContainers.find(isTributary);
    const { config } = pipelineOf(objects, app.spec.template.spec, sidecar);
    const exporters = config.service.pipelines.metrics.exporters as string[];
    expect(exporters.map((id) => id.split('/')[0])).toEqual(['otlp_grpc']);
    const endpoint: string = config.exporters[exporters[0]].endpoint;
    // `${env:TRIBUTARY_GATEWAY:-host:port}`: the default is what runs unless the pod sets it.
    const target = /:-([^}]+)\}$/.exec(endpoint)?.[1] ?? endpoint;
    const svc = find('Service', 'tributary-gateway');
    expect(hostOf(target).split('.')[0]).toBe(svc.metadata.name);
    const grpcPort = svc.spec.ports.find((p: K8sObject) => p.appProtocol === 'grpc');
    expect(portOf(target)).toBe(grpcPort.port);
    expect(sidecar.env?.some((e: K8sObject) => e.name === 'TRIBUTARY_GATEWAY') ?? false).toBe(false);
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const ignore = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8');
  const stages = parseDockerfile(text);
  const final = stages[stages.length - 1];
  const ops = (op: string) => final.instructions.filter((i) => i.op === op);

  it('is multi-stage with a distroless, non-root final stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final.from).toMatch(/^gcr\.io\/distroless\/nodejs2[4-9]-debian\d+:nonroot$/);
    const user = ops('USER').at(-1)?.args ?? '';
    expect(user, 'numeric, so runAsNonRoot can verify it').toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
    // The build stages use the same Debian release as the runtime (glibc of native prebuilds).
    for (const s of stages.slice(0, -1)) expect(s.from).toMatch(/bookworm/);
    expect(final.from).toMatch(/debian12/);
  });

  it('ships the compiled build and production dependencies only: no sources, no build tools', () => {
    const copies = ops('COPY').map((c) => copyParts(c.args));
    const sources = copies.flatMap((c) => c.sources.map((s) => `${c.from ?? 'context'}:${s.replace(/\/$/, '')}`));
    expect(sources.some((s) => /(^|[:/])src$/.test(s)), `no src/ in the image: ${sources}`).toBe(false);
    expect(sources.some((s) => s.endsWith(':.')), 'no COPY of the whole context').toBe(false);
    const nodeModules = copies.find((c) => c.sources.some((s) => s.endsWith('node_modules')))!;
    const depsStage = stages.find((s) => s.name === nodeModules.from)!;
    const install = depsStage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
    expect(install).toMatch(/npm ci\b[^&]*--omit=dev/);
    expect(install, 'install scripts only as package.json allowScripts says').toMatch(/--strict-allow-scripts/);
    expect(sources).toEqual(expect.arrayContaining([expect.stringMatching(/:\/\S*dist$/), 'context:bin', 'context:config', 'context:package.json']));
    expect(ops('RUN'), 'a distroless stage has no shell to RUN with').toEqual([]);
    // Everything copied from the context is in it.
    for (const c of stages.flatMap((s) => s.instructions).filter((i) => i.op === 'COPY').map((i) => copyParts(i.args)))
      if (!c.from) for (const s of c.sources) expect(inContext(ignore, s), `${s} is excluded by .dockerignore`).toBe(true);
    for (const s of ['node_modules', '.git', 'dist', 'test', 'bench', '.node']) expect(inContext(ignore, s), s).toBe(false);
  });

  it('runs in production mode with the heap sized from the memory limit', () => {
    const env = Object.assign({}, ...ops('ENV').map((e) => envPairs(e.args))) as Record<string, string>;
    expect(env.NODE_ENV).toBe('production');
    const pct = /--max-old-space-size-percentage=(\d+)/.exec(env.NODE_OPTIONS ?? '')?.[1];
    expect(pct, 'NODE_OPTIONS sizes the old space as a percentage of the cgroup limit').toBeDefined();
    // The Node that runs the tests accepts the flag and applies it to the constrained (cgroup) or total memory.
    const r = spawnSync(process.execPath, ['-p', 'JSON.stringify([v8.getHeapStatistics().heap_size_limit, process.constrainedMemory(), os.totalmem()])'], {
      env: { ...process.env, NODE_OPTIONS: env.NODE_OPTIONS },
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    const [limit, constrained, total] = JSON.parse(r.stdout) as number[];
    const available = constrained > 0 && constrained < total ? constrained : total;
    const expected = (available * Number(pct)) / 100;
    // heap_size_limit = old space + young generation, so somewhat above the old space alone.
    expect(limit).toBeGreaterThanOrEqual(expected * 0.95);
    expect(limit).toBeLessThanOrEqual(expected * 1.1 + 64 * 2 ** 20);
  });

  it('exposes the ports of CONTRACT §4 (the defaults in config/default.yaml), with no image HEALTHCHECK by design', () => {
    const cfg = parseYaml(readFileSync(join(REPO_ROOT, 'config', 'default.yaml'), 'utf8'));
    const expected = [
      `${portOf(cfg.receivers.otlp.protocols.grpc.endpoint)}`,
      `${portOf(cfg.receivers.otlp.protocols.http.endpoint)}`,
      `${portOf(cfg.receivers.statsd.endpoint)}/udp`,
      `${portOf(cfg.exporters.prometheus.endpoint)}`,
      `${portOf(cfg.service.admin.endpoint)}`,
    ];
    const exposed = ops('EXPOSE').flatMap((e) => e.args.split(/\s+/)).map((p) => p.replace(/\/tcp$/, ''));
    expect(exposed.sort()).toEqual(expected.sort());
    const hc = ops('HEALTHCHECK');
    expect(hc.length).toBe(1);
    expect(hc[0].args === 'NONE' || /\/healthz/.test(hc[0].args)).toBe(true);
    expect(execForm(ops('ENTRYPOINT')[0].args)).toEqual(['/nodejs/bin/node', 'bin/tributary.js']);
    expect(execForm(ops('CMD')[0].args)?.[0]).toBe('run');
  });

  it("the final stage's file set runs: bin/ with dist/, package.json, config/ and no src/", () => {
    // Lay out what the final stage copies, from a fresh compile.
    const root = mkdtempSync(join(tmpdir(), 'tributary-image-'));
    const tsc = spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(root, 'dist')], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    // Type errors elsewhere in the tree do not stop the emit; a missing entry point does.
    expect(existsSync(join(root, 'dist', 'src', 'cli', 'main.js')), tsc.stdout + tsc.stderr).toBe(true);
    expect(existsSync(join(root, 'dist', 'src', 'cli', 'main.test.js'))).toBe(false);
    for (const p of ['bin', 'config', 'package.json']) cpSync(join(REPO_ROOT, p), join(root, p), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    mkdirSync(join(root, 'tmp'));
    expect(existsSync(join(root, 'src'))).toBe(false);
    const bin = join(root, 'bin', 'tributary.js');
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8'));
    expect(cli(['--version'], root, bin).out.trim()).toBe(`tributary ${pkg.version}`);
    const v = cli(['validate', '--config', 'config/default.yaml'], root, bin);
    expect(v.out).toContain('config OK');
    expect(v.code).toBe(0);
  });
});

describe('Prometheus alert rules', () => {
  const dir = join(REPO_ROOT, 'deploy', 'prometheus');
  const promtool = (args: string[]) => {
    const r = spawnSync('promtool', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    if (r.error) throw new Error(`promtool (Debian package prometheus) is needed: ${r.error.message}`);
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  it('pass promtool check rules and their unit tests', () => {
    const check = promtool(['check', 'rules', 'tributary-alerts.yaml']);
    expect(check.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(check.code).toBe(0);
    const test = promtool(['test', 'rules', 'tributary-alerts.test.yaml']);
    expect(test.out).toContain('SUCCESS');
    expect(test.code).toBe(0);
  });

  it('only name self-metrics the daemon exposes', () => {
    const rules = readFileSync(join(dir, 'tributary-alerts.yaml'), 'utf8');
    const exposed = readFileSync(join(REPO_ROOT, 'src', 'telemetry', 'self-metrics.ts'), 'utf8') + readFileSync(join(REPO_ROOT, 'src', 'admin', 'server.ts'), 'utf8');
    const used = new Set([...rules.matchAll(/\b((?:tributary|nodejs|process)_[a-z_]+)\b/g)].map((m) => m[1]));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(exposed.includes(`'${name}'`), name).toBe(true);
  });
});
