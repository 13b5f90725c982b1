/**
 * The trusted tier: the handler runs on the worker's own event loop — no process, no thread, no
 * copy of its input — for code the operator trusts as much as the worker itself. The module is
 * loaded once per deployment (by the runtime's own `loadHandler`) and called directly with the
 * same `ctx` as every other tier; the pooled base still caps concurrent runs per function.
 *
 * What it cannot do, by construction: stop a handler. A timeout or a cancellation settles the
 * run (FUNCTION_TIMEOUT / CANCELLED) and retires its slot, but an async handler keeps running in
 * the background until it returns, and a synchronous infinite loop blocks the worker for good —
 * the timer that would report it never fires. No memory limit, no CPU quota, no harvesting; a
 * stray exception the handler throws from a timer is the worker's own uncaught exception. Its
 * CPU time is not measurable apart from the worker's (null).
 */
import { performance } from 'node:perf_hooks';
import { AppError } from '../../shared/errors.js';
import type { WorkerId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { PooledSandbox, type RunnableChild } from './pooled.js';
import { runtimeSource } from './process.js';
import { guardedRun, handlerThrew, loadFailed } from './run-errors.js';
import { callHandler, describeThrown, loadHandler, type Handler } from './runtime/handler.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { FunctionDeployment, RunRequest } from './types.js';

export interface TrustedSandboxOptions {
  workerId: WorkerId;
  logger?: Logger;
  /** Runs per function at once at most; extra runs queue FIFO. Default 8. */
  maxConcurrencyPerFunction?: number;
  /** Idle slots are retired after this long (the module stays loaded). Default 600 000. */
  idleMs?: number;
}

export interface TrustedRunResult {
  output: Buffer;
  durationMs: number;
  peakMemoryMb: null;
  peakCpuCores: null;
  cpuTimeMs: null;
  throttledMs: null;
  pressureMs: null;
  safeguardAtMs: null;
}

/** A deployment's handler, loaded on its first run and then shared by every slot. */
interface TrustedPlan {
  load: () => Promise<Handler>;
}

/** One run slot of a trusted function (the pool's "child"): nothing to start or to kill. */
export class TrustedSlot implements RunnableChild {
  /** The worker's heap is the only limit: no run ever needs a bigger slot. */
  readonly heapMb = Number.MAX_SAFE_INTEGER;
  readonly exited: Promise<void>;
  private current: Allocation;
  private busy = false;
  private doomed = false;
  private stopRun: ((err: AppError) => void) | null = null;
  private markExited!: () => void;

  constructor(
    readonly id: string,
    private readonly label: string,
    private readonly fnName: string,
    private readonly handler: Handler,
    allocation: Allocation,
  ) {
    this.current = { ...allocation };
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  get usable(): boolean {
    return !this.doomed;
  }

  get allocation(): Allocation {
    return this.current;
  }

  /** Recorded, not enforced: the worker's own loop has no limits of its own. */
  resize(allocation: Allocation): void {
    this.current = { ...allocation };
  }

  run(req: RunRequest): Promise<TrustedRunResult> {
    if (this.doomed) return Promise.reject(this.unavailable('is retired'));
    if (this.busy) return Promise.reject(this.unavailable('is busy (one run at a time)'));
    this.busy = true;
    const startedMs = performance.now();
    return guardedRun<TrustedRunResult>(
      {
        label: this.label,
        fnName: this.fnName,
        sandboxId: this.id,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        // The handler cannot be stopped: its slot is retired, what it returns later is dropped.
        stop: (reason) => this.kill(reason),
      },
      (settle) => {
        this.stopRun = (err) => settle.fail(err);
        const call = {
          invocationId: req.invocationId,
          node: req.node,
          attempt: req.attempt,
          timeoutMs: req.timeoutMs,
          input: req.input,
          workflowInput: req.workflowInput ?? null,
        };
        callHandler(this.handler, call).then(
          (output) =>
            settle.ok({
              output,
              durationMs: performance.now() - startedMs,
              peakMemoryMb: null,
              peakCpuCores: null,
              cpuTimeMs: null,
              throttledMs: null,
              pressureMs: null,
              safeguardAtMs: null,
            }),
          (err: unknown) => settle.fail(handlerThrew(this.label, describeThrown(err))),
        );
      },
    ).finally(() => {
      this.busy = false;
      this.stopRun = null;
    });
  }

  kill(reason = 'stopped by the worker'): void {
    this.doomed = true;
    this.stopRun?.(this.unavailable(`was stopped mid-run: ${reason}`));
    this.markExited();
  }

  private unavailable(what: string): AppError {
    return new AppError('SANDBOX_UNAVAILABLE', `trusted slot ${this.id} of ${this.label} ${what}`);
  }
}

export class TrustedSandbox extends PooledSandbox<TrustedSlot, TrustedPlan> {
  readonly kind = 'trusted' as const;
  private nextSlot = 0;

  private constructor(logger: Logger, maxConcurrency: number, idleMs: number) {
    super(logger, { maxConcurrency, idleMs, prewarm: 0, minMemoryMb: 1 });
  }

  static create(options: TrustedSandboxOptions): TrustedSandbox {
    const logger = (options.logger ?? silentLogger).child({
      component: 'sandbox',
      kind: 'trusted',
    });
    const maxConcurrency = options.maxConcurrencyPerFunction ?? 8;
    const idleMs = options.idleMs ?? 600_000;
    for (const [name, value] of [
      ['maxConcurrencyPerFunction', maxConcurrency],
      ['idleMs', idleMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new AppError('CONFIG_INVALID', `${name} must be an integer ≥ 1, got ${value}`);
      }
    }
    return new TrustedSandbox(logger, maxConcurrency, idleMs);
  }

  protected prepare(d: FunctionDeployment): Promise<TrustedPlan> {
    const source = runtimeSource(d, 'trusted');
    let loaded: Promise<Handler> | null = null;
    // Loaded once, on the first run (a module that fails to load fails every run the same way).
    return Promise.resolve({ load: () => (loaded ??= loadHandler(d.fn.name, source)) });
  }

  protected async startOne(
    d: FunctionDeployment,
    plan: TrustedPlan,
    allocation: Allocation,
  ): Promise<TrustedSlot> {
    let handler: Handler;
    try {
      handler = await plan.load();
    } catch (err) {
      throw loadFailed(d.key, describeThrown(err));
    }
    const id = `trusted-${(this.nextSlot++).toString(36)}-${d.fn.name}`;
    return new TrustedSlot(id, d.key, d.fn.name, handler, allocation);
  }

  protected release(): Promise<void> {
    return Promise.resolve();
  }
}
