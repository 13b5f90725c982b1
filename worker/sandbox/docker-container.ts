/**
 * One function container: created and started through the engine, reached over the unix socket
 * in its bind-mounted directory, running one request at a time, resized live, and removed.
 *
 * Invariants: a run settles exactly once (result, handler error, timeout, cancellation, or the
 * container's death — classified as OOM when the engine saw the OOM killer or V8 ran out of
 * heap, else as a crash, with the exit code and the tail of its output); after a timeout,
 * cancellation, death or protocol error the container is never reused; every container this
 * class creates is removed (force, so a running one is killed first) and its socket directory
 * deleted before `exited` resolves; a container that dies is inspected before it is removed.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { handlerThrew, loadFailed } from './run-errors.js';
import { safeguardFor } from './safeguard.js';
import { runFrame } from './pooled.js';
import { cgroupOfProcess, type CgroupMode, type ChildCgroup } from './cgroup.js';
import type { DockerClient } from './docker-client.js';
import { ConnectionLost, RuntimeConnection } from './runtime-connection.js';
import { ContainerLimits } from './docker-limits.js';
import { RunProfiler } from './profiler.js';
import { BUILD_COMMAND, SOCKET_FILE, type ContainerCreateSpec } from './docker-spec.js';
import type { PooledChild } from './pool.js';
import type { Frame, RuntimeSource } from './runtime/protocol.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { RunRequest } from './types.js';

export interface ContainerChildOptions {
  /** Also the container's name. */
  sandboxId: string;
  /** Deployment key, for messages. */
  label: string;
  fnName: string;
  spec: ContainerCreateSpec;
  /** True when `spec.image` is the function's own image (not the runtime image). */
  ownImage: boolean;
  source: RuntimeSource;
  /** Host directory for the runtime's socket; made here, bind-mounted by `spec`, removed here. */
  socketHostDir: string;
  allocation: Allocation;
  client: DockerClient;
  cgroupMode: CgroupMode;
  /** Sampling interval of the run profiler, ms (0: start and end of a run only). */
  profileIntervalMs: number;
  startTimeoutMs: number;
  logger: Logger;
}

export interface ContainerRunResult {
  output: Buffer;
  durationMs: number;
  /** Sampled from the container's cgroup, page cache excluded; null when it is not reachable. */
  peakMemoryMb: number | null;
  /** Sampled from the container's cgroup; null when it is not reachable. */
  peakCpuCores: number | null;
  cpuTimeMs: number | null;
  throttledMs: number | null;
  pressureMs: number | null;
  safeguardAtMs: number | null;
}

const HEAP_OOM_RE =
  /heap out of memory|Reached heap limit|Allocation failed - process out of memory/;
/** How long a container whose socket closed may take to be seen stopped by the engine. */
const EXIT_GRACE_MS = 5000;
const LOG_TAIL_LINES = 40;

export class ContainerChild implements PooledChild {
  readonly id: string;
  /** Memory the container started with (node sized its heap from it); runs needing more get a new one. */
  readonly heapMb: number;
  readonly exited: Promise<void>;
  readonly limits: ContainerLimits;
  private conn: RuntimeConnection | null = null;
  private cgroup: ChildCgroup | null = null;
  /** Set with `cgroup`: samples the container's usage while it runs a request. */
  private profiler: RunProfiler | null = null;
  private inFlight: ((err: AppError) => void) | null = null;
  private nextRunId = 1;
  private starting = true;
  private doomed = false;
  private disposing = false;
  private exitCode: number | null = null;
  /** The exit code once the engine reports the container stopped; null if it cannot tell. */
  private exitSeen: Promise<number | null> = Promise.resolve(null);
  private readonly stopWaiting = new AbortController();
  private markExited!: () => void;

  private constructor(
    private readonly o: ContainerChildOptions,
    readonly containerId: string,
  ) {
    this.id = o.sandboxId;
    this.heapMb = o.allocation.memoryMb;
    this.limits = new ContainerLimits(containerId, o.sandboxId, o.client, o.allocation, o.logger);
    this.exited = new Promise((resolve) => (this.markExited = resolve));
  }

