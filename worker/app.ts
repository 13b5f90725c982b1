/**
 * The worker's HTTP surface (built here, listened to in server.ts):
 * POST /v1/trigger · PUT/DELETE /v1/deployments · GET /v1/objects/:key · POST /v1/objects/fetch ·
 * POST /v1/invocations/:id/release · POST /v1/internal/shard-run · POST /v1/internal/keyed-run ·
 * GET /healthz · GET /metrics · GET /v1/debug/cpu; and the
 * ingress (ingress/routes.ts): POST /v1/workflows/:name/invocations · GET /v1/invocations/:id ·
 * POST /v1/invocations/:id/cancel · PUT /v1/cluster/view · POST /v1/internal/reports; and the
 * dashboard at /ui with the reads it needs answered by the master (ingress/dashboard.ts).
 */
import { Type } from '@sinclair/typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { InvocationId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { checkTriggerTenancy } from '../shared/tenancy.js';
import type { ServerTls } from '../shared/tls.js';
import {
  acceptBinary,
  cpuRoute,
  installErrorHandling,
  requireToken,
  triggerRoute,
  typed,
} from '../shared/http.js';
import { isDashboardRequest, workerDashboardRoutes } from './ingress/dashboard.js';
import { ingressRoutes, type IngressRouteDeps } from './ingress/routes.js';
import { Deployment, InvocationIdField, StoredRef, DeploymentName } from '../shared/schema/wire.js';
import { SHARD_RUN_PATH, ShardRunRequest } from '../shared/schema/shard.js';
import { KEYED_RUN_PATH, KeyedRunRequest } from '../shared/schema/keyed.js';
import type { FaaStore } from '../faastore/index.js';
import type { Engine } from './engine/engine.js';
import type { Sandbox } from './sandbox/types.js';
import type { DeploymentManager } from './deployer.js';
import type { ChannelStats } from '../shared/channel/ops.js';
import { PrepareBatch, type PrepareScheduler } from './sandbox/ahead.js';

export interface WorkerAppDeps {
  workerId: string;
  engine: Engine;
  /** The store is created once the server knows its own URL, after listen. */
  store: () => FaaStore;
  sandbox: Sandbox;
  deployer: DeploymentManager;
  logger: Logger;
  bodyLimitBytes: number;
  /** The worker's own invocation API (docs/design.md §4). */
  ingress: IngressRouteDeps;
  token?: string;
  /** Ends an invocation here: the engine's release and the channels' context caches. */
  release: (invocationId: InvocationId) => Promise<void>;
  /** Prepares ahead (docs/guides/chains.md): `POST /v1/prepares`. */
  ahead?: PrepareScheduler;
  /** What the worker's channels served (absent with `transport: http`). */
  channelStats?: ChannelStats;
  /** Serve HTTPS (shared/tls.ts). */
  https?: ServerTls;
}

