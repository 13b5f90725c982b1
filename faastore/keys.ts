/**
 * How FaaStore names things. Object keys are `<tenant>:<invocationId>:<key>`; the tracking group
 * of one worker's objects for one invocation is `<invocationId>:<workerId>` (invocation ids are
 * globally unique, so the tenant is not needed to release). No part may contain `:`, so a key
 * can always be split back into its parts.
 */
import { AppError } from '../shared/errors.js';
import type { InvocationId } from '../shared/ids.js';

const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const INVOCATION_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const OBJECT_KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.#-]{0,199}$/;

export function checkTenant(tenant: string, where: string): string {
  if (!TENANT_RE.test(tenant)) {
    throw new AppError(
      'BAD_REQUEST',
      `${where}: invalid tenant ${JSON.stringify(tenant)}; must match ${TENANT_RE.source}`,
    );
  }
  return tenant;
}

export function checkInvocationId(invocationId: string, where: string): InvocationId {
  if (!INVOCATION_RE.test(invocationId)) {
    throw new AppError(
      'BAD_REQUEST',
      `${where}: invalid invocation id ${JSON.stringify(invocationId)}; must match ${INVOCATION_RE.source}`,
    );
  }
  return invocationId as InvocationId;
}

export function objectKey(tenant: string, invocationId: InvocationId, key: string): string {
  checkTenant(tenant, 'put');
  checkInvocationId(invocationId, 'put');
  if (!OBJECT_KEY_RE.test(key)) {
    throw new AppError(
      'BAD_REQUEST',
      `put: invalid object key ${JSON.stringify(key)}; must match ${OBJECT_KEY_RE.source} (a node id or node#index)`,
    );
  }
  return `${tenant}:${invocationId}:${key}`;
}

export function groupOf(invocationId: InvocationId, workerId: string): string {
  return `${invocationId}:${workerId}`;
}

export function isTenantName(value: string): boolean {
  return TENANT_RE.test(value);
}
