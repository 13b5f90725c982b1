/**
 * Cross-document checks of the workloads (Deployments, DaemonSets) and Services: selectors match
 * their pods, every config map, secret, key, port and `$(VAR)` a container names exists, and each
 * faasflow container's environment — resolved as the kubelet would, with placeholders for what
 * only exists at run time — is handed to `envCheck`. Workers must reach the master and Redis
 * through Services that select them.
 */
import type { Static } from '@sinclair/typebox';
import type { Container, KINDS, KindName } from './schema.js';

type Deployment = Static<(typeof KINDS)['Deployment']>;
type DaemonSet = Static<(typeof KINDS)['DaemonSet']>;
type Service = Static<(typeof KINDS)['Service']>;
type ContainerT = Static<typeof Container>;

export interface Doc {
  where: string;
  file: string;
  kind: KindName;
  value: {
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  } & Record<string, unknown>;
}

export type EnvCheck = (
  component: 'master' | 'worker',
  env: Record<string, string>,
  where: string,
) => string[];

interface Workload {
  where: string;
  name: string;
  labels: Record<string, string>;
  containers: ContainerT[];
}

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };

/** `500m` → 0.5, `8Gi` → 8589934592, `'4'` → 4. */
export function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) return Number.NaN;
  const n = Number(m[1]);
  return m[2] === 'm' ? n / 1000 : n * (BINARY[m[2] ?? ''] ?? 1);
}

export function checkWorkloads(docs: Doc[], envCheck: EnvCheck): string[] {
  const problems: string[] = [];
  const configMaps = new Map(
    docs
      .filter((d) => d.kind === 'ConfigMap')
      .map((d) => [d.value.metadata.name, d.value['data'] as Record<string, string>]),
  );
  const secrets = new Map(
    docs
      .filter((d) => d.kind === 'Secret')
      .map((d) => [
        d.value.metadata.name,
        {
          ...(d.value['data'] as Record<string, string> | undefined),
          ...(d.value['stringData'] as Record<string, string> | undefined),
        },
      ]),
  );
  const workloads: Workload[] = docs
    .filter((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet')
    .map((d) => {
      const spec = (d.value as unknown as Deployment | DaemonSet).spec;
      for (const [k, v] of Object.entries(spec.selector.matchLabels)) {
        if (spec.template.metadata.labels[k] !== v)
          problems.push(`${d.where}: selector ${k}=${v} does not match the pod template's labels`);
      }
      return {
        where: d.where,
        name: d.value.metadata.name,
        labels: spec.template.metadata.labels,
        containers: spec.template.spec.containers,
      };
    });
  const services = docs
    .filter((d) => d.kind === 'Service')
    .map((d) => ({
      where: d.where,
      name: d.value.metadata.name,
      spec: (d.value as unknown as Service).spec,
    }));

  for (const s of services) {
    const selected = workloads.filter((w) =>
      Object.entries(s.spec.selector).every(([k, v]) => w.labels[k] === v),
    );
    if (selected.length !== 1) {
      problems.push(
        `${s.where}: service ${s.name} selects ${selected.length} workloads (${selected.map((w) => w.name).join(', ') || 'none'}); expected exactly one`,
      );
      continue;
    }
    for (const p of s.spec.ports) {
      if (!containerPort(selected[0]!.containers, p.targetPort))
        problems.push(
          `${s.where}: targetPort ${p.targetPort} of service ${s.name} is no container port of ${selected[0]!.name}`,
        );
    }
  }

  for (const w of workloads) {
    for (const c of w.containers) {
      const where = `${w.where} container ${c.name}`;
      const env = resolveEnv(c, w, configMaps, secrets, where, problems);
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (port !== undefined && !containerPort([c], port))
          problems.push(`${where}: probe port ${port} is not one of the container's ports`);
      }
      const component = c.args?.includes('dist/master/main.js')
        ? 'master'
        : c.args?.includes('dist/worker/main.js')
          ? 'worker'
          : null;
      if (component === null) continue;
      problems.push(...envCheck(component, env, where));
      if (!(c.env ?? []).some((e) => e.name === 'FAASFLOW_TOKEN' && e.valueFrom?.secretKeyRef)) {
        problems.push(
          `${where}: FAASFLOW_TOKEN must come from a secret (valueFrom.secretKeyRef), never a literal`,
        );
      }
      if (env['FAASFLOW_PORT'] && !containerPort([c], Number(env['FAASFLOW_PORT']))) {
        problems.push(`${where}: FAASFLOW_PORT ${env['FAASFLOW_PORT']} is not a containerPort`);
      }
      if (component === 'worker') {
        problems.push(
          ...reachesService(
            env['FAASFLOW_MASTER_URL'],
            'FAASFLOW_MASTER_URL',
            'master',
            services,
            workloads,
            where,
          ),
        );
        if (env['FAASFLOW_REDIS_URL'])
          problems.push(
            ...reachesService(
              env['FAASFLOW_REDIS_URL'],
              'FAASFLOW_REDIS_URL',
              null,
              services,
              workloads,
              where,
            ),
          );
      }
    }
  }
  return problems;
}

function containerPort(containers: ContainerT[], port: string | number): boolean {
  return containers.some((c) =>
    (c.ports ?? []).some((p) =>
      typeof port === 'number' ? p.containerPort === port : p.name === port,
    ),
  );
}

/** The container's environment as the kubelet builds it; run-time values get placeholders. */
function resolveEnv(
  c: ContainerT,
  w: Workload,
  configMaps: Map<string, Record<string, string>>,
  secrets: Map<string, Record<string, string>>,
  where: string,
  problems: string[],
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const name = from.configMapRef?.name ?? from.secretRef?.name ?? '';
    const data = from.configMapRef ? configMaps.get(name) : secrets.get(name);
    if (!data)
      problems.push(
        `${where}: envFrom names ${from.configMapRef ? 'config map' : 'secret'} ${name}, which no manifest defines`,
      );
    else Object.assign(env, data);
  }
  for (const e of c.env ?? []) {
    if ((e.value === undefined) === (e.valueFrom === undefined)) {
      problems.push(`${where}: env ${e.name} needs exactly one of value and valueFrom`);
      continue;
    }
    if (e.value !== undefined) {
      env[e.name] = e.value.replace(
        /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
        (ref: string, name: string) => {
          if (env[name] === undefined)
            problems.push(
              `${where}: env ${e.name} refers to $(${name}), which is not defined before it`,
            );
          return env[name] ?? ref;
        },
      );
      continue;
    }
    const v = e.valueFrom!;
    if (v.secretKeyRef || v.configMapKeyRef) {
      const ref = (v.secretKeyRef ?? v.configMapKeyRef)!;
      const data = v.secretKeyRef ? secrets.get(ref.name) : configMaps.get(ref.name);
      if (data?.[ref.key] === undefined)
        problems.push(
          `${where}: env ${e.name} names key ${ref.key} of ${v.secretKeyRef ? 'secret' : 'config map'} ${ref.name}, which no manifest defines`,
        );
      env[e.name] = data?.[ref.key] ?? 'missing';
    } else if (v.fieldRef) {
      env[e.name] = v.fieldRef.fieldPath === 'status.podIP' ? '10.0.0.10' : 'node-1';
    } else if (v.resourceFieldRef) {
      const r = v.resourceFieldRef;
      const target = w.containers.find((x) => x.name === (r.containerName ?? c.name));
      const [section, resource] = r.resource.split('.') as [
        'limits' | 'requests',
        'cpu' | 'memory',
      ];
      const amount = target?.resources?.[section]?.[resource];
      if (amount === undefined) {
        problems.push(
          `${where}: env ${e.name} reads ${r.resource} of container ${r.containerName ?? c.name}, which sets none`,
        );
        continue;
      }
      env[e.name] = String(Math.ceil(quantity(amount) / quantity(r.divisor ?? 1)));
    }
  }
  return env;
}

