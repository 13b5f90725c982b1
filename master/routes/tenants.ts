/**
 * Tenant and key routes (docs/guides/tenants.md): the cluster admin key creates, lists and
 * deletes tenants; a tenant's `admin` key (or the cluster admin) creates, lists and revokes the
 * tenant's keys. A key's secret is in the answer that made it and nowhere else.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authorize, principalOf, ROLES } from '../../shared/auth.js';
import { AppError } from '../../shared/errors.js';
import { splitQualified } from '../../shared/tenancy.js';
import { LIMIT_FIELDS } from '../auth/limits.js';
import type { MasterContext } from './context.js';

const TENANT_PATTERN = '^[a-z0-9][a-z0-9-]{0,62}$';
const Role = Type.Union(ROLES.map((r) => Type.Literal(r)));
const Limits = Type.Partial(
  Type.Object(Object.fromEntries(LIMIT_FIELDS.map((f) => [f, Type.Number({ minimum: 0 })])), {
    additionalProperties: false,
  }),
);
const CreateTenant = Type.Object(
  {
    name: Type.String({ pattern: TENANT_PATTERN }),
    /** Role of the tenant's first key (default admin). */
    role: Type.Optional(Role),
    limits: Type.Optional(Limits),
  },
  { additionalProperties: false },
);
const CreateKey = Type.Union([
  Type.Object({ role: Type.Optional(Role) }, { additionalProperties: false }),
  Type.Null(),
]);
const TenantParams = Type.Object({ name: Type.String({ pattern: TENANT_PATTERN }) });
const KeyParams = Type.Object({
  name: Type.String({ pattern: TENANT_PATTERN }),
  id: Type.String({ minLength: 1, maxLength: 64 }),
});

export function tenantRoutes(app: FastifyInstance, c: MasterContext): void {
  app.post('/v1/tenants', { schema: { body: CreateTenant } }, async (req, reply) => {
    const p = principalOf(req);
    authorize(p, 'manage-tenants');
    const body = req.body as Static<typeof CreateTenant>;
    const made = await c.tenants.createTenant(body.name, {
      ...(body.role === undefined ? {} : { role: body.role }),
      ...(body.limits === undefined ? {} : { limits: body.limits }),
    });
    c.audit.record('tenant.created', { tenant: body.name, by: p.keyId, ip: req.ip });
    c.audit.record('key.created', {
      tenant: body.name,
      key: made.key.id,
      role: made.key.role,
      by: p.keyId,
      ip: req.ip,
    });
    return reply.status(201).send({ tenant: made.tenant, key: made.key, apiKey: made.apiKey });
  });

  app.get('/v1/tenants', (req) => {
    authorize(principalOf(req), 'manage-tenants');
    return { tenants: c.tenants.tenants() };
  });

  app.delete('/v1/tenants/:name', { schema: { params: TenantParams } }, async (req, reply) => {
    const p = principalOf(req);
    authorize(p, 'manage-tenants');
    const { name } = req.params as Static<typeof TenantParams>;
    const { keys } = await c.tenants.deleteTenant(name);
    // Its keys are gone, so nothing new arrives; then its workflows leave every worker.
    const owned = c.catalog.current().filter((v) => splitQualified(v.name).tenant === name);
    for (const v of owned) {
      await c.catalog.remove(v.name);
      c.deployments.forgetWorkflow(v.name);
      await Promise.all(c.registry.ready().map((w) => c.deployments.undeploy(w, v.name)));
    }
    c.audit.record('tenant.deleted', {
      tenant: name,
      keys,
      workflows: owned.length,
      by: p.keyId,
      ip: req.ip,
    });
    return reply.status(204).send();
  });

  app.post(
    '/v1/tenants/:name/keys',
    { schema: { params: TenantParams, body: CreateKey } },
    async (req, reply) => {
      const { name, by } = keyManager(req, c);
      const role = (req.body as Static<typeof CreateKey>)?.role ?? 'invoke';
      const made = await c.tenants.createKey(name, role);
      c.audit.record('key.created', { tenant: name, key: made.key.id, role, by, ip: req.ip });
      return reply.status(201).send({ key: made.key, apiKey: made.apiKey });
    },
  );

  app.get('/v1/tenants/:name/keys', { schema: { params: TenantParams } }, (req) => {
    const { name } = keyManager(req, c);
    return { keys: c.tenants.keys(name) };
  });

  app.delete(
    '/v1/tenants/:name/keys/:id',
    { schema: { params: KeyParams } },
    async (req, reply) => {
      const { name, by } = keyManager(req, c);
      const { id } = req.params as Static<typeof KeyParams>;
      await c.tenants.revokeKey(name, id);
      c.audit.record('key.revoked', { tenant: name, key: id, by, ip: req.ip });
      return reply.status(204).send();
    },
  );
}

/**
 * The tenant whose keys the request manages: the cluster admin may manage any, a tenant's admin
 * key only its own (another tenant's answers 404, as if it did not exist).
 */
function keyManager(req: FastifyRequest, c: MasterContext): { name: string; by: string } {
  const p = principalOf(req);
  authorize(p, 'manage-keys');
  const { name } = req.params as { name: string };
  if (!p.cluster && p.tenant !== name)
    throw new AppError('NOT_FOUND', `tenant ${JSON.stringify(name)} does not exist`);
  c.tenants.tenant(name);
  return { name, by: p.keyId };
}
