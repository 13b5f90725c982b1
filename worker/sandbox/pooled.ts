/**
 * What every pooled sandbox shares (process children and Docker containers alike): the
 * deployments, one warm `FunctionPool` per function, the live children, request checks, run,
 * resize, undeploy, stats and an idempotent close. Subclasses say how a function is prepared
 * (`prepare`), how a child starts (`startOne`) and what else closing releases (`release`).
 *
 * A run's allocation is applied to the warm child it gets by cgroup writes (µs), whatever the
 * child ran with before: a different CPU quota never costs a new child. Only memory beyond a
 * child's V8 heap limit does (the pool's rule), so children start with a heap for the larger of
 * the run's and the function's declared memory, and a smaller memory allocation (harvesting) is
 * a lower cgroup limit on a child that can still serve the declared one. Requests are kept by
 * (invocation, node) while they are in the sandbox, so live rebalancing can change the CPU quota
 * of the child running one (`resizeRun`) without knowing which child that is.
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { FunctionPool, type PooledChild, type PreparedReport } from './pool.js';
import type { StartGate } from './start-gate.js';
import type { Isolation } from '../../shared/dag/types.js';
import type { Frame } from './runtime/protocol.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type {
  FunctionDeployment,
  RunRef,
  RunRequest,
  RunResult,
  Sandbox,
  SandboxStats,
} from './types.js';

/** A child the sandbox can run requests on. */
export interface RunnableChild extends PooledChild {
  /** The CPU quota and memory limit in force. */
  readonly allocation: Allocation;
  resize(allocation: Allocation): void | Promise<void>;
  run(req: RunRequest): Promise<{
    output: Buffer;
    durationMs: number;
    peakMemoryMb: number | null;
    peakCpuCores: number | null;
    cpuTimeMs: number | null;
    throttledMs: number | null;
    pressureMs: number | null;
    safeguardAtMs: number | null;
  }>;
}

/** A request in the sandbox: waiting for a child (`child` null) or running on one. */
interface LiveRun<C> {
  allocation: Allocation;
  child: C | null;
}

export interface PoolSettings {
  maxConcurrency: number;
  idleMs: number;
  /** Children started per function at deploy unless `deploy` says otherwise. */
  prewarm: number;
  /** Smallest memory allocation a run may ask for. */
  minMemoryMb: number;
  /** The worker's start gate, shared by every pool (start-gate.ts); absent: none. */
  gate?: StartGate;
}

interface Deployed<C extends RunnableChild> {
  deployment: FunctionDeployment;
  pool: FunctionPool<C>;
}

export abstract class PooledSandbox<C extends RunnableChild, Plan> implements Sandbox {
  abstract readonly kind: Isolation;
  protected readonly deployed = new Map<string, Deployed<C>>();
  protected readonly children = new Map<string, C>();
  /** Requests in the sandbox by `runKey`. */
  private readonly live = new Map<string, LiveRun<C>>();
  private closing: Promise<void> | null = null;

  protected constructor(
    protected readonly logger: Logger,
    private readonly poolSettings: PoolSettings,
  ) {}

  /** Checks a deployment and works out how its children start; throws when it cannot run here. */
  protected abstract prepare(d: FunctionDeployment): Promise<Plan>;
  /** Starts one child for a deployment. */
  protected abstract startOne(
    d: FunctionDeployment,
    plan: Plan,
    allocation: Allocation,
  ): Promise<C>;
  /** Frees what the subclass owns beyond the children (sockets, cgroups, leftovers). */
  protected abstract release(): Promise<void>;

  async deploy(d: FunctionDeployment, options: { prewarm?: number } = {}): Promise<void> {
    this.assertOpen();
    let entry = this.deployed.get(d.key);
    if (entry === undefined) {
      const plan = await this.prepare(d);
      entry = {
        deployment: d,
        pool: new FunctionPool<C>({
          label: d.key,
          maxConcurrency: this.poolSettings.maxConcurrency,
          idleMs: this.poolSettings.idleMs,
          ...(this.poolSettings.gate ? { gate: this.poolSettings.gate } : {}),
          start: (allocation) => this.startChild(d, plan, allocation),
        }),
      };
      this.deployed.set(d.key, entry);
      this.logger.debug({ key: d.key }, 'function deployed');
    }
    const prewarm = options.prewarm ?? this.poolSettings.prewarm;
    if (prewarm > 0) await entry.pool.prewarm(prewarm, { cpu: d.fn.cpu, memoryMb: d.fn.memoryMb });
  }

