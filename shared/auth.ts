/**
 * API keys and roles of the client API, as a reusable fastify hook over a key-verifier port
 * (docs/guides/tenants.md). The master verifies keys against its tenant directory; any other
 * process with public routes (a worker's invocation routes) installs the same hook with its own
 * verifier.
 *
 * Invariants:
 * - a key's secret is never stored or logged: only `hashKey(key)` is, and it is compared in
 *   constant time;
 * - a key names its own id (`ffk_<id>_<secret>`), so a verifier finds its record in O(1) and
 *   a listing can show ids without secrets;
 * - every request past the hook carries a principal (auth off: the cluster admin of the
 *   `default` tenant), so routes authorise by role alone and never by "is auth on".
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from './errors.js';
import { DEFAULT_TENANT, type TenantId } from './ids.js';

export const ROLES = ['admin', 'deploy', 'invoke', 'read'] as const;
export type Role = (typeof ROLES)[number];

/**
 * What a request does. `manage-tenants` belongs to the cluster's admin key alone; a tenant's
 * `admin` key manages its own tenant's keys.
 */
export type Action = 'manage-tenants' | 'manage-keys' | 'deploy' | 'invoke' | 'read';

const ALLOWED: { readonly [R in Role]: readonly Action[] } = {
  admin: ['manage-keys', 'deploy', 'invoke', 'read'],
  deploy: ['deploy', 'invoke', 'read'],
  invoke: ['invoke', 'read'],
  read: ['read'],
};

/** Who a request acts as. */
export interface Principal {
  tenant: TenantId;
  role: Role;
  /** The key's id, for audit lines; `admin` for the cluster's admin key, `none` with auth off. */
  keyId: string;
  /** The cluster's admin key (or auth off): may manage tenants and act in any tenant's name. */
  cluster: boolean;
}

/** The port a process verifies presented keys through. */
export interface KeyVerifier {
  /** The key's principal, or undefined when it is unknown, revoked or wrong. No I/O. */
  verify(key: string): Principal | undefined;
}

/** With auth off every request acts as this. */
export const OPEN_PRINCIPAL: Principal = {
  tenant: DEFAULT_TENANT,
  role: 'admin',
  keyId: 'none',
  cluster: true,
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function allows(p: Principal, action: Action): boolean {
  return p.cluster || ALLOWED[p.role].includes(action);
}

/** Throws FORBIDDEN naming the role and what it may do. */
export function authorize(p: Principal, action: Action): void {
  if (allows(p, action)) return;
  throw new AppError(
    'FORBIDDEN',
    action === 'manage-tenants'
      ? 'managing tenants needs the cluster admin key (--admin-key-file of the master)'
      : `a ${p.role} key may not ${action}; ${p.role} may ${ALLOWED[p.role].join(', ')}`,
    { details: { role: p.role, action } },
  );
}

const KEY_RE = /^ffk_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;

/** A new key: `ffk_<12 hex id>_<32 chars of base64url, 192 random bits>`. */
export function newApiKey(): { id: string; key: string } {
  const id = randomBytes(6).toString('hex');
  return { id, key: `ffk_${id}_${randomBytes(24).toString('base64url')}` };
}

/** The id a key names, or undefined when it is not in the key format. */
export function keyIdOf(key: string): string | undefined {
  return KEY_RE.exec(key)?.[1];
}

/** What is stored of a key: sha256 (hex). The key has 192 random bits, so no slow hash is needed. */
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Constant-time comparison of two `hashKey` results. */
export function hashesMatch(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The key of an `authorization: Bearer <key>` header, if it has that form. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header ?? '');
  return m?.[1];
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `installApiKeyAuth` on every request it lets through. */
    principal?: Principal;
  }
}

/** A refused request, for the audit log: who called, what, and why. */
export interface AuthFailure {
  ip: string;
  method: string;
  url: string;
  reason: 'missing' | 'invalid';
}

export interface ApiKeyAuthOptions {
  /** Undefined: auth is off and every request acts as OPEN_PRINCIPAL. */
  verifier: KeyVerifier | undefined;
  /** Requests this says are not client requests pass without a key (and without a principal). */
  exempt: (method: string, path: string) => boolean;
  onFailure?: (f: AuthFailure) => void;
}

/** Rejects client requests without a valid key (401 UNAUTHORIZED) and sets `req.principal`. */
export function installApiKeyAuth(app: FastifyInstance, o: ApiKeyAuthOptions): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const path = req.url.split('?')[0] ?? '';
    if (o.exempt(req.method, path)) return done();
    if (o.verifier === undefined) {
      req.principal = OPEN_PRINCIPAL;
      return done();
    }
    const key = bearerOf(req.headers.authorization);
    const p = key === undefined ? undefined : o.verifier.verify(key);
    if (p === undefined) {
      const reason = key === undefined ? 'missing' : 'invalid';
      o.onFailure?.({ ip: req.ip, method: req.method, url: path, reason });
      return done(
        new AppError(
          'UNAUTHORIZED',
          reason === 'missing'
            ? 'this master requires an API key: send authorization: Bearer <key> (faasflow: --api-key or FAASFLOW_API_KEY)'
            : 'the API key is unknown or revoked',
        ),
      );
    }
    req.principal = p;
    done();
  });
}

/** The request's principal; a route reached without the hook's approval is a bug. */
export function principalOf(req: FastifyRequest): Principal {
  if (req.principal === undefined)
    throw new AppError('INTERNAL', `route ${req.url} ran without an authenticated principal`);
  return req.principal;
}
