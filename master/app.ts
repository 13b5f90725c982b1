/** The master's fastify app (no listen here): parsers, error handling, auth, routes. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installApiKeyAuth } from '../shared/auth.js';
import { installErrorHandling, tokenMatches, typed } from '../shared/http.js';
import type { Logger } from '../shared/logger.js';
import type { ServerTls } from '../shared/tls.js';
import { chainRoutes } from './routes/chains.js';
import { shardRoutes } from './routes/shards.js';
import { clusterRoutes } from './routes/cluster.js';
import { compositionRoutes } from './routes/composition.js';
import type { MasterContext } from './routes/context.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { harvestRoutes } from './routes/harvest.js';
import { tenantRoutes } from './routes/tenants.js';
import { invocationRoutes } from './routes/invocations.js';
import { workflowRoutes } from './routes/workflows.js';

/** Paths workers call; guarded by the cluster token when one is set. */
const CLUSTER_PATHS = ['/v1/workers', '/v1/internal/', '/v1/trigger', '/v1/objects/'];

function isClusterPath(method: string, path: string): boolean {
  return (
    CLUSTER_PATHS.some((p) => path.startsWith(p)) && !(method === 'GET' && path === '/v1/workers')
  );
}

/** Paths anyone may read with auth on: health (probes) and the dashboard's static files. */
function isOpenPath(method: string, path: string): boolean {
  return method === 'GET' && (path === '/healthz' || path === '/ui' || path.startsWith('/ui/'));
}

export function buildMasterApp(
  c: MasterContext,
  logger: Logger,
  o: { https?: ServerTls } = {},
): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
    ...(o.https === undefined ? {} : { https: o.https }),
    bodyLimit: c.config.bodyLimitBytes,
    logController: new LogController({ disableRequestLogging: true }),
  });
  installErrorHandling(app, c.config.bodyLimitBytes);
  app.addContentTypeParser(
    [
      'application/yaml',
      'application/x-yaml',
      'text/yaml',
      'text/plain',
      'text/csv',
      'application/x-ndjson',
    ],
    { parseAs: 'string' },
    (_req, body, done) => done(null, body),
  );
  if (c.config.token !== undefined) {
    const token = c.config.token;
    app.addHook('onRequest', (req, reply, done) => {
      const path = req.url.split('?')[0] ?? '';
      const guarded = isClusterPath(req.method, path);
      if (!guarded || tokenMatches(req.headers.authorization, token)) return done();
      req.log.warn({ ip: req.ip, url: req.url }, 'rejected cluster request without a valid token');
      void reply.status(401).send({
        code: 'UNAUTHORIZED',
        message: 'missing or wrong cluster token (authorization: Bearer <token>)',
      });
    });
  }
  // Client routes take an API key when auth is on (docs/guides/tenants.md); the cluster's own
  // paths are the cluster token's business, above.
  installApiKeyAuth(app, {
    verifier: c.auth ? c.tenants : undefined,
    exempt: (method, path) => isClusterPath(method, path) || isOpenPath(method, path),
    onFailure: (f) =>
      c.audit.record('auth.failed', { ip: f.ip, method: f.method, url: f.url, reason: f.reason }),
  });
  const routes = typed(app);
  tenantRoutes(routes, c);
  workflowRoutes(routes, c);
  invocationRoutes(routes, c);
  clusterRoutes(routes, c);
  harvestRoutes(routes, c);
  compositionRoutes(routes, c);
  chainRoutes(routes, c);
  shardRoutes(routes, c);
  dashboardRoutes(routes, c);
  return app;
}
