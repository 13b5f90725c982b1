/**
 * The worker's public invocation API (docs/design.md §9: the same bodies, answers and errors as
 * the master's) and the routes the ingress needs from the cluster: the placement view the master
 * pushes, and the reports of the invocations this worker coordinates. An id this worker does
 * not coordinate is answered by the master (GET and cancel are forwarded), so a client may read
 * any invocation from any worker.
 */
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { AppError } from '../../shared/errors.js';
import { errorFromResponse, type HttpClient } from '../../shared/http-client.js';
import { publicView } from '../../shared/invocation/record.js';
import { InvokeBody, invocationTimeoutMs, waitAnswer } from '../../shared/schema/invocation-api.js';
import type { InvocationId } from '../../shared/ids.js';
import {
  InvocationIdField,
  PlacementView,
  ReportBatch,
  WORKFLOW_NAME_PATTERN,
} from '../../shared/schema/wire.js';
import type { IngressCoordinator } from './coordinator.js';
import type { ViewHolder } from './view.js';
import { toMaster } from './dashboard.js';

const WORKFLOW_NAME_RE = new RegExp(WORKFLOW_NAME_PATTERN);

export interface IngressRouteDeps {
  coordinator: IngressCoordinator;
  view: ViewHolder;
  http: HttpClient;
}

export function ingressRoutes(app: FastifyInstance, d: IngressRouteDeps): void {
  app.put('/v1/cluster/view', { schema: { body: PlacementView } }, (req) => {
    const v = req.body as PlacementView;
    return { seq: v.seq, taken: d.view.set(v) };
  });

  app.get('/v1/cluster/view', () => {
    const v = d.view.last;
    if (v === undefined)
      throw new AppError('NOT_FOUND', 'this worker has no placement view from the master yet');
    return v;
  });

  app.post('/v1/internal/reports', { schema: { body: ReportBatch } }, async (req, reply) => {
    d.coordinator.accept((req.body as ReportBatch).reports);
    return reply.status(202).send({ accepted: (req.body as ReportBatch).reports.length });
  });

  app.post(
    '/v1/workflows/:name/invocations',
    {
      schema: {
        params: Type.Object({ name: Type.String() }),
        body: Type.Union([InvokeBody, Type.Null()]),
      },
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as InvokeBody;
      if (body.demand !== undefined)
        throw new AppError(
          'CONFLICT',
          'demand is decided by the master (harvesting): POST this invocation to the master',
        );
      const view = d.view.current();
      if (view.auth === true)
        throw new AppError(
          'CONFLICT',
          'this cluster requires API keys, which the worker ingress does not check yet: POST this invocation to the master',
        );
      const name = (req.params as { name: string }).name;
      // Without keys every caller is the default tenant, whose workflows have plain names.
      if (!WORKFLOW_NAME_RE.test(name))
        throw new AppError(
          'WORKFLOW_NOT_FOUND',
          `workflow ${JSON.stringify(name)} is not deployed (workflow names are lower-case letters, digits and -)`,
        );
      if (d.coordinator.composes(name))
        throw new AppError(
          'CONFLICT',
          `workflow ${name} learns its composition on the master: POST this invocation to the master`,
        );
      const timeoutMs = invocationTimeoutMs(body, view);
      const wait = body.wait !== false;
      const r = await d.coordinator.start(name, {
        input: body.input ?? null,
        timeoutMs,
        wait,
        ...(body.idempotencyKey !== undefined ? { idempotencyKey: body.idempotencyKey } : {}),
        ...(body.profile !== undefined ? { profile: body.profile } : {}),
        ...(body.subTenant !== undefined ? { subTenant: body.subTenant } : {}),
        ...(body.session !== undefined ? { session: body.session } : {}),
      });
      if (!wait) return reply.status(202).send({ invocationId: r.id });
      if ('kind' in r) {
        const a = r.answer ?? {};
        return reply.status(200).send({
          invocationId: r.id,
          status: a['status'],
          output: a['status'] === 'succeeded' ? (a['output'] ?? null) : null,
          ...(a['error'] ? { error: a['error'] } : {}),
          durationMs: a['durationMs'],
        });
      }
      await r.done;
      return reply.status(200).send(waitAnswer(r));
    },
  );

  app.get(
    '/v1/invocations/:id',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    async (req, reply) => {
      const id = (req.params as { id: InvocationId }).id;
      // With API keys the master answers, under the caller's own key (this worker coordinates
      // nothing then: it refuses invocations).
      if (d.view.last?.auth === true) {
        const res = await toMaster(d, req.url, req.headers.authorization);
        return reply.status(res.status).type('application/json; charset=utf-8').send(res.body);
      }
      const r = d.coordinator.get(id);
      return r ? publicView(r) : forward(d, 'GET', `/v1/invocations/${encodeURIComponent(id)}`);
    },
  );

  app.post(
    '/v1/invocations/:id/cancel',
    { schema: { params: Type.Object({ id: InvocationIdField }) } },
    async (req, reply) => {
      const id = (req.params as { id: InvocationId }).id;
      // With API keys the master decides, under the caller's own key.
      if (d.view.last?.auth === true) {
        const res = await toMaster(d, req.url, req.headers.authorization, 'POST');
        return reply.status(res.status).type('application/json; charset=utf-8').send(res.body);
      }
      const r = d.coordinator.cancel(id);
      return r
        ? publicView(r, false)
        : forward(d, 'POST', `/v1/invocations/${encodeURIComponent(id)}/cancel`);
    },
  );
}

/** The master's answer to the same request (its errors keep their code and status). */
async function forward(
  d: IngressRouteDeps,
  method: 'GET' | 'POST',
  path: string,
): Promise<unknown> {
  const master = d.view.last?.master;
  if (master === undefined)
    throw new AppError('NO_WORKERS', 'this worker has no placement view from the master yet');
  const res = await d.http.request(`${master}${path}`, {
    method,
    timeoutMs: 10_000,
    ...(method === 'POST' ? { body: '{}', contentType: 'application/json' } : {}),
  });
  if (res.status >= 400) throw errorFromResponse(`${master}${path}`, res.status, res.body);
  return JSON.parse(res.body.toString('utf8')) as unknown;
}
