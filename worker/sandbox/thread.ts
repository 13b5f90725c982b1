/**
 * The thread tier: each deployed function gets a warm pool of `worker_threads` (the pooled base
 * of the process sandbox), one request per thread at a time, each thread with its own V8 heap
 * capped by `resourceLimits` from the function's memory, a clean `process.env`, and the runtime's
 * handler code (`runtime/thread.ts` → `runtime/handler.ts`).
 *
 * Invariants: a run settles exactly once (result, handler error, timeout, cancellation, or the
 * thread's death: FUNCTION_OOM when V8 hit the thread's heap limit, ERR_WORKER_OUT_OF_MEMORY,
 * else FUNCTION_CRASHED with its exit code); a thread that timed out, was cancelled or died is
 * terminated and never reused, so the pool starts a fresh one; the input is copied once into a
 * buffer the thread owns (the caller keeps its own for retries), the output comes back by
 * transfer, never by copy. No cgroup: CPU quotas, harvesting's resizes and peak sampling do not
 * apply (a resize is recorded, not enforced), the memory limit is the heap limit.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { AppError } from '../../shared/errors.js';
import type { WorkerId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { PooledSandbox, type RunnableChild } from './pooled.js';
import { locateRuntimeFile, runtimeSource } from './process.js';
import { guardedRun, handlerThrew, loadFailed } from './run-errors.js';
import type { RuntimeSource } from './runtime/protocol.js';
import {
  copiedArrayBuffer,
  type ThreadInit,
  type ThreadReply,
  type ThreadRequest,
} from './runtime/thread-messages.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { FunctionDeployment, RunRequest } from './types.js';

export interface ThreadSandboxOptions {
  workerId: WorkerId;
  logger?: Logger;
  /** Threads per function at most; extra runs queue FIFO. Default 8. */
  maxConcurrencyPerFunction?: number;
  /** Idle threads are stopped after this long. Default 600 000 (10 min). */
  idleMs?: number;
  /** Start → handler loaded, at most. Default 10 000. */
  startTimeoutMs?: number;
  /** The compiled thread runtime. Default: `runtime/thread.js` located like the server. */
  threadPath?: string;
}

export interface ThreadRunResult {
  output: Buffer;
  durationMs: number;
  peakMemoryMb: null;
  peakCpuCores: null;
  cpuTimeMs: number;
  throttledMs: null;
  pressureMs: null;
  safeguardAtMs: null;
}

/** Below this V8 cannot run a thread's handler at all. */
const MIN_MEMORY_MB = 16;
const OUTPUT_TAIL_BYTES = 4096;

interface ThreadOptions {
  id: string;
  label: string;
  fnName: string;
  source: RuntimeSource;
  threadPath: string;
  allocation: Allocation;
  startTimeoutMs: number;
  logger: Logger;
}

export class ThreadChild implements RunnableChild {
  readonly id: string;
  /** The thread's old-generation limit, MB; a run needing more gets a new thread. */
  readonly heapMb: number;
  readonly exited: Promise<void>;
  private current: Allocation;
  private readonly worker: Worker;
  private nextRunId = 1;
  private pending: {
    id: number;
    ok: (reply: Extract<ThreadReply, { kind: 'result' }>) => void;
    fail: (err: AppError) => void;
  } | null = null;
  private loading: ((reply: ThreadReply | AppError) => void) | null = null;
  /** The error event that preceded the exit (V8's heap limit, an internal failure). */
  private fatal: NodeJS.ErrnoException | null = null;
  private outputTail = '';
  private doomed = false;
  private markExited!: () => void;

