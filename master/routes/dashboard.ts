/**
 * What the dashboard needs beyond the API the CLI uses: the paged invocation list and a short
 * description of the cluster for its header; plus the dashboard's static files at /ui.
 */
import { Type, type Static } from '@sinclair/typebox';
import { dashboardRoutes as staticDashboard } from '../../shared/dashboard.js';
import { authorize, principalOf, type Principal } from '../../shared/auth.js';
import { qualify } from '../../shared/tenancy.js';
import type { TypedApp } from '../../shared/http.js';
import type { MasterContext } from './context.js';

const Status = Type.Union([
  Type.Literal('running'),
  Type.Literal('succeeded'),
  Type.Literal('failed'),
  Type.Literal('timed_out'),
  Type.Literal('cancelled'),
]);

const ListQuery = Type.Object(
  {
    workflow: Type.Optional(Type.String({ minLength: 1 })),
    status: Type.Optional(Status),
    tenant: Type.Optional(Type.String({ minLength: 1 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    before: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const Summary = Type.Object({
  invocationId: Type.String(),
  workflow: Type.String(),
  version: Type.Integer(),
  tenant: Type.String(),
  subTenant: Type.Optional(Type.String()),
  status: Status,
  startedAt: Type.String(),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  durationMs: Type.Number(),
  steps: Type.Integer(),
  errorCode: Type.Union([Type.String(), Type.Null()]),
});

const ListReply = Type.Object({
  invocations: Type.Array(Summary),
  total: Type.Integer(),
  next: Type.Union([Type.String(), Type.Null()]),
});

const ClusterReply = Type.Object({
  name: Type.String(),
  mode: Type.String(),
  placement: Type.String(),
  harvest: Type.Boolean(),
  workers: Type.Integer(),
  workflows: Type.Integer(),
  running: Type.Integer(),
});

export function dashboardRoutes(app: TypedApp, c: MasterContext): void {
  app.get(
    '/v1/invocations',
    { schema: { querystring: ListQuery, response: { 200: ListReply } } },
    (req) => {
      const p = principalOf(req);
      authorize(p, 'read');
      const q = req.query;
      // A tenant's key lists its own invocations only; the cluster admin may filter by tenant.
      const tenant = p.cluster ? q.tenant : p.tenant;
      const owner = (tenant ?? p.tenant) as Principal['tenant'];
      return c.invocations.list({
        limit: q.limit,
        ...(q.workflow !== undefined ? { workflow: qualify(owner, q.workflow) } : {}),
        ...(q.status !== undefined ? { status: q.status } : {}),
        ...(tenant !== undefined ? { tenant } : {}),
        ...(q.before !== undefined ? { before: q.before } : {}),
      });
    },
  );

  app.get(
    '/v1/cluster',
    { schema: { response: { 200: ClusterReply } } },
    (req): Static<typeof ClusterReply> => {
      authorize(principalOf(req), 'read');
      return {
        name: c.config.clusterName,
        mode: c.config.mode,
        placement: c.config.placement,
        harvest: c.harvest !== undefined,
        workers: c.registry.ready().length,
        workflows: c.catalog.current().length,
        running: c.invocations.running,
      };
    },
  );

  staticDashboard(app);
}