  /** Creates, starts and connects a container, and loads the function in it. */
  static async start(o: ContainerChildOptions): Promise<ContainerChild> {
    const t0 = performance.now();
    mkdirSync(o.socketHostDir, { recursive: true });
    chmodSync(o.socketHostDir, 0o777); // the container's user, not ours, creates the socket
    let containerId: string;
    try {
      containerId = await o.client.create(o.spec);
    } catch (err) {
      rmSync(o.socketHostDir, { recursive: true, force: true });
      throw createError(o, err);
    }
    const child = new ContainerChild(o, containerId);
    const deadline = AbortSignal.timeout(o.startTimeoutMs);
    try {
      const t1 = performance.now();
      await o.client.start(containerId);
      const t2 = performance.now();
      child.watchExit();
      const located = child.locateCgroup();
      child.conn = await RuntimeConnection.open(join(o.socketHostDir, SOCKET_FILE), () =>
        child.exitCode !== null
          ? `exited with code ${child.exitCode} before listening`
          : deadline.aborted
            ? `did not listen within ${o.startTimeoutMs} ms (startTimeoutMs)`
            : child.doomed
              ? 'was stopped while starting'
              : null,
      );
      child.conn.onLost(() => {
        child.doomed = true;
      });
      const t3 = performance.now();
      await child.init(deadline);
      await located;
      child.starting = false;
      if (child.exitCode !== null) child.onExit(); // died after loading: never handed out
      o.logger.debug(
        {
          sandboxId: child.id,
          createMs: t1 - t0,
          startMs: t2 - t1,
          listenMs: t3 - t2,
          initMs: performance.now() - t3,
          direct: child.limits.direct,
        },
        'container started',
      );
      return child;
    } catch (err) {
      const failure = err instanceof AppError ? err : await child.startFailure(err);
      child.kill('start failed');
      await child.exited;
      throw failure;
    }
  }

  get usable(): boolean {
    return !this.doomed;
  }

  /** The CPU quota and memory limit in force. */
  get allocation(): Allocation {
    return this.limits.allocation;
  }

  /** Applies a new CPU quota and memory limit to the running container. */
  resize(allocation: Allocation): Promise<void> {
    if (this.doomed) return Promise.reject(this.unavailable('is not running'));
    return this.limits.apply(allocation);
  }

