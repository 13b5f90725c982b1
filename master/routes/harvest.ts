/**
 * Harvesting routes (docs/harvesting.md): profile export (CSV or JSON lines, streamed page by
 * page from the store) and import, the model sets with their held-out accuracy, and training on
 * demand. All answer 409 CONFLICT when the master runs with harvesting off.
 */
import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { authorize, principalOf } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import type { TypedApp } from '../../shared/http.js';
import { qualify, splitQualified } from '../../shared/tenancy.js';
import type { Harvester } from '../harvest/harvester.js';
import {
  formatProfileCsv,
  formatProfileJson,
  parseProfileCsv,
  parseProfileJson,
  PROFILE_CSV_COLUMNS,
  type ProfileRecord,
} from '../harvest/profile.js';
import { WORKFLOW_NAME_RE } from '../workflow/limits.js';
import type { MasterContext } from './context.js';

/** Records read from the store per page of an export. */
const EXPORT_PAGE = 1000;

const Params = Type.Object({ name: Type.String() });
const ExportQuery = Type.Object(
  {
    format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('json')])),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const ImportQuery = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('csv'), Type.Literal('json')])) },
  { additionalProperties: false },
);

export function harvestRoutes(app: TypedApp, c: MasterContext): void {
  app.get(
    '/v1/workflows/:name/profiles',
    { schema: { params: Params, querystring: ExportQuery } },
    async (req, reply) => {
      const h = harvesting(c);
      const name = workflowName(req);
      const q = req.query;
      const stats = await h.store.profileStats(name);
      if (stats.stored === 0) known(c, name);
      const offset = q.offset ?? 0;
      const count = Math.max(0, Math.min(q.limit ?? Infinity, stats.stored - offset));
      const csv = (q.format ?? 'csv') === 'csv';
      const body = Readable.from(pages(h, name, offset, count, csv));
      return reply
        .type(csv ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('x-faasflow-records', String(count))
        .header('x-faasflow-records-stored', String(stats.stored))
        .send(body);
    },
  );

  app.post(
    '/v1/workflows/:name/profiles',
    { schema: { params: Params, querystring: ImportQuery } },
    async (req) => {
      const h = harvesting(c);
      const name = workflowName(req);
      const q = req.query;
      const records = readRecords(req.body, q.format, req.headers['content-type']);
      const profiles = await h.importProfiles(name, records);
      return { workflow: splitQualified(name).name, imported: records.length, profiles };
    },
  );

  app.get('/v1/workflows/:name/models', { schema: { params: Params } }, async (req) => {
    const h = harvesting(c);
    const name = workflowName(req);
    const view = await h.view(name);
    if (view.current === null && view.profiles.stored === 0) known(c, name);
    return view;
  });

  app.post('/v1/workflows/:name/models/train', { schema: { params: Params } }, async (req) => {
    const h = harvesting(c);
    const name = workflowName(req);
    return h.train(name);
  });
}

function harvesting(c: MasterContext): Harvester {
  if (!c.harvest)
    throw new AppError(
      'CONFLICT',
      'harvesting is off on this master; start it with --harvest on --redis-url redis://HOST:6379',
    );
  return c.harvest;
}

/** The qualified name of the request's workflow; profile imports and training need `deploy`. */
function workflowName(req: FastifyRequest): string {
  const p = principalOf(req);
  authorize(p, req.method === 'GET' ? 'read' : 'deploy');
  const name = (req.params as { name: string }).name;
  if (!WORKFLOW_NAME_RE.test(name))
    throw new AppError(
      'BAD_REQUEST',
      `${JSON.stringify(name)} is not a workflow name; lower-case letters, digits and -, at most 63`,
    );
  return qualify(p.tenant, name);
}

/** Throws WORKFLOW_NOT_FOUND unless the workflow is deployed (used when nothing is stored). */
function known(c: MasterContext, name: string): void {
  c.catalog.latest(name);
}

async function* pages(
  h: Harvester,
  name: string,
  offset: number,
  count: number,
  csv: boolean,
): AsyncGenerator<string> {
  if (csv) yield PROFILE_CSV_COLUMNS.join(',') + '\n';
  for (let at = offset; at < offset + count; at += EXPORT_PAGE) {
    const page = await h.store.readProfiles(name, at, Math.min(EXPORT_PAGE, offset + count - at));
    if (page.length === 0) return;
    if (csv) {
      const text = formatProfileCsv(page);
      yield text.slice(text.indexOf('\n') + 1);
    } else yield formatProfileJson(page);
  }
}

function readRecords(
  body: unknown,
  format: 'csv' | 'json' | undefined,
  contentType: string | undefined,
): ProfileRecord[] {
  if (Array.isArray(body)) return parseProfileJson(JSON.stringify(body));
  if (typeof body !== 'string')
    throw new AppError(
      'BAD_REQUEST',
      `send profile records as text/csv, as application/x-ndjson (one JSON record per line) or as a JSON array (got ${contentType ?? 'no content type'})`,
    );
  const csv = format ? format === 'csv' : (contentType ?? '').startsWith('text/csv');
  return csv ? parseProfileCsv(body) : parseProfileJson(body);
}
