/**
 * The worker's one Sandbox: a router that sends each function to its tier (`isolation:` in the
 * workflow; docs/design.md §6). The worker's configured sandbox (`runtime: process | docker`) is
 * the base: a function without `isolation` runs there, except an `image:` function, which needs
 * containers. Every other tier is opened on the first deployment that asks for it, once.
 *
 * Invariants: a deployment key lives in exactly one tier, the one it was deployed to; requests,
 * resizes and undeploys go to that tier; a resize names a sandbox that one tier owns; `close()`
 * closes every tier opened, once. `kind` is the base's (what the worker registers as runtime).
 */
import type { FunctionSpec, Isolation } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { PreparedReport } from './pool.js';
import type {
  FunctionDeployment,
  RunRef,
  RunRequest,
  RunResult,
  Sandbox,
  SandboxStats,
} from './types.js';

/** A tier's sandbox, as the router needs it: it says which sandboxes and runs are its. */
export interface TierSandbox extends Sandbox {
  owns(sandboxId: string): boolean;
  holds(run: RunRef): boolean;
}

/** Opens the sandbox of a tier other than the base; may answer with another tier's (a fallback). */
export type TierOpener = (tier: Isolation) => Promise<TierSandbox>;

export class TieredSandbox implements Sandbox {
  readonly kind: 'process' | 'docker';
  private readonly tiers = new Map<Isolation, Promise<TierSandbox>>();
  private readonly byKey = new Map<string, TierSandbox>();
  private closing: Promise<void> | null = null;

  constructor(
    private readonly base: TierSandbox & { kind: 'process' | 'docker' },
    private readonly open: TierOpener,
  ) {
    this.kind = base.kind;
    this.tiers.set(base.kind, Promise.resolve(base));
  }

  /** The tier a function runs in on this worker. */
  tierOf(fn: FunctionSpec): Isolation {
    if (fn.isolation !== undefined) return fn.isolation;
    return fn.source.kind === 'image' ? 'docker' : this.base.kind;
  }

  /** The tiers opened so far, by what each was asked for → the kind that serves it. */
  async opened(): Promise<Record<string, Isolation>> {
    const out: Record<string, Isolation> = {};
    for (const [tier, sandbox] of this.tiers) out[tier] = (await sandbox).kind;
    return out;
  }

  async deploy(d: FunctionDeployment, options?: { prewarm?: number }): Promise<void> {
    this.assertOpen();
    const tier = await this.sandboxOf(this.tierOf(d.fn));
    const held = this.byKey.get(d.key);
    if (held !== undefined && held !== tier) {
      throw new AppError(
        'CONFLICT',
        `function ${d.key} is deployed in the ${held.kind} tier already; undeploy it before deploying it to ${tier.kind}`,
        { details: { key: d.key, deployed: held.kind, asked: tier.kind } },
      );
    }
    await tier.deploy(d, options);
    this.byKey.set(d.key, tier);
  }

  run(key: string, req: RunRequest): Promise<RunResult> {
    const tier = this.byKey.get(key);
    if (tier === undefined) {
      return Promise.reject(
        new AppError('NOT_FOUND', `function ${key} is not deployed on this sandbox`, {
          details: { key, deployed: [...this.byKey.keys()] },
        }),
      );
    }
    return tier.run(key, req);
  }

  async resize(sandboxId: string, allocation: Allocation): Promise<void> {
    for (const tier of await this.all()) {
      if (tier.owns(sandboxId)) return tier.resize(sandboxId, allocation);
    }
    throw new AppError('NOT_FOUND', `sandbox ${sandboxId} is not running on this worker`, {
      details: { sandboxId },
    });
  }

  async resizeRun(run: RunRef, change: { cpu: number }): Promise<boolean> {
    for (const tier of await this.all()) {
      if (tier.holds(run)) return tier.resizeRun(run, change);
    }
    // Validation (a bad cpu value) is the base's to report, found or not.
    return this.base.resizeRun(run, change);
  }

  async prepareAhead(key: string, ttlMs: number, want = 1, needBy?: number): Promise<boolean> {
    const tier = this.byKey.get(key);
    return tier?.prepareAhead ? tier.prepareAhead(key, ttlMs, want, needBy) : false;
  }

  expectRun(key: string): void {
    this.byKey.get(key)?.expectRun?.(key);
  }

  takePreparedReport(): Record<string, PreparedReport> {
    const out: Record<string, PreparedReport> = {};
    for (const tier of new Set([this.base, ...this.byKey.values()]))
      Object.assign(out, tier.takePreparedReport?.() ?? {});
    return out;
  }

  async undeploy(key: string): Promise<void> {
    const tier = this.byKey.get(key);
    if (tier === undefined) return;
    this.byKey.delete(key);
    await tier.undeploy(key);
  }

  stats(): SandboxStats {
    const out: SandboxStats = { sandboxes: 0, busy: 0, perFunction: {} };
    for (const tier of new Set([this.base, ...this.byKey.values()])) {
      const s = tier.stats();
      out.sandboxes += s.sandboxes;
      out.busy += s.busy;
      Object.assign(out.perFunction, s.perFunction);
    }
    return out;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const tiers = await Promise.allSettled([...this.tiers.values()]);
      const open = new Set(tiers.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : [])));
      await Promise.all([...open].map((t) => t.close()));
    })();
    return this.closing;
  }

  private sandboxOf(tier: Isolation): Promise<TierSandbox> {
    let sandbox = this.tiers.get(tier);
    if (sandbox === undefined) {
      sandbox = this.open(tier);
      // A tier that failed to open is asked for again by the next deployment.
      sandbox.catch(() => this.tiers.delete(tier));
      this.tiers.set(tier, sandbox);
    }
    return sandbox;
  }

  private async all(): Promise<TierSandbox[]> {
    const tiers = await Promise.allSettled([...this.tiers.values()]);
    return [...new Set(tiers.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : [])))];
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox is closed');
  }
}
