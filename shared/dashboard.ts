/**
 * Serves the dashboard's built files (dist/dashboard: index.html, app.js, style.css) at `/ui`.
 * Needs nothing of the master, so a worker with ingress can register it too.
 *
 * The files are read once at registration and served from memory: no path from a request ever
 * reaches the filesystem, so there is nothing to traverse. The page loads only from this origin
 * (the Content-Security-Policy says so), which keeps it working with no network at run time.
 * The API it calls keeps its own auth; these files hold no data and are public.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { TypedApp } from './http.js';

export interface DashboardOptions {
  /** Folder of the built dashboard. Default: dist/dashboard next to this module's build. */
  root?: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json; charset=utf-8',
};

const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** The built dashboard: compiled (dist/shared → dist/dashboard) or from sources (→ dist/dashboard). */
export function dashboardRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [resolve(here, '..', 'dashboard'), resolve(here, '..', 'dist', 'dashboard')];
  return candidates.find((d) => existsSync(join(d, 'app.js'))) ?? candidates[0]!;
}

export function dashboardRoutes(app: TypedApp, o: DashboardOptions = {}): void {
  const root = o.root ?? dashboardRoot();
  const files = new Map<string, { body: Buffer; type: string }>();
  if (existsSync(join(root, 'index.html'))) {
    for (const name of readdirSync(root)) {
      const type = TYPES[extname(name)];
      if (type) files.set(name, { body: readFileSync(join(root, name)), type });
    }
  } else {
    app.log.warn({ root }, 'dashboard not built; /ui answers 503');
  }

  app.get('/ui', (_req, reply) => reply.redirect('/ui/', 302));
  app.get('/ui/', (_req, reply) => send(reply, 'index.html'));
  app.get('/ui/:file', { schema: { params: Type.Object({ file: Type.String() }) } }, (req, reply) =>
    send(reply, req.params.file),
  );

  function send(reply: FastifyReply, name: string): FastifyReply {
    const f = files.get(name);
    if (!f) {
      const built = files.size > 0;
      return reply
        .status(built ? 404 : 503)
        .type('text/plain; charset=utf-8')
        .send(
          built
            ? `no dashboard file ${name}`
            : `the dashboard is not built (no ${join(root, 'index.html')}); run npm run build`,
        );
    }
    return reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .type(f.type)
      .send(f.body);
  }
}
