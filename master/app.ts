/** The master's fastify app (no listen here): parsers, error handling, auth, routes. */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { installErrorHandling, tokenMatches, typed } from '../shared/http.js';
import type { Logger } from '../shared/logger.js';
import { clusterRoutes } from './routes/cluster.js';
import { compositionRoutes } from './routes/composition.js';
import type { MasterContext } from './routes/context.js';
import { dashboardRoutes } from './routes/dashboard.js';
import { harvestRoutes } from './routes/harvest.js';
import { invocationRoutes } from './routes/invocations.js';
import { workflowRoutes } from './routes/workflows.js';

/** Paths workers call; guarded by the cluster token when one is set. */
const CLUSTER_PATHS = ['/v1/workers', '/v1/internal/', '/v1/trigger', '/v1/objects/'];

export function buildMasterApp(c: MasterContext, logger: Logger): FastifyInstance {
  const loggerInstance: FastifyBaseLogger = logger;
  const app = Fastify({
    loggerInstance,
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
      const guarded =
        CLUSTER_PATHS.some((p) => path.startsWith(p)) &&
        !(req.method === 'GET' && path === '/v1/workers');
      if (!guarded || tokenMatches(req.headers.authorization, token)) return done();
      req.log.warn({ ip: req.ip, url: req.url }, 'rejected cluster request without a valid token');
      void reply.status(401).send({
        code: 'UNAUTHORIZED',
        message: 'missing or wrong cluster token (authorization: Bearer <token>)',
      });
    });
  }
  const routes = typed(app);
  workflowRoutes(routes, c);
  invocationRoutes(routes, c);
  clusterRoutes(routes, c);
  harvestRoutes(routes, c);
  compositionRoutes(routes, c);
  dashboardRoutes(routes, c);
  return app;
}