  async prepareAhead(key: string, ttlMs: number, want = 1, needBy?: number): Promise<boolean> {
    const entry = this.deployed.get(key);
    if (entry === undefined || this.closing !== null) return false;
    const fn = entry.deployment.fn;
    return entry.pool.prepare({ cpu: fn.cpu, memoryMb: fn.memoryMb }, ttlMs, want, needBy);
  }

  expectRun(key: string): void {
    const entry = this.deployed.get(key);
    if (entry === undefined || this.closing !== null) return;
    const fn = entry.deployment.fn;
    entry.pool.expect({ cpu: fn.cpu, memoryMb: fn.memoryMb });
  }

  takePreparedReport(): Record<string, PreparedReport> {
    const out: Record<string, PreparedReport> = {};
    for (const [key, e] of this.deployed) {
      const r = e.pool.takePreparedReport();
      if (r.used + r.unused > 0) out[key] = r;
    }
    return out;
  }

  async run(key: string, req: RunRequest): Promise<RunResult> {
    this.assertOpen();
    const entry = this.deployed.get(key);
    if (entry === undefined) {
      throw new AppError('NOT_FOUND', `function ${key} is not deployed on this sandbox`, {
        details: { key, deployed: [...this.deployed.keys()] },
      });
    }
    this.checkRequest(key, req);
    const ref = runKey(req);
    const live: LiveRun<C> = { allocation: req.allocation, child: null };
    this.live.set(ref, live);
    try {
      const lease = await entry.pool.acquire(req.allocation, req.signal);
      const { child } = lease;
      try {
        live.child = child;
        // `live.allocation`, not the request's: a resizeRun while it waited has the last word.
        await child.resize(live.allocation);
        const allocation = { ...child.allocation };
        const r = await child.run(req);
        return {
          output: r.output,
          cold: lease.cold,
          queueMs: lease.queueMs,
          initMs: lease.initMs,
          ...(lease.prepared === true ? { prepared: true } : {}),
          durationMs: r.durationMs,
          allocation,
          peakMemoryMb: r.peakMemoryMb,
          peakCpuCores: r.peakCpuCores,
          cpuTimeMs: r.cpuTimeMs,
          throttledMs: r.throttledMs,
          pressureMs: r.pressureMs,
          safeguardAtMs: r.safeguardAtMs,
          sandboxId: child.id,
          isolation: this.kind,
        };
      } finally {
        live.child = null;
        entry.pool.release(child);
      }
    } finally {
      if (this.live.get(ref) === live) this.live.delete(ref);
    }
  }

  /** True when `sandboxId` is one of this sandbox's live children. */
  owns(sandboxId: string): boolean {
    return this.children.has(sandboxId);
  }

  /** True when a request of `run` is in this sandbox (waiting or running). */
  holds(run: RunRef): boolean {
    return this.live.has(runKey(run));
  }

  async resizeRun(run: RunRef, change: { cpu: number }): Promise<boolean> {
    if (!Number.isFinite(change.cpu) || change.cpu <= 0) {
      throw new AppError(
        'BAD_REQUEST',
        `invalid resize of the run of ${run.node}: cpu must be a positive number of cores, got ${change.cpu}`,
      );
    }
    const live = this.live.get(runKey(run));
    if (live === undefined) return false;
    live.allocation = { ...live.allocation, cpu: change.cpu };
    const child = live.child;
    if (child === null) return true; // still waiting: applied when it gets its child
    if (!child.usable) return false;
    await child.resize({ ...child.allocation, cpu: change.cpu });
    return true;
  }

