/**
 * The dashboard on an ingress worker (docs/dashboard.md): the same page as the master's at
 * `/ui`, and the read routes it calls answered by the view's master. The worker holds none of
 * the lists (workflows, invocations, workers, models, compositions), so it passes each GET on to
 * the master with the client's own `authorization` header and hands back the master's status
 * and body: what a key may see is decided by the master alone, exactly as on the master's own
 * page. The one addition is `ingress` (this worker's id) in `GET /v1/cluster`, so the page can
 * say where it is served from.
 *
 * Invariants: only GETs of the listed routes are passed on (nothing that writes); the request's
 * path and query go to the master unchanged, to the master of the last placement view only.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { dashboardRoutes } from '../../shared/dashboard.js';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import type { HttpClient } from '../../shared/http-client.js';
import type { ViewHolder } from './view.js';

/** Routes of the master's client API the dashboard reads (fastify route syntax). */
export const DASHBOARD_READ_ROUTES = [
  '/v1/workflows',
  '/v1/workflows/:name',
  '/v1/workflows/:name/models',
  '/v1/workflows/:name/composition',
  '/v1/invocations',
  '/v1/workers',
] as const;

const READ_PATHS: readonly RegExp[] = [
  /^\/v1\/cluster$/,
  /^\/v1\/workflows$/,
  /^\/v1\/workflows\/[^/]+$/,
  /^\/v1\/workflows\/[^/]+\/(models|composition)$/,
  /^\/v1\/invocations$/,
  /^\/v1\/workers$/,
];

/**
 * Requests the master judges (so the worker's cluster token does not guard them): the
 * dashboard's files, which hold no data, and the reads passed on to the master.
 */
export function isDashboardRequest(method: string, path: string): boolean {
  if (method !== 'GET') return false;
  if (path === '/ui' || path.startsWith('/ui/')) return true;
  return READ_PATHS.some((re) => re.test(path));
}

export interface WorkerDashboardDeps {
  workerId: string;
  view: ViewHolder;
  http: HttpClient;
}

export function workerDashboardRoutes(app: TypedApp, d: WorkerDashboardDeps): void {
  dashboardRoutes(app);
  for (const route of DASHBOARD_READ_ROUTES)
    app.get(route, (req, reply) => passOn(d, req, reply, undefined));
  app.get('/v1/cluster', (req, reply) =>
    passOn(d, req, reply, (body) => ({ ...body, ingress: d.workerId })),
  );
}

async function passOn(
  d: WorkerDashboardDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  amend: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined,
): Promise<FastifyReply> {
  const res = await toMaster(d, req.url, req.headers.authorization);
  if (amend === undefined || res.status !== 200)
    return reply.status(res.status).type('application/json; charset=utf-8').send(res.body);
  return reply
    .status(200)
    .send(amend(JSON.parse(res.body.toString('utf8')) as Record<string, unknown>));
}

/** The master's answer to the same request (GET, or a bodiless POST) with the client's `authorization` (or none). */
export async function toMaster(
  d: Pick<WorkerDashboardDeps, 'view' | 'http'>,
  url: string,
  authorization: string | undefined,
  method: 'GET' | 'POST' = 'GET',
): Promise<{ status: number; body: Buffer }> {
  const master = d.view.last?.master;
  if (master === undefined)
    throw new AppError(
      'NO_WORKERS',
      'this worker has no placement view from the master yet; retry shortly, or open the master',
    );
  return d.http.request(`${master}${url}`, {
    method,
    timeoutMs: 10_000,
    authorization: authorization ?? null,
    ...(method === 'POST' ? { body: '{}', contentType: 'application/json' } : {}),
  });
}
