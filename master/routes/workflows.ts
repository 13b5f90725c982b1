/** Workflow routes (docs/design.md §9): upload (YAML or JSON with handler files), list, get, delete. */
import { Type } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';
import { variantName } from '../compose/variants.js';
import type { TypedApp } from '../../shared/http.js';
import { partition } from '../partition/index.js';
import { invalidWorkflow, loadWorkflow, type LoadOptions } from '../workflow/index.js';
import { authorize, principalOf } from '../../shared/auth.js';
import { splitQualified } from '../../shared/tenancy.js';
import { limitExceeded } from '../auth/limits.js';
import { checkUnconfined, parsePrivileged } from '../auth/privileges.js';
import { limitsFor, workflowOf, type MasterContext } from './context.js';

export function workflowRoutes(app: TypedApp, c: MasterContext): void {
  app.post('/v1/workflows', async (req, reply) => {
    const p = principalOf(req);
    authorize(p, 'deploy');
    const upload = readUpload(req.body, req.headers['content-type']);
    const limits = limitsFor(c, p.tenant);
    const bytes = uploadBytes(upload);
    if (limits.maxWorkflowBytes > 0 && bytes > limits.maxWorkflowBytes)
      throw limitExceeded(
        `the upload is ${bytes} bytes, over tenant ${p.tenant}'s limit (maxWorkflowBytes ${limits.maxWorkflowBytes})`,
        60,
      );
    const result = loadWorkflow(upload.yaml, upload.options);
    if (!result.dag) throw invalidWorkflow(result.issues);
    const dag = result.dag;
    checkUnconfined(p, parsePrivileged(c.config.privilegedTenants), dag.functions);
    const name = workflowOf(p, dag.name);
    const held = c.catalog.has(name) ? c.catalog.versions(name).length : 0;
    if (limits.maxVersions > 0 && held >= limits.maxVersions)
      throw limitExceeded(
        `workflow ${dag.name} has ${held} versions, tenant ${p.tenant}'s limit (maxVersions ${limits.maxVersions}); delete it to deploy again`,
        60,
      );
    const missing = Object.values(dag.functions).flatMap((f) => [
      ...(f.source.kind === 'handler' && upload.files[f.source.path] === undefined
        ? [`${f.name} (${f.source.path})`]
        : []),
      ...(f.preload ?? [])
        .filter((p) => upload.files[p] === undefined)
        .map((p) => `${f.name} (preload ${p})`),
    ]);
    if (missing.length > 0) {
      throw new AppError(
        'WORKFLOW_INVALID',
        `files are missing from the upload: ${missing.join(', ')}; send JSON {yaml, files: {"<path>": "<base64>"}} (faasflow deploy does this)`,
        {
          details: { missing },
        },
      );
    }
    // Groups must fit the smallest ready worker (its CPU overcommitted, its memory not); with
    // none yet, the partitioner's defaults apply.
    const ready = c.registry.ready();
    const capacity =
      ready.length === 0
        ? undefined
        : {
            cpu: Math.min(...ready.map((w) => w.capacity.cpu)) * c.config.cpuOvercommit,
            memoryMb: Math.min(...ready.map((w) => w.capacity.memoryMb)),
          };
    const partitionOptions = {
      workers: Math.max(1, ready.length),
      bandwidthBytesPerSec: c.config.bandwidthBytesPerSec,
      ...(capacity ? { capacity } : {}),
    };
    const parts = partition(dag, partitionOptions);
    // Each variant is an ordinary DAG, partitioned like any other (docs/guides/composition.md).
    const composition = result.composition && {
      spec: result.composition.spec,
      variants: result.composition.dags
        .slice(1)
        .map((d) => ({ dag: d, partition: partition(d, partitionOptions) })),
    };
    // Durable before anyone sees it: a version a worker runs must survive a master restart.
    const v = await c.catalog.add({
      name,
      dag,
      partition: parts,
      files: upload.files,
      warnings: result.warnings,
      ...(composition ? { composition } : {}),
    });
    await Promise.all(c.registry.ready().map((w) => c.deployments.push(w, v)));
    // Harvesting: load the workflow's model set now, so its first invocation need not wait.
    if (c.harvest) void c.harvest.ready(v.name);
    c.audit.record('workflow.deployed', {
      tenant: p.tenant,
      workflow: dag.name,
      version: v.version,
      by: p.keyId,
      ip: req.ip,
    });
    return reply.status(201).send({
      name: dag.name,
      version: v.version,
      nodes: dag.nodes.length,
      edges: dag.edges.length,
      groups: parts.groups,
      ...(composition ? { variants: composition.spec.variants.map((x) => x.label) } : {}),
      warnings: v.warnings,
    });
  });

  app.get('/v1/workflows', (req) => {
    const p = principalOf(req);
    authorize(p, 'read');
    return {
      workflows: c.catalog
        .current()
        .filter((v) => splitQualified(v.name).tenant === p.tenant)
        .map((v) => ({
          name: splitQualified(v.name).name,
          version: v.version,
          nodes: v.dag.nodes.length,
          edges: v.dag.edges.length,
          groups: v.partition.groups.length,
          createdAt: v.createdAt,
          // Composed (choose: steps): how many graphs it may run.
          ...(v.composition ? { variants: v.composition.spec.variants.length } : {}),
        })),
    };
  });

  app.get(
    '/v1/workflows/:name',
    { schema: { params: Type.Object({ name: Type.String() }) } },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'read');
      const publicName = req.params.name;
      const name = workflowOf(p, publicName);
      const v = c.catalog.latest(name);
      return {
        name: publicName,
        version: v.version,
        versions: c.catalog
          .versions(name)
          .map((x) => ({ version: x.version, createdAt: x.createdAt })),
        dag: v.dag,
        groups: v.partition.groups,
        localBytes: v.partition.localBytes,
        totalBytes: v.partition.totalBytes,
        warnings: v.warnings,
        ...(v.composition ? { variants: v.composition.spec.variants.map((x) => x.label) } : {}),
      };
    },
  );

  app.delete(
    '/v1/workflows/:name',
    { schema: { params: Type.Object({ name: Type.String() }) } },
    async (req, reply) => {
      const p = principalOf(req);
      authorize(p, 'deploy');
      const publicName = req.params.name;
      const name = workflowOf(p, publicName);
      const variants = Math.max(
        0,
        ...(c.catalog.has(name) ? c.catalog.versions(name) : []).map(
          (v) => v.composition?.variants.length ?? 0,
        ),
      );
      await c.catalog.remove(name);
      c.deployments.forgetWorkflow(name);
      const names = [name, ...Array.from({ length: variants }, (_, i) => variantName(name, i + 1))];
      await Promise.all(
        c.registry.ready().flatMap((w) => names.map((n) => c.deployments.undeploy(w, n))),
      );
      c.compose?.forget(name);
      c.audit.record('workflow.deleted', {
        tenant: p.tenant,
        workflow: publicName,
        by: p.keyId,
        ip: req.ip,
      });
      return reply.status(204).send();
    },
  );
}

