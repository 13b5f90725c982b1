/**
 * What the master's and the worker's fastify apps share: one error handler that turns every
 * failure into `{code, message, details?}` with the right status, a not-found handler, auth by
 * cluster token, and the content-type parsers (binary bodies as Buffers).
 */
import { crashPoint } from './crash.js';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { AppError } from './errors.js';
import { Trigger, TriggerBatch } from './schema/wire.js';

/**
 * A fastify app whose routes read `req.body`, `req.params` and `req.query` as the static types of
 * their TypeBox schemas (fastify validates them before the handler runs), so no route casts.
 */
export type TypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** The same app, typed by its route schemas. */
export function typed(app: FastifyInstance): TypedApp {
  return app.withTypeProvider<TypeBoxTypeProvider>();
}

/** A route as declared: what the fuzzing of every door (bench/fuzz) generates requests from. */
export interface RouteInfo {
  method: string;
  url: string;
  schema: { body?: unknown; params?: unknown; querystring?: unknown };
}

const ROUTES = new WeakMap<FastifyInstance, RouteInfo[]>();

/** The routes declared on `app` after `installErrorHandling` (HEAD twins left out). */
export function routesOf(app: FastifyInstance): readonly RouteInfo[] {
  return ROUTES.get(app) ?? [];
}

export function installErrorHandling(app: FastifyInstance, bodyLimitBytes: number): void {
  const routes: RouteInfo[] = [];
  ROUTES.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      if (method === 'HEAD') continue;
      const s = (r.schema ?? {}) as RouteInfo['schema'];
      routes.push({
        method,
        url: r.url,
        schema: { body: s.body, params: s.params, querystring: s.querystring },
      });
    }
  });
  app.setErrorHandler((err: FastifyError | AppError, req: FastifyRequest, reply: FastifyReply) => {
    const e = toAppError(err, bodyLimitBytes);
    if (e.statusCode >= 500) req.log.error({ err }, 'request failed');
    else req.log.debug({ err: e }, 'request rejected');
    const retryAfterSec = (e.details as { retryAfterSec?: unknown } | undefined)?.retryAfterSec;
    if (e.code === 'LIMIT_EXCEEDED' && typeof retryAfterSec === 'number')
      void reply.header('retry-after', String(retryAfterSec));
    void reply.status(e.statusCode).send(e.toWire());
  });
  app.setNotFoundHandler((req, reply) => {
    void reply
      .status(404)
      .send({ code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}

function toAppError(err: FastifyError | AppError, bodyLimitBytes: number): AppError {
  if (err instanceof AppError) return err;
  const fe = err as FastifyError & { validation?: unknown[]; validationContext?: string };
  if (fe.validation) {
    return new AppError(
      'BAD_REQUEST',
      `invalid request ${fe.validationContext ?? ''}: ${fe.message}`.replace(/ +/g, ' '),
      {
        details: { validation: fe.validation },
      },
    );
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError(
        'PAYLOAD_TOO_LARGE',
        `request body is larger than the limit of ${bodyLimitBytes} bytes (configure bodyLimitBytes to raise it)`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError(
        'UNSUPPORTED_MEDIA_TYPE',
        `${fe.message}; send application/json (or application/yaml where a workflow is expected)`,
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('BAD_REQUEST', 'the JSON body is empty');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('BAD_REQUEST', `malformed JSON body: ${fe.message}`);
    default:
      break;
  }
  if (err instanceof SyntaxError || fe.statusCode === 400)
    return new AppError('BAD_REQUEST', `malformed request: ${err.message}`);
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AppError('BAD_REQUEST', err.message, { statusCode: fe.statusCode });
  }
  return new AppError('INTERNAL', err.message, { cause: err });
}

/**
 * Rejects requests without `authorization: Bearer <token>` (401), except the listed paths, or
 * the requests `open` says pass.
 */
export function requireToken(
  app: FastifyInstance,
  token: string | undefined,
  open: readonly string[] | ((method: string, path: string) => boolean) = ['/healthz'],
): void {
  if (!token) return;
  const passes =
    typeof open === 'function'
      ? open
      : (_method: string, path: string): boolean => open.includes(path);
  app.addHook('onRequest', (req, _reply, done) => {
    if (passes(req.method, req.url.split('?')[0] ?? '')) return done();
    if (!tokenMatches(req.headers.authorization, token)) {
      req.log.warn({ ip: req.ip, url: req.url }, 'rejected request without a valid cluster token');
      return done(
        new AppError(
          'UNAUTHORIZED',
          'missing or wrong cluster token (authorization: Bearer <token>)',
        ),
      );
    }
    done();
  });
}

/** Accepts binary bodies as Buffers. */
export function acceptBinary(app: FastifyInstance): void {
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) =>
    done(null, body),
  );
}

/** Constant-time check of an `authorization: Bearer <token>` header. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const expected = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header ?? '');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** `POST /v1/trigger` (one trigger or `{triggers}`), answered 202 once `accept` has recorded them. */
export function triggerRoute(app: TypedApp, accept: (triggers: Trigger[]) => void): void {
  app.post(
    '/v1/trigger',
    { schema: { body: Type.Union([TriggerBatch, Trigger]) } },
    async (req, reply) => {
      const triggers = 'triggers' in req.body ? req.body.triggers : [req.body];
      accept(triggers);
      crashPoint('worker:after-receive');
      return reply.status(202).send({ accepted: triggers.length });
    },
  );
}

/**
 * `GET /v1/debug/cpu`: this process's CPU time so far (`process.cpuUsage()`, µs) and its pid, so
 * a benchmark can print the CPU each process spent per invocation from two readings.
 */
export function cpuRoute(app: FastifyInstance): void {
  app.get('/v1/debug/cpu', () => {
    const u = process.cpuUsage();
    return { pid: process.pid, userUs: u.user, systemUs: u.system };
  });
}
