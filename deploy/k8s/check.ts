/**
 * The lint step of the Kubernetes manifests (no cluster, no network): each document is checked
 * against the schema of the fields we use (schema.ts), then across documents — every reference
 * (config map, secret and key, probe and service port, selector, `$(VAR)`) resolves, and the
 * environment each faasflow container gets is loaded with the master's or the worker's own
 * config loader, so a misspelt FAASFLOW_* name or an invalid value fails here, not in a pod.
 * `node dist/deploy/k8s/check.js [dir]` prints the problems and exits 1 when there are any.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { parseAllDocuments } from 'yaml';
import { loadMasterConfig, MasterConfigSchema } from '../../master/config.js';
import { envFor } from '../../shared/config.js';
import { loadWorkerConfig, WorkerConfigSchema } from '../../worker/config.js';
import { KINDS, type KindName } from './schema.js';
import { checkWorkloads, type Doc } from './check-workloads.js';

export interface ManifestFile {
  name: string;
  text: string;
}

/** Every problem in the manifests, as `file#doc path: message` lines; empty when clean. */
export function checkManifests(files: ManifestFile[]): string[] {
  const problems: string[] = [];
  const docs: Doc[] = [];
  for (const f of files) {
    parseAllDocuments(f.text).forEach((d, i) => {
      const where = `${f.name}#${i + 1}`;
      if (d.errors.length > 0) {
        problems.push(...d.errors.map((e) => `${where}: YAML: ${e.message}`));
        return;
      }
      const value: unknown = d.toJS();
      if (value === null || value === undefined) return;
      const kind = (value as { kind?: unknown }).kind;
      if (typeof kind !== 'string' || !(kind in KINDS)) {
        problems.push(
          `${where}: unknown kind ${JSON.stringify(kind)}; known kinds: ${Object.keys(KINDS).join(', ')}`,
        );
        return;
      }
      const schema = KINDS[kind as KindName];
      const errors = [...Value.Errors(schema, value)];
      for (const e of errors)
        problems.push(`${where} ${e.path || '/'}: ${e.message} (got ${JSON.stringify(e.value)})`);
      if (errors.length === 0)
        docs.push({ where, file: f.name, kind: kind as KindName, value: value as Doc['value'] });
    });
  }
  // Cross-document checks on a partial set of documents would only report echoes of these.
  if (problems.length > 0)
    return [...problems, 'cross-document checks skipped until these are fixed'];
  problems.push(...checkKustomization(files, docs));
  problems.push(...checkNamespaces(docs));
  problems.push(...checkWorkloads(docs, componentEnvCheck));
  return problems;
}

/** Reads every `*.yaml` of `dir` and checks them together. */
export function checkManifestDir(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  return checkManifests(files);
}

function checkKustomization(files: ManifestFile[], docs: Doc[]): string[] {
  const k = docs.find((d) => d.kind === 'Kustomization');
  if (!k) return [];
  const listed = new Set(k.value['resources'] as string[]);
  const present = files.map((f) => f.name).filter((n) => n !== k.file);
  return [
    ...[...listed]
      .filter((r) => !present.includes(r))
      .map((r) => `${k.where}: resource ${r} does not exist`),
    ...present
      .filter((p) => !listed.has(p))
      .map((p) => `${k.where}: ${p} is not listed in resources (kubectl apply -k would skip it)`),
  ];
}

function checkNamespaces(docs: Doc[]): string[] {
  const ns = docs.find((d) => d.kind === 'Namespace')?.value.metadata.name;
  if (ns === undefined) return [];
  return docs
    .filter(
      (d) =>
        d.kind !== 'Namespace' && d.kind !== 'Kustomization' && d.value.metadata.namespace !== ns,
    )
    .map(
      (d) =>
        `${d.where}: metadata.namespace is ${JSON.stringify(d.value.metadata.namespace)}; expected ${ns} (the Namespace manifest)`,
    );
}

/** Env names a component reads: exactly the names `envFor` looks up, plus the logger's LOG_LEVEL. */
function namesOf(schema: typeof MasterConfigSchema | typeof WorkerConfigSchema): Set<string> {
  const names = new Set(['LOG_LEVEL']);
  const empty: NodeJS.ProcessEnv = {};
  const recorder = new Proxy(empty, {
    get: (_target, name) => {
      if (typeof name === 'string') names.add(name);
      return undefined;
    },
  });
  envFor(schema, recorder);
  return names;
}

/** Checks one faasflow container's resolved environment with its component's config loader. */
function componentEnvCheck(
  component: 'master' | 'worker',
  env: Record<string, string>,
  where: string,
): string[] {
  const schema = component === 'master' ? MasterConfigSchema : WorkerConfigSchema;
  const valid = namesOf(schema);
  const problems = Object.keys(env)
    .filter((n) => (n.startsWith('FAASFLOW_') || n === 'LOG_LEVEL') && !valid.has(n))
    .map(
      (n) =>
        `${where}: ${n} is not an option of the ${component}; valid: ${[...valid].sort().join(', ')}`,
    );
  try {
    if (component === 'master') loadMasterConfig({}, env);
    else loadWorkerConfig({}, env);
  } catch (err) {
    const details = (err as { details?: { problems?: string[] } }).details?.problems ?? [
      (err as Error).message,
    ];
    problems.push(...details.map((p) => `${where}: ${component} configuration: ${p}`));
  }
  if (!/^(trace|debug|info|warn|error|fatal|silent)$/.test(env['LOG_LEVEL'] ?? 'info')) {
    problems.push(
      `${where}: LOG_LEVEL ${JSON.stringify(env['LOG_LEVEL'])} is not a pino level (trace, debug, info, warn, error, fatal)`,
    );
  }
  return problems;
}

const isMain = process.argv[1]?.endsWith('/deploy/k8s/check.js') ?? false;
if (isMain) {
  const dir = process.argv[2] ?? join(process.cwd(), 'deploy', 'k8s');
  const problems = checkManifestDir(dir);
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stdout.write(
    problems.length === 0 ? `${dir}: manifests ok\n` : `${dir}: ${problems.length} problem(s)\n`,
  );
  process.exitCode = problems.length === 0 ? 0 : 1;
}
