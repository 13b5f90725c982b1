/**
 * Branded identifiers. They are made only by the parse/new functions here, at the boundary, so a
 * NodeId can never be passed where an InvocationId is expected.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from './errors.js';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type InvocationId = Brand<string, 'InvocationId'>;
export type WorkerId = Brand<string, 'WorkerId'>;
export type NodeId = Brand<string, 'NodeId'>;
export type TenantId = Brand<string, 'TenantId'>;

const INVOCATION_RE = /^inv_[0-9a-z]{10,40}$/;
const WORKER_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NODE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.#-]{0,127}$/;
const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Time-ordered, 26-char random id: 9 chars of base36 millis + 16 random chars. */
export function newInvocationId(nowMs: number = Date.now()): InvocationId {
  const rand = randomBytes(10).toString('hex').slice(0, 16);
  return `inv_${nowMs.toString(36).padStart(9, '0')}${rand}` as InvocationId;
}

function parser<T extends string>(kind: string, re: RegExp) {
  return (value: unknown): T => {
    if (typeof value !== 'string' || !re.test(value)) {
      throw new AppError(
        'BAD_REQUEST',
        `invalid ${kind} ${JSON.stringify(value)}: must match ${re.source}`,
      );
    }
    return value as T;
  };
}

export const parseInvocationId = parser<InvocationId>('invocation id', INVOCATION_RE);
export const parseWorkerId = parser<WorkerId>('worker id', WORKER_RE);
export const parseNodeId = parser<NodeId>('node id', NODE_RE);
export const parseTenantId = parser<TenantId>('tenant id', TENANT_RE);

export const NODE_ID_PATTERN = NODE_RE;
export const DEFAULT_TENANT = 'default' as TenantId;
