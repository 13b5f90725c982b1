/**
 * Routes workers use: registration, heartbeats, reports, the MasterSP trigger relay and the
 * invocation inputs the master serves; plus the public worker list, health and metrics.
 */
import { Type } from '@sinclair/typebox';
import { authorize, principalOf } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import { cpuRoute, triggerRoute, type TypedApp } from '../../shared/http.js';
import type { InvocationDoc } from '../../shared/invocation/doc.js';
import { InvocationIdField } from '../../shared/schema/wire.js';
import { Heartbeat, Registration, ReportBatch } from '../../shared/schema/wire.js';
import type { MasterContext } from './context.js';

export function clusterRoutes(app: TypedApp, c: MasterContext): void {
  app.post('/v1/workers', { schema: { body: Registration } }, async (req) => {
    const w = c.registry.register(req.body);
    c.deployments.forget(w.id);
    for (const v of c.catalog.current()) await c.deployments.push(w, v);
    c.registry.markReady(w.id);
    req.log.info({ worker: w.id, url: w.url }, 'worker registered');
    return { id: w.id, status: 'ready', heartbeatTimeoutMs: c.config.workerTimeoutMs };
  });

  app.post(
    '/v1/workers/:id/heartbeat',
    { schema: { body: Heartbeat, params: Type.Object({ id: Type.String() }) } },
    (req) => {
      const id = req.params.id;
      if (!c.registry.heartbeat(id, req.body.load)) {
        throw new AppError(
          'NOT_FOUND',
          `worker ${id} is not registered (or was marked dead); register again`,
        );
      }
      return { ok: true };
    },
  );

  // A stopping worker: first it drains (no new invocations), then it leaves, and whatever of
  // its work is still running is re-placed (durable invocations) or failed.
  app.post(
    '/v1/workers/:id/drain',
    { schema: { params: Type.Object({ id: Type.String() }) } },
    (req) => {
      const id = req.params.id;
      if (!c.registry.drain(id)) throw new AppError('NOT_FOUND', `worker ${id} is not registered`);
      req.log.info({ worker: id }, 'worker draining');
      return { id, status: 'draining' };
    },
  );

  app.delete(
    '/v1/workers/:id',
    { schema: { params: Type.Object({ id: Type.String() }) } },
    async (req, reply) => {
      const id = req.params.id;
      c.registry.markDead(id);
      req.log.info({ worker: id }, 'worker left');
      return reply.status(204).send();
    },
  );

  app.get('/v1/workers', (req) => {
    authorize(principalOf(req), 'read');
    return {
      workers: c.registry.list().map((w) => ({
        id: w.id,
        url: w.url,
        status: w.status,
        runtime: w.runtime,
        capacity: w.capacity,
        load: { ...w.load, inflight: w.inflight },
        hot: c.hot?.isHot(w.id) ?? false,
        labels: w.labels ?? {},
        registeredAt: new Date(w.registeredAt).toISOString(),
        lastSeenAt: new Date(w.lastSeenAt).toISOString(),
      })),
    };
  });

  app.post('/v1/internal/reports', { schema: { body: ReportBatch } }, async (req, reply) => {
    c.invocations.accept(req.body.reports);
    return reply.status(202).send({ accepted: req.body.reports.length });
  });

  triggerRoute(app, (triggers) => c.invocations.relay(triggers));

  // A worker's ingress binds an idempotency key in the master's store (one place for the whole
  // cluster), before it accepts the invocation.
  app.post(
    '/v1/internal/idempotency',
    {
      schema: {
        body: Type.Object({
          key: Type.String({ minLength: 1, maxLength: 400 }),
          invocationId: InvocationIdField,
          ttlMs: Type.Integer({ minimum: 1 }),
        }),
      },
    },
    async (req) => {
      const b = req.body;
      return { invocationId: await c.store.claimIdempotencyKey(b.key, b.invocationId, b.ttlMs) };
    },
  );

  // Records of invocations the workers took on their own API, in batches once they ended.
  app.post(
    '/v1/internal/records',
    {
      schema: {
        body: Type.Object({
          records: Type.Array(
            Type.Object(
              {
                id: Type.String({ minLength: 1, maxLength: 128 }),
                workflow: Type.String(),
                status: Type.String(),
                startedAt: Type.Number(),
              },
              { additionalProperties: true },
            ),
            { minItems: 1, maxItems: 10_000 },
          ),
        }),
      },
    },
    async (req, reply) => {
      const { records } = req.body as { records: InvocationDoc[] };
      return reply.status(202).send({ kept: await c.invocations.absorbRecords(records) });
    },
  );

  // The model set an ingress worker decides harvesting with (the view lists their versions).
  app.get(
    '/v1/internal/models/:workflow',
    {
      schema: { params: Type.Object({ workflow: Type.String({ minLength: 1, maxLength: 300 }) }) },
    },
    (req) => {
      const set = c.harvest?.modelSet(req.params.workflow) ?? null;
      if (set === null)
        throw new AppError(
          'NOT_FOUND',
          `no model set of ${req.params.workflow} is loaded on this master${c.harvest ? '' : ' (harvesting is off)'}`,
        );
      return set;
    },
  );

  // What an ingress worker plans a workflow's prepares ahead with (docs/guides/chains.md).
  app.get(
    '/v1/internal/chains/:workflow',
    {
      schema: { params: Type.Object({ workflow: Type.String({ minLength: 1, maxLength: 300 }) }) },
    },
    (req) => {
      if (!c.chains)
        throw new AppError('NOT_FOUND', 'adaptive chains are not running on this master');
      return c.chains.kit(req.params.workflow);
    },
  );

  cpuRoute(app);

  app.get(
    '/v1/objects/:key',
    { schema: { params: Type.Object({ key: Type.String() }) } },
    async (req, reply) =>
      reply.type('application/octet-stream').send(c.invocations.inputObject(req.params.key)),
  );

  app.get('/healthz', () => ({
    status: 'ok',
    workers: c.registry.ready().length,
    running: c.invocations.running,
  }));

  // Cluster-wide counts: the cluster admin's (or anyone's with auth off).
  app.get('/metrics', async (req, reply) => {
    authorize(principalOf(req), 'manage-tenants');
    const workers = c.registry.list();
    const lines = [
      '# TYPE faasflow_master_workers gauge',
      ...['ready', 'registering', 'draining', 'dead'].map(
        (s) =>
          `faasflow_master_workers{status="${s}"} ${workers.filter((w) => w.status === s).length}`,
      ),
      '# TYPE faasflow_master_invocations_running gauge',
      `faasflow_master_invocations_running ${c.invocations.running}`,
      '# TYPE faasflow_master_workflows gauge',
      `faasflow_master_workflows ${c.catalog.current().length}`,
      ...(c.channelStats?.metrics('master') ?? []),
    ];
    return reply.type('text/plain; version=0.0.4').send(lines.join('\n') + '\n');
  });
}
