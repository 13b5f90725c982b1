/**
 * How tenants namespace what the cluster holds (docs/guides/tenants.md). Inside the cluster a
 * workflow is known by its qualified name: `<tenant>.<name>`, or just `<name>` for the `default`
 * tenant, so everything keyed by workflow name (catalogue, versions, deployments, invocation
 * records, idempotency keys, profiles, models) is per tenant without a second key, and what was
 * stored before tenants existed is the `default` tenant's, unchanged. Neither a tenant nor a
 * workflow name may contain `.`, so a qualified name always splits back into its parts.
 */
import { AppError } from './errors.js';
import { DEFAULT_TENANT, type TenantId } from './ids.js';

const PART = '[a-z0-9][a-z0-9-]{0,62}';
/** A qualified workflow name (what workers and stores see). */
export const QUALIFIED_WORKFLOW_PATTERN = `^(?:${PART}\\.)?${PART}$`;
const QUALIFIED_RE = new RegExp(QUALIFIED_WORKFLOW_PATTERN);

/** An end user of a tenant, recorded on invocations, profiles and decisions. */
export const SUB_TENANT_PATTERN = '^[A-Za-z0-9._-]{1,64}$';

export function qualify(tenant: string, name: string): string {
  return tenant === DEFAULT_TENANT ? name : `${tenant}.${name}`;
}

/** A composition variant's deployment suffix (`<name>~<i>`, master/compose/variants.ts). */
const VARIANT_SUFFIX_RE = /~[1-9][0-9]{0,2}$/;

/** The tenant and public name of a qualified name (a variant's `~<i>` suffix is dropped). */
export function splitQualified(deployed: string): { tenant: TenantId; name: string } {
  const qualified = deployed.replace(VARIANT_SUFFIX_RE, '');
  if (!QUALIFIED_RE.test(qualified))
    throw new AppError(
      'BAD_REQUEST',
      `invalid workflow name ${JSON.stringify(qualified)}: must match ${QUALIFIED_WORKFLOW_PATTERN}`,
    );
  const dot = qualified.indexOf('.');
  return dot < 0
    ? { tenant: DEFAULT_TENANT, name: qualified }
    : { tenant: qualified.slice(0, dot) as TenantId, name: qualified.slice(dot + 1) };
}

export function tenantOfWorkflow(qualified: string): TenantId {
  return splitQualified(qualified).tenant;
}

/** What `checkTriggerTenancy` reads of a trigger (structurally, so wire.ts may import this file). */
interface TriggerLike {
  invocationId: string;
  workflow: string;
  ctx: { tenant: string };
  ref?: { tier: string; key?: string; worker?: string } | undefined;
}

/**
 * Refuses (FORBIDDEN) a trigger whose workflow is not its invocation's tenant's, or whose data
 * reference names another tenant's or another invocation's object: a worker runs a tenant's
 * functions on that tenant's data only. Object keys are `<tenant>:<invocationId>:<key>`
 * (faastore/keys.ts); the master's input objects are `input:<invocationId>:<nonce>`.
 */
export function checkTriggerTenancy(t: TriggerLike): void {
  const owner = splitQualified(t.workflow).tenant;
  if (owner !== t.ctx.tenant)
    throw new AppError(
      'FORBIDDEN',
      `trigger of invocation ${t.invocationId}: workflow ${t.workflow} belongs to tenant ${owner}, not to the invocation's tenant ${t.ctx.tenant}`,
    );
  const key = t.ref === undefined || t.ref.tier === 'inline' ? undefined : t.ref.key;
  if (key === undefined) return;
  const [scope, invocation] = key.split(':');
  const fromMaster = scope === 'input' && t.ref?.worker === 'master';
  if ((scope !== t.ctx.tenant && !fromMaster) || invocation !== t.invocationId)
    throw new AppError(
      'FORBIDDEN',
      `trigger of invocation ${t.invocationId} (tenant ${t.ctx.tenant}) refers to object ${key}, which is not that invocation's`,
    );
}
