/**
 * Per-tenant limits (docs/guides/tenants.md): concurrent invocations, invocations per second
 * (a token bucket), workflow size and deployed versions. Pure over a clock: `LimitGate` decides
 * and counts, the routes turn a refusal into 429 LIMIT_EXCEEDED with `Retry-After` before
 * anything is done, so a refused request leaves nothing behind.
 */
import { AppError } from '../../shared/errors.js';

export interface TenantLimits {
  /** Invocations running at once; 0 = no limit. */
  maxConcurrent: number;
  /** Sustained invocations per second (the bucket's refill); 0 = no limit. */
  invocationsPerSec: number;
  /** The bucket's size: invocations that may start at once after a quiet spell. */
  burst: number;
  /** Bytes of a workflow upload (YAML and handler files); 0 = no limit. */
  maxWorkflowBytes: number;
  /** Versions kept per workflow of the tenant; 0 = no limit. */
  maxVersions: number;
}

export const LIMIT_FIELDS = [
  'maxConcurrent',
  'invocationsPerSec',
  'burst',
  'maxWorkflowBytes',
  'maxVersions',
] as const satisfies readonly (keyof TenantLimits)[];

export function limitsOf(
  defaults: TenantLimits,
  overrides: Partial<TenantLimits> | undefined,
): TenantLimits {
  return { ...defaults, ...(overrides ?? {}) };
}

/** 429 with the seconds to wait (for `Retry-After`) in details. */
export function limitExceeded(message: string, retryAfterSec: number): AppError {
  return new AppError('LIMIT_EXCEEDED', message, {
    details: { retryAfterSec: Math.max(1, Math.ceil(retryAfterSec)) },
  });
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Admission of invocations per tenant: a token bucket and a count of the running ones. */
export class LimitGate {
  private readonly buckets = new Map<string, Bucket>();
  private readonly running = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Admits one invocation of `tenant` or throws LIMIT_EXCEEDED; an admitted one holds a slot
   * until the returned release is called (once; later calls do nothing).
   */
  admit(tenant: string, l: TenantLimits): () => void {
    const running = this.running.get(tenant) ?? 0;
    if (l.maxConcurrent > 0 && running >= l.maxConcurrent)
      throw limitExceeded(
        `tenant ${tenant} has ${running} invocations running, its limit (maxConcurrent ${l.maxConcurrent}); retry when one has finished`,
        1,
      );
    if (l.invocationsPerSec > 0) {
      const t = this.now();
      const size = Math.max(1, l.burst);
      const b = this.buckets.get(tenant) ?? { tokens: size, at: t };
      const tokens = Math.min(size, b.tokens + ((t - b.at) / 1000) * l.invocationsPerSec);
      if (tokens < 1) {
        this.buckets.set(tenant, { tokens, at: t });
        throw limitExceeded(
          `tenant ${tenant} is over its rate (invocationsPerSec ${l.invocationsPerSec}, burst ${size})`,
          (1 - tokens) / l.invocationsPerSec,
        );
      }
      this.buckets.set(tenant, { tokens: tokens - 1, at: t });
    }
    this.running.set(tenant, running + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.running.get(tenant) ?? 1) - 1;
      if (n <= 0) this.running.delete(tenant);
      else this.running.set(tenant, n);
    };
  }

  runningOf(tenant: string): number {
    return this.running.get(tenant) ?? 0;
  }
}