export function buildWorkerApp(d: WorkerAppDeps): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = d.logger;
  const app = typed(
    Fastify({
      loggerInstance,
      ...(d.https === undefined ? {} : { https: d.https }),
      bodyLimit: d.bodyLimitBytes,
      logController: new LogController({ disableRequestLogging: true }),
    }),
  );
  installErrorHandling(app, d.bodyLimitBytes);
  // The dashboard's files and reads are the master's to judge (ingress/dashboard.ts), as are an
  // invocation's read and its cancel once API keys are on: the token would stand where the key
  // must go.
  requireToken(
    app,
    d.token,
    (method, path) =>
      path === '/healthz' ||
      path === '/metrics' ||
      isDashboardRequest(method, path) ||
      (d.ingress.view.last?.auth === true && isInvocationRequest(method, path)),
  );
  acceptBinary(app);

  triggerRoute(app, (triggers) => {
    // All or nothing: one foreign trigger refuses the batch before any of it is accepted.
    for (const t of triggers) checkTriggerTenancy(t);
    d.engine.accept(triggers);
  });
  ingressRoutes(app, d.ingress);
  workerDashboardRoutes(app, { workerId: d.workerId, view: d.ingress.view, http: d.ingress.http });
  cpuRoute(app);

  // A batch of a sharded foreach another worker owns (docs/guides/sharding.md).
  app.post(SHARD_RUN_PATH, { schema: { body: ShardRunRequest } }, async (req) =>
    d.engine.runShardBatch(req.body),
  );
  // A keyed function's call routed here by its key (docs/guides/sharding.md).
  app.post(KEYED_RUN_PATH, { schema: { body: KeyedRunRequest } }, async (req) =>
    d.engine.runKeyed(req.body),
  );

  app.put(
    '/v1/deployments/:workflow/:version',
    {
      schema: {
        body: Deployment,
        params: Type.Object({ workflow: DeploymentName, version: Type.Integer({ minimum: 1 }) }),
      },
    },
    async (req, reply) => {
      const created = await d.deployer.deploy(req.body);
      return reply
        .status(created ? 201 : 200)
        .send({ workflow: req.body.workflow, version: req.body.version });
    },
  );

  app.delete(
    '/v1/deployments/:workflow',
    { schema: { params: Type.Object({ workflow: DeploymentName }) } },
    async (req, reply) => {
      await d.deployer.remove(req.params.workflow);
      return reply.status(204).send();
    },
  );

  app.get(
    '/v1/objects/:key',
    { schema: { params: Type.Object({ key: Type.String() }) } },
    async (req, reply) => {
      const buf = await d.store().serveLocal(req.params.key);
      return reply.type('application/octet-stream').send(buf);
    },
  );

  app.post(
    '/v1/objects/fetch',
    { schema: { body: Type.Object({ ref: StoredRef }) } },
    async (req, reply) => {
      const buf = await d.store().serveRef(req.body.ref);
      return reply.type('application/octet-stream').send(buf);
    },
  );

  app.post(
    '/v1/invocations/release',
    {
      schema: {
        body: Type.Object({
          invocationIds: Type.Array(InvocationIdField, { minItems: 1, maxItems: 10_000 }),
        }),
      },
    },
    async (req, reply) => {
      const { invocationIds } = req.body;
      await Promise.all(invocationIds.map((id) => d.release(id)));
      return reply.status(204).send();
    },
  );

  app.post(
    '/v1/invocations/:id/release',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    async (req, reply) => {
      await d.release(req.params.id);
      return reply.status(204).send();
    },
  );

  app.addHook('onClose', (_app, done) => {
    d.ahead?.close();
    done();
  });
  app.post('/v1/prepares', { schema: { body: PrepareBatch } }, async (req, reply) => {
    d.ahead?.schedule(req.body.prepares);
    return reply.status(202).send({ scheduled: d.ahead ? req.body.prepares.length : 0 });
  });

  app.get('/healthz', () => ({ status: 'ok', worker: d.workerId, ...d.engine.load }));

  app.get('/metrics', async (_req, reply) => {
    const s = d.sandbox.stats();
    const st = d.store().stats();
    const lines = [
      '# TYPE faasflow_worker_running_nodes gauge',
      `faasflow_worker_running_nodes ${d.engine.load.running}`,
      '# TYPE faasflow_worker_invocations gauge',
      `faasflow_worker_invocations ${d.engine.load.invocations}`,
      '# TYPE faasflow_worker_sandboxes gauge',
      `faasflow_worker_sandboxes ${s.sandboxes}`,
      '# TYPE faasflow_worker_sandboxes_busy gauge',
      `faasflow_worker_sandboxes_busy ${s.busy}`,
      '# TYPE faasflow_store_memory_bytes gauge',
      `faasflow_store_memory_bytes ${st.memoryBytes}`,
      '# TYPE faasflow_store_spilled_bytes gauge',
      `faasflow_store_spilled_bytes ${st.spilledBytes}`,
      ...(d.channelStats?.metrics('worker') ?? []),
    ];
    return reply.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  });

  return app;
}

/** `GET /v1/invocations/:id` or `POST /v1/invocations/:id/cancel`. */
function isInvocationRequest(method: string, path: string): boolean {
  if (method === 'GET') return /^\/v1\/invocations\/[^/]+$/.test(path);
  return method === 'POST' && /^\/v1\/invocations\/[^/]+\/cancel$/.test(path);
}