/** Bytes of an upload: its YAML and its handler files (decoded). */
function uploadBytes(u: Upload): number {
  let n = Buffer.byteLength(u.yaml);
  for (const f of Object.values(u.files)) n += Buffer.byteLength(f, 'base64');
  return n;
}

interface Upload {
  yaml: string;
  files: Record<string, string>;
  options: LoadOptions;
}

const UPLOAD_KEYS = ['yaml', 'files', 'name', 'runtimeScale', 'sizeScale'];

function readUpload(body: unknown, contentType: string | undefined): Upload {
  if (typeof body === 'string') return { yaml: body, files: {}, options: {} };
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const problems: string[] = [];
    if (typeof b['yaml'] !== 'string' || b['yaml'] === '')
      problems.push('yaml must be the workflow text (a non-empty string)');
    const files = b['files'] ?? {};
    if (
      typeof files !== 'object' ||
      files === null ||
      Array.isArray(files) ||
      !Object.values(files).every((f) => typeof f === 'string')
    ) {
      problems.push('files must map relative paths to base64 strings');
    }
    for (const k of Object.keys(b))
      if (!UPLOAD_KEYS.includes(k))
        problems.push(`unknown field ${JSON.stringify(k)}; expected ${UPLOAD_KEYS.join(', ')}`);
    if (b['name'] !== undefined && typeof b['name'] !== 'string')
      problems.push('name must be a string');
    for (const k of ['runtimeScale', 'sizeScale']) {
      if (b[k] !== undefined && typeof b[k] !== 'number')
        problems.push(`${k} must be a number (FaaSFlow flat workflows only)`);
    }
    if (problems.length > 0)
      throw new AppError('BAD_REQUEST', `invalid upload: ${problems.join('; ')}`);
    const options: LoadOptions = {};
    if (typeof b['name'] === 'string') options.name = b['name'];
    if (typeof b['runtimeScale'] === 'number') options.runtimeScale = b['runtimeScale'];
    if (typeof b['sizeScale'] === 'number') options.sizeScale = b['sizeScale'];
    return { yaml: b['yaml'] as string, files: files as Record<string, string>, options };
  }
  throw new AppError(
    'BAD_REQUEST',
    `send the workflow as application/yaml, or as JSON {yaml, files?} (got ${contentType ?? 'no content type'})`,
  );
}