  async resize(sandboxId: string, allocation: Allocation): Promise<void> {
    const child = this.children.get(sandboxId);
    if (child === undefined || !child.usable) {
      throw new AppError('NOT_FOUND', `sandbox ${sandboxId} is not running on this worker`, {
        details: { sandboxId },
      });
    }
    const problems = this.allocationProblems(allocation);
    if (problems.length > 0)
      throw new AppError('BAD_REQUEST', `invalid resize of ${sandboxId}: ${problems.join('; ')}`);
    await child.resize(allocation);
    // A run tolerates a memory limit that stays higher (see RunResult.allocation); a resize asked
    // for by name does not.
    const held = child.allocation;
    if (held.memoryMb !== allocation.memoryMb) {
      throw new AppError(
        'BAD_REQUEST',
        `the kernel refused to resize sandbox ${sandboxId} to ${allocation.cpu} cores and ${allocation.memoryMb} MB (a memory limit below what the function holds is refused; it stays at ${held.memoryMb} MB, the CPU quota is now ${held.cpu} cores)`,
        { details: { sandboxId, allocation, inForce: held } },
      );
    }
  }

  async undeploy(key: string): Promise<void> {
    const entry = this.deployed.get(key);
    if (entry === undefined) return;
    this.deployed.delete(key);
    await entry.pool.close('undeployed');
  }

  stats(): SandboxStats {
    const perFunction: SandboxStats['perFunction'] = {};
    let busy = 0;
    for (const [key, { pool }] of this.deployed) {
      const s = pool.stats();
      perFunction[key] = s;
      busy += s.busy;
    }
    return { sandboxes: this.children.size, busy, perFunction };
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const pools = [...this.deployed.values()].map((e) => e.pool);
    this.deployed.clear();
    await Promise.all(pools.map((p) => p.close('sandbox closed')));
    await Promise.all([...this.children.values()].map((c) => (c.kill('sandbox closed'), c.exited)));
    await this.release();
  }

  private async startChild(d: FunctionDeployment, plan: Plan, allocation: Allocation): Promise<C> {
    this.assertOpen();
    // Heap (and first limits) for the declared memory at least — and the hard limit of a
    // harvested run, so V8's heap matches memory.max; the run's resize lowers the limits.
    const memoryMb = Math.max(allocation.memoryMb, allocation.memoryMaxMb ?? 0, d.fn.memoryMb);
    const child = await this.startOne(d, plan, { cpu: allocation.cpu, memoryMb });
    this.children.set(child.id, child);
    void child.exited.then(() => {
      this.children.delete(child.id);
      this.deployed.get(d.key)?.pool.forget(child);
    });
    return child;
  }

  protected assertOpen(): void {
    if (this.closing !== null)
      throw new AppError('SANDBOX_UNAVAILABLE', `${this.kind} sandbox is closed`);
  }

  private allocationProblems(a: Allocation): string[] {
    const problems: string[] = [];
    if (!Number.isFinite(a.cpu) || a.cpu <= 0)
      problems.push(`allocation.cpu must be a positive number of cores, got ${a.cpu}`);
    if (!Number.isFinite(a.memoryMb) || a.memoryMb < this.poolSettings.minMemoryMb) {
      problems.push(
        `allocation.memoryMb must be ≥ ${this.poolSettings.minMemoryMb}, got ${a.memoryMb}`,
      );
    }
    return problems;
  }

  private checkRequest(key: string, req: RunRequest): void {
    const problems: string[] = [];
    if (!Number.isFinite(req.timeoutMs) || req.timeoutMs <= 0) {
      problems.push(`timeoutMs must be a positive number of ms, got ${req.timeoutMs}`);
    }
    problems.push(...this.allocationProblems(req.allocation));
    if (problems.length > 0) {
      throw new AppError('BAD_REQUEST', `invalid run request for ${key}: ${problems.join('; ')}`, {
        details: { key, problems },
      });
    }
  }
}

function runKey(r: RunRef): string {
  return `${r.invocationId}\n${r.node}`;
}

/** The `run` frame both kinds of child send to their runtime server. */
export function runFrame(
  id: number,
  req: RunRequest,
  timeoutMs: number,
): Extract<Frame, { kind: 'run' }> {
  return {
    kind: 'run',
    id,
    invocationId: req.invocationId,
    node: req.node,
    attempt: req.attempt,
    timeoutMs,
    input: req.input,
    workflowInput: req.workflowInput ?? null,
  };
}