  private constructor(private readonly o: ThreadOptions) {
    this.id = o.id;
    this.current = { ...o.allocation };
    this.heapMb = Math.max(MIN_MEMORY_MB, Math.floor(o.allocation.memoryMb));
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    const init: ThreadInit = { fnName: o.fnName, source: o.source };
    this.worker = new Worker(o.threadPath, {
      workerData: init,
      // Like a process child's clean environment: nothing of the worker's own leaks in.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/tmp' },
      argv: [],
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: this.heapMb },
      name: `faasflow ${o.label}`,
    });
    this.worker.stdout.on('data', (c: Buffer) => this.onOutput('stdout', c));
    this.worker.stderr.on('data', (c: Buffer) => this.onOutput('stderr', c));
    this.worker.on('message', (m: ThreadReply) => this.onMessage(m));
    this.worker.on('error', (err) => {
      this.fatal = err;
      this.doomed = true;
    });
    this.worker.once('exit', (code) => this.onExit(code));
  }

  /** Starts a thread and loads the function in it. */
  static async start(o: ThreadOptions): Promise<ThreadChild> {
    const child = new ThreadChild(o);
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = await new Promise<ThreadReply | AppError>((resolve) => {
        child.loading = resolve;
        timer = setTimeout(
          () =>
            resolve(child.unavailable(`did not load ${o.fnName} within ${o.startTimeoutMs} ms`)),
          o.startTimeoutMs,
        );
      });
      child.loading = null;
      if (reply instanceof AppError) throw reply;
      if (reply.kind === 'error') throw loadFailed(o.label, reply);
      if (reply.kind !== 'ready') throw child.unavailable(`answered its load with ${reply.kind}`);
      return child;
    } catch (err) {
      child.kill('start failed');
      await child.exited;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  get usable(): boolean {
    return !this.doomed;
  }

  get allocation(): Allocation {
    return this.current;
  }

  /** Recorded, not enforced: a thread has no cgroup (its heap limit is fixed at start). */
  resize(allocation: Allocation): void {
    this.current = { ...allocation, memoryMb: Math.min(allocation.memoryMb, this.heapMb) };
  }

  run(req: RunRequest): Promise<ThreadRunResult> {
    if (this.doomed) return Promise.reject(this.unavailable('is not running'));
    if (this.pending !== null)
      return Promise.reject(this.unavailable('is busy (one run at a time)'));
    const id = this.nextRunId++;
    const startedMs = performance.now();
    return guardedRun<ThreadRunResult>(
      {
        label: this.o.label,
        fnName: this.o.fnName,
        sandboxId: this.id,
        timeoutMs: req.timeoutMs,
        signal: req.signal,
        stop: (reason) => this.kill(reason),
      },
      (settle) => {
        this.pending = {
          id,
          ok: (reply) => {
            this.pending = null;
            settle.ok({
              output: Buffer.from(
                reply.output.buffer,
                reply.output.byteOffset,
                reply.output.byteLength,
              ),
              durationMs: performance.now() - startedMs,
              peakMemoryMb: null,
              peakCpuCores: null,
              cpuTimeMs: reply.cpuTimeUs / 1000,
              throttledMs: null,
              pressureMs: null,
              safeguardAtMs: null,
            });
          },
          fail: (err) => {
            this.pending = null;
            settle.fail(err);
          },
        };
        // The caller keeps its buffers (a retry sends the same input): one copy each, moved.
        const input = copiedArrayBuffer(req.input);
        const workflowInput =
          req.workflowInput === undefined ? null : copiedArrayBuffer(req.workflowInput);
        const message: ThreadRequest = {
          kind: 'run',
          id,
          call: {
            invocationId: req.invocationId,
            node: req.node,
            attempt: req.attempt,
            timeoutMs: req.timeoutMs,
            input,
            workflowInput,
          },
        };
        const transfer = [input.buffer as ArrayBuffer];
        if (workflowInput !== null) transfer.push(workflowInput.buffer as ArrayBuffer);
        this.worker.postMessage(message, transfer);
      },
    );
  }

  /** Terminates the thread, which is never reused; a run in flight fails (SANDBOX_UNAVAILABLE). */
  kill(reason = 'stopped by the worker'): void {
    this.doomed = true;
    this.pending?.fail(this.unavailable(`was stopped mid-run: ${reason}`));
    void this.worker.terminate();
  }

  private onMessage(m: ThreadReply): void {
    if (this.loading !== null) {
      this.loading(m);
      return;
    }
    switch (m.kind) {
      case 'result':
        if (this.pending?.id === m.id) this.pending.ok(m);
        return;
      case 'error':
        if (this.pending?.id === m.id) this.pending.fail(handlerThrew(this.o.label, m));
        return;
      case 'stray':
        this.o.logger.warn(
          { sandboxId: this.id, err: { message: m.message, stack: m.stack } },
          'uncaught error between runs',
        );
        return;
      case 'ready':
        return;
      default:
        m satisfies never;
    }
  }

  private onExit(code: number): void {
    this.doomed = true;
    const death = this.deathError(code);
    this.loading?.(death);
    this.loading = null;
    this.pending?.fail(death);
    this.markExited();
  }

  private deathError(code: number): AppError {
    const details = {
      fn: this.o.fnName,
      sandboxId: this.id,
      exitCode: code,
      memoryMb: this.heapMb,
      output: this.outputTail,
    };
    const fatal = this.fatal;
    if (fatal?.code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new AppError(
        'FUNCTION_OOM',
        `function ${this.o.label} ran out of memory (heap limit ${this.heapMb} MB)`,
        { details },
      );
    }
    const why = fatal === null ? `exit code ${code}` : `${fatal.message}; exit code ${code}`;
    return new AppError('FUNCTION_CRASHED', `function ${this.o.label} thread exited (${why})`, {
      details,
    });
  }

  private onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.outputTail = (this.outputTail + text).slice(-OUTPUT_TAIL_BYTES);
    this.o.logger.debug({ sandboxId: this.id, stream, text: text.trimEnd() }, 'function output');
  }

  private unavailable(what: string): AppError {
    return new AppError('SANDBOX_UNAVAILABLE', `thread ${this.id} of ${this.o.label} ${what}`);
  }
}

