/**
 * The public invocation API's bodies and answers (docs/design.md §9), one definition for the
 * master's routes and every worker's ingress, so both keep the same contract.
 */
import { Type, type Static } from '@sinclair/typebox';
import { AppError } from '../errors.js';
import { compositionView, publicView, type InvocationRecord } from '../invocation/record.js';
import { SUB_TENANT_PATTERN } from '../tenancy.js';

export const InvokeBody = Type.Object(
  {
    input: Type.Optional(Type.Unknown()),
    wait: Type.Optional(Type.Boolean()),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1 })),
    /** The same key (per workflow, for 24 h) returns the same invocation, never a second run. */
    idempotencyKey: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, pattern: '^[\\x21-\\x7e]+$' }),
    ),
    /** Harvesting: a profiling run, every task node at the maximum allocation. */
    profile: Type.Optional(Type.Boolean()),
    /** Harvesting: the data size the models see for this input (default: its encoded size). */
    dataBytes: Type.Optional(Type.Integer({ minimum: 0 })),
    /** The tenant's own end user this invocation is for; recorded on it, its profiles and decisions. */
    subTenant: Type.Optional(Type.String({ pattern: SUB_TENANT_PATTERN })),
    /**
     * Adaptive chains: the caller's session; a workflow that follows this one in the same
     * session is learned as its successor (docs/guides/chains.md).
     */
    session: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    /** Harvesting: the demand of task nodes, decided from instead of the models' predictions. */
    demand: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object(
          {
            cpuCores: Type.Number({ minimum: 0 }),
            memoryMb: Type.Number({ minimum: 0 }),
            cpuTimeMs: Type.Optional(Type.Number({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type InvokeBody = Static<typeof InvokeBody>;

/** How long an idempotency key keeps naming its invocation. */
export const IDEMPOTENCY_TTL_MS = 24 * 3_600_000;

/** The caller's timeout, or the default; 400 over the cluster's limit. */
export function invocationTimeoutMs(
  body: InvokeBody,
  limits: { defaultTimeoutMs: number; maxTimeoutMs: number },
): number {
  const timeoutMs = body.timeoutMs ?? limits.defaultTimeoutMs;
  if (timeoutMs > limits.maxTimeoutMs)
    throw new AppError(
      'BAD_REQUEST',
      `timeoutMs ${timeoutMs} is over the limit of ${limits.maxTimeoutMs} ms`,
    );
  return timeoutMs;
}

/** The answer of a `wait: true` invocation once it has ended. */
export function waitAnswer(r: InvocationRecord): Record<string, unknown> {
  const view = publicView(r, false);
  return {
    invocationId: r.id,
    status: r.status,
    output: r.status === 'succeeded' ? (r.output ?? null) : null,
    ...(r.error ? { error: r.error } : {}),
    ...(r.composition ? { composition: compositionView(r.composition) } : {}),
    durationMs: view['durationMs'],
  };
}