/** A worker's URL must name a Service (`name` or `name.namespace.svc…`) on one of its ports. */
function reachesService(
  url: string | undefined,
  variable: string,
  mustSelect: 'master' | null,
  services: { name: string; spec: Service['spec'] }[],
  workloads: Workload[],
  where: string,
): string[] {
  if (url === undefined) return [`${where}: ${variable} is not set`];
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return [`${where}: ${variable} ${url} is not a URL`];
  }
  const service = services.find((s) => s.name === parsed.hostname.split('.')[0]);
  if (!service)
    return [
      `${where}: ${variable} host ${parsed.hostname} is not a Service of these manifests (${services.map((s) => s.name).join(', ')})`,
    ];
  const port = Number(
    parsed.port ||
      (parsed.protocol === 'https:' ? 443 : parsed.protocol.startsWith('redis') ? 6379 : 80),
  );
  const problems: string[] = [];
  if (!service.spec.ports.some((p) => p.port === port))
    problems.push(
      `${where}: ${variable} uses port ${port}, which service ${service.name} does not expose`,
    );
  if (mustSelect) {
    const selected = workloads.filter((w) =>
      Object.entries(service.spec.selector).every(([k, v]) => w.labels[k] === v),
    );
    if (
      !selected.some((w) =>
        w.containers.some((c) => c.args?.includes(`dist/${mustSelect}/main.js`)),
      )
    ) {
      problems.push(
        `${where}: ${variable} points at service ${service.name}, which does not select the ${mustSelect}`,
      );
    }
  }
  return problems;
}