export class ThreadSandbox extends PooledSandbox<ThreadChild, RuntimeSource> {
  readonly kind = 'thread' as const;
  private nextChild = 0;

  private constructor(
    logger: Logger,
    private readonly threadPath: string,
    maxConcurrency: number,
    idleMs: number,
    private readonly startTimeoutMs: number,
  ) {
    super(logger, { maxConcurrency, idleMs, prewarm: 0, minMemoryMb: MIN_MEMORY_MB });
  }

  static create(options: ThreadSandboxOptions): ThreadSandbox {
    const logger = (options.logger ?? silentLogger).child({ component: 'sandbox', kind: 'thread' });
    const maxConcurrency = options.maxConcurrencyPerFunction ?? 8;
    const idleMs = options.idleMs ?? 600_000;
    const startTimeoutMs = options.startTimeoutMs ?? 10_000;
    for (const [name, value] of [
      ['maxConcurrencyPerFunction', maxConcurrency],
      ['idleMs', idleMs],
      ['startTimeoutMs', startTimeoutMs],
    ] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new AppError('CONFIG_INVALID', `${name} must be an integer ≥ 1, got ${value}`);
      }
    }
    const threadPath = options.threadPath ?? locateRuntimeFile('thread.js');
    return new ThreadSandbox(logger, threadPath, maxConcurrency, idleMs, startTimeoutMs);
  }

  protected prepare(d: FunctionDeployment): Promise<RuntimeSource> {
    return Promise.resolve(runtimeSource(d, 'thread'));
  }

  protected startOne(
    d: FunctionDeployment,
    source: RuntimeSource,
    allocation: Allocation,
  ): Promise<ThreadChild> {
    return ThreadChild.start({
      id: `t${(this.nextChild++).toString(36)}-${d.fn.name}`,
      label: d.key,
      fnName: d.fn.name,
      source,
      threadPath: this.threadPath,
      allocation,
      startTimeoutMs: this.startTimeoutMs,
      logger: this.logger,
    });
  }

  protected release(): Promise<void> {
    return Promise.resolve();
  }
}