  run(req: RunRequest): Promise<ContainerRunResult> {
    const conn = this.conn;
    if (this.doomed || conn === null || !conn.alive) {
      return Promise.reject(this.unavailable('is not running'));
    }
    if (this.inFlight !== null)
      return Promise.reject(this.unavailable('is busy (one run at a time)'));
    const { timeoutMs, signal } = req;
    const id = this.nextRunId++;
    const profiler = this.profiler;
    const guard = safeguardFor(
      req,
      () => this.limits.allocation,
      (a) => this.limits.apply(a),
      (err) => this.o.logger.warn({ err, sandboxId: this.id }, 'safeguard resize failed'),
    );
    profiler?.start(guard.watch);
    const startedMs = performance.now();
    return new Promise<ContainerRunResult>((resolve, reject) => {
      let settled = false;
      const settle = (err: AppError | null, result?: ContainerRunResult): void => {
        if (settled) return;
        settled = true;
        profiler?.stop();
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.inFlight = null;
        if (err === null) resolve(result!);
        else reject(err);
      };
      const onAbort = (): void => {
        settle(
          new AppError('CANCELLED', `run of ${this.o.label} cancelled`, {
            details: { reason: String(signal?.reason) },
          }),
        );
        this.kill('cancelled');
      };
      const timer = setTimeout(() => {
        settle(
          new AppError(
            'FUNCTION_TIMEOUT',
            `function ${this.o.label} timed out after ${timeoutMs} ms (its timeoutMs limit)`,
            { details: { fn: this.o.fnName, timeoutMs, sandboxId: this.id } },
          ),
        );
        this.kill('timed out');
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.inFlight = (err) => settle(err);
      const frame = runFrame(id, req, timeoutMs);
      conn.request(frame, id).then(
        (answer) => {
          if (answer.kind === 'result') {
            const durationMs = performance.now() - startedMs;
            // Not after the container went (its cgroup's files are closed then).
            const usage = this.profiler === profiler ? (profiler?.finish() ?? null) : null;
            settle(null, {
              output: answer.output,
              durationMs,
              peakMemoryMb: usage?.peakMemoryMb ?? null,
              peakCpuCores: usage?.peakCpuCores ?? null,
              cpuTimeMs: usage?.cpuTimeMs ?? answer.cpuTimeUs / 1000,
              throttledMs: usage?.throttledMs ?? null,
              pressureMs: usage?.pressureMs ?? null,
              safeguardAtMs: guard.raisedAtMs(),
            });
          } else if (answer.kind === 'error') {
            settle(handlerThrew(this.o.label, answer));
          } else settle(this.unavailable(`answered a run with a ${answer.kind} frame`));
        },
        (lost: unknown) => {
          if (settled) return;
          void this.deathError(lost, 'mid-run').then((err) => {
            settle(err);
            this.dispose();
          });
        },
      );
      if (signal?.aborted === true) onAbort();
    });
  }

  /**
   * Removes the container (killing it first), which is never reused; `exited` resolves once it
   * is gone. A run still in flight fails with SANDBOX_UNAVAILABLE naming `reason`.
   */
  kill(reason = 'stopped by the worker'): void {
    this.doomed = true;
    this.inFlight?.(this.unavailable(`was stopped mid-run: ${reason}`));
    this.dispose();
  }

  /** Resolves once the engine records the limits the kernel enforces (after a direct resize). */
  limitsSettled(): Promise<void> {
    return this.limits.settled();
  }

  private async init(deadline: AbortSignal): Promise<void> {
    const conn = this.conn!;
    let onTimeout = (): void => undefined;
    const timedOut = new Promise<never>((_, reject) => {
      onTimeout = () =>
        reject(
          this.unavailable(`did not load ${this.o.fnName} within ${this.o.startTimeoutMs} ms`),
        );
      deadline.addEventListener('abort', onTimeout, { once: true });
      if (deadline.aborted) onTimeout();
    });
    let answer: Frame;
    try {
      answer = await Promise.race([
        conn.request({ kind: 'init', fnName: this.o.fnName, source: this.o.source }, 0),
        timedOut,
      ]);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      const died = await this.deathError(err, 'while loading');
      throw new AppError(died.code, died.message, {
        retryable: false,
        details: { phase: 'init', ...(died.details as object) },
      });
    } finally {
      deadline.removeEventListener('abort', onTimeout);
    }
    if (answer.kind === 'ready') return;
    if (answer.kind === 'error') throw loadFailed(this.o.label, answer);
    throw this.unavailable(`answered init with a ${answer.kind} frame`);
  }

  /** Follows the container until it stops (one long poll to the engine). */
  private watchExit(): void {
    this.exitSeen = this.o.client.waitExit(this.containerId, this.stopWaiting.signal).then(
      (code) => {
        this.exitCode = code;
        this.onExit();
        return code;
      },
      (err: unknown) => {
        if (!this.disposing) {
          this.o.logger.warn({ err, sandboxId: this.id }, 'lost track of a container');
          this.kill('the engine stopped reporting on it');
        }
        return null;
      },
    );
  }

  /** Finds the container's cgroup for direct resizes and per-run usage; the engine otherwise. */
  private async locateCgroup(): Promise<void> {
    if (this.o.cgroupMode.kind === 'none') return;
    try {
      const state = await this.o.client.inspect(this.containerId);
      if (!state.running || this.disposing) return;
      this.cgroup = cgroupOfProcess(this.o.cgroupMode, state.pid);
      this.profiler =
        this.cgroup === null ? null : new RunProfiler(this.cgroup, this.o.profileIntervalMs);
      this.limits.useCgroup(this.cgroup);
    } catch (err) {
      this.o.logger.debug({ err, sandboxId: this.id }, 'container cgroup not found');
    }
  }

  /** What a lost connection means: the container's death, classified, or a protocol error. */
  private async deathError(lost: unknown, phase: 'mid-run' | 'while loading'): Promise<AppError> {
    this.doomed = true;
    if (lost instanceof ConnectionLost && lost.kind === 'protocol') {
      // The caller disposes of the container once the run (or start) is settled.
      return new AppError(
        'FUNCTION_CRASHED',
        `sandbox ${this.id} of ${this.o.label} ${lost.message}`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<null>(
      (resolve) => (timer = setTimeout(() => resolve(null), EXIT_GRACE_MS)),
    );
    const code = await Promise.race([this.exitSeen, grace]);
    clearTimeout(timer);
    const [state, output] = await Promise.all([
      this.o.client.inspect(this.containerId).catch(() => null),
      this.o.client.logTail(this.containerId, LOG_TAIL_LINES).catch(() => ''),
    ]);
    const memoryMb = this.limits.allocation.memoryMb;
    const details = {
      fn: this.o.fnName,
      sandboxId: this.id,
      exitCode: code,
      memoryMb,
      output: output.slice(-4096),
    };
    if (
      state?.oomKilled === true ||
      (this.cgroup?.oomKills() ?? 0) > 0 ||
      HEAP_OOM_RE.test(output)
    ) {
      return new AppError(
        'FUNCTION_OOM',
        `function ${this.o.label} ran out of memory (limit ${memoryMb} MB)`,
        { details },
      );
    }
    const how = code === null ? 'its runtime closed the socket' : `exit code ${code}`;
    const tail = output.trim();
    return new AppError(
      'FUNCTION_CRASHED',
      `function ${this.o.label} exited ${phase} (${how}${tail === '' ? '' : `; output: ${tail.slice(-500)}`})`,
      { details },
    );
  }

  /** Why a container did not come up, with what it printed. */
  private async startFailure(err: unknown): Promise<AppError> {
    const output = await this.o.client.logTail(this.containerId, LOG_TAIL_LINES).catch(() => '');
    const tail = output.trim();
    return this.unavailable(
      `could not start: ${(err as Error).message}${tail === '' ? '' : `; output: ${tail.slice(-500)}`}`,
      err,
    );
  }

  private onExit(): void {
    this.doomed = true;
    // Whoever is waiting on the container (start, or a run in flight) explains its death first,
    // which needs the stopped container, then disposes of it.
    if (this.starting || this.inFlight !== null || this.disposing) return;
    this.o.logger.warn({ sandboxId: this.id, exitCode: this.exitCode }, 'idle container exited');
    this.dispose();
  }

  private dispose(): void {
    if (this.disposing) return;
    this.disposing = true;
    this.doomed = true;
    this.profiler?.stop();
    this.profiler = null;
    this.limits.stop();
    this.cgroup = null;
    this.conn?.destroy();
    this.o.client
      .remove(this.containerId)
      .catch((err: unknown) =>
        this.o.logger.warn({ err, sandboxId: this.id }, 'container removal failed'),
      )
      .finally(() => {
        this.stopWaiting.abort();
        rmSync(this.o.socketHostDir, { recursive: true, force: true });
        this.markExited();
      });
  }

  private unavailable(what: string, cause?: unknown): AppError {
    return new AppError('SANDBOX_UNAVAILABLE', `sandbox ${this.id} of ${this.o.label} ${what}`, {
      ...(cause === undefined ? {} : { cause }),
    });
  }
}

/** A failed create, explained: a missing image names how to get it. */
function createError(o: ContainerChildOptions, err: unknown): AppError {
  if (!(err instanceof AppError) || err.code !== 'NOT_FOUND') {
    return err instanceof AppError
      ? err
      : new AppError('SANDBOX_UNAVAILABLE', `creating container ${o.sandboxId} failed`, {
          cause: err,
        });
  }
  const how = o.ownImage
    ? `build or load it on this host (docker build / docker load); images are never pulled`
    : `build it with \`${BUILD_COMMAND}\``;
  return new AppError(
    'SANDBOX_UNAVAILABLE',
    `image ${o.spec.image} of function ${o.label} is not on the Docker engine at ${o.client.socketPath}: ${how}`,
    { retryable: false, cause: err, details: { image: o.spec.image, key: o.label } },
  );
}
