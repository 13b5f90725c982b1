/**
 * One runtime child: a Node process running `runtime/server.js`, its unix-socket connection, its
 * cgroup, and the one request it runs at a time.
 *
 * Invariants: the process starts with a clean environment (PATH, HOME=/tmp: the machine's
 * NODE_EXTRA_CA_CERTS alone costs ~47 ms per start), as the sandbox's unprivileged user and in
 * its own network namespace where the confinement says so, and joins its cgroup right after spawn; a run
 * settles exactly once (result, handler error, timeout, cancellation, or the child's death,
 * classified as OOM when the cgroup's OOM counter moved or V8 ran out of heap, else as a crash);
 * after a timeout, cancellation or death the child is never reused; its cgroup is removed after
 * the process has exited, then `exited` resolves.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { AppError, type ErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { runFrame } from './pooled.js';
import type { ChildCgroup } from './cgroup.js';
import { RunProfiler } from './profiler.js';
import { handlerThrew, loadFailed } from './run-errors.js';
import { LISTENING_LINE, type RuntimeSource } from './runtime/protocol.js';
import { ConnectionLost, RuntimeConnection } from './runtime-connection.js';
import { safeguardFor } from './safeguard.js';
import { confinedCommand, type Confinement } from './confine.js';
import type { Allocation } from '../../shared/schema/wire.js';
import { sameAllocation, type RunRequest } from './types.js';

export interface ChildOptions {
  id: string;
  /** Deployment key, used in messages. */
  label: string;
  fnName: string;
  source: RuntimeSource;
  serverPath: string;
  socketDir: string;
  cwd: string;
  allocation: Allocation;
  cgroup: ChildCgroup | null;
  /** The user and network namespace the child runs in (see confine.ts). */
  confinement: Confinement;
  /** The function's declared network: `host` keeps the host's network. */
  network: 'none' | 'host';
  /** Sampling interval of the run profiler, ms (0: start and end of a run only). */
  profileIntervalMs: number;
  startTimeoutMs: number;
  logger: Logger;
}

export interface ChildRunResult {
  output: Buffer;
  durationMs: number;
  /** Sampled from the cgroup, page cache excluded; null without one. */
  peakMemoryMb: number | null;
  /** Sampled from the cgroup; null without one. */
  peakCpuCores: number | null;
  cpuTimeMs: number | null;
  throttledMs: number | null;
  pressureMs: number | null;
  safeguardAtMs: number | null;
}

interface PendingRun {
  id: number;
  resolve: (r: ChildRunResult) => void;
  reject: (err: AppError) => void;
}

const STDERR_TAIL_BYTES = 4096;
const HEAP_OOM_RE =
  /heap out of memory|Reached heap limit|Allocation failed - process out of memory/;

export class RuntimeChild {
  readonly id: string;
  /** V8 old-space limit the process started with; a run needing more gets a new child. */
  readonly heapMb: number;
  readonly exited: Promise<void>;
  private current: Allocation;
  /** Null without a cgroup: runs then report no peaks. */
  private readonly profiler: RunProfiler | null;
  private conn: RuntimeConnection | null = null;
  private pending: PendingRun | null = null;
  private nextRunId = 1;
  private stderrTail = '';
  /** Set once the child must not be reused: it was killed, or it is dying. */
  private doomed = false;
  /** Set when we signalled the process (its exit is expected). */
  private killed = false;
  private exitHandled = false;
  private markExited!: () => void;

  private constructor(
    private readonly opts: ChildOptions,
    private readonly proc: ChildProcessByStdio<Writable, Readable, Readable>,
  ) {
    this.id = opts.id;
    this.current = opts.allocation;
    this.heapMb = opts.allocation.memoryMb;
    this.profiler =
      opts.cgroup === null ? null : new RunProfiler(opts.cgroup, opts.profileIntervalMs);
    this.exited = new Promise((resolve) => (this.markExited = resolve));
    proc.stderr.on('data', (c: Buffer) => this.onStderr(c));
    // stdin only tells the child we are alive (it exits when the pipe closes); never written.
    proc.stdin.on('error', () => undefined);
    // 'exit' can precede the last stderr bytes (V8's heap-OOM report); wait briefly for 'close'.
    proc.once('exit', () => {
      this.doomed = true;
      const late = setTimeout(() => this.onExit(), 100);
      proc.once('close', () => {
        clearTimeout(late);
        this.onExit();
      });
    });
    // A failed spawn emits 'error' and may never emit 'exit'.
    proc.once('error', () => {
      if (proc.pid === undefined) this.onExit();
    });
  }

  /** Spawns the child, loads the function; rejects with SANDBOX_UNAVAILABLE or FUNCTION_FAILED. */
  static async start(opts: ChildOptions): Promise<RuntimeChild> {
    const socketPath = join(opts.socketDir, `${opts.id}.sock`);
    const cmd = confinedCommand(opts.confinement, opts.network, process.execPath, [
      `--max-old-space-size=${Math.max(16, Math.floor(opts.allocation.memoryMb))}`,
      opts.serverPath,
      '--socket',
      socketPath,
      '--accept-timeout-ms',
      String(opts.startTimeoutMs),
      '--exit-with-stdin',
    ]);
    const proc = spawn(cmd.command, cmd.args, {
      cwd: opts.cwd,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/tmp' },
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(cmd.uid === undefined ? {} : { uid: cmd.uid, gid: cmd.gid }),
    });
    const child = new RuntimeChild(opts, proc);
    const deadline = AbortSignal.timeout(opts.startTimeoutMs);
    try {
      // Joining overlaps the child's boot; both must finish before the handler loads.
      const joined = proc.pid === undefined ? undefined : opts.cgroup?.join(proc.pid);
      joined?.catch(() => undefined); // observed below; not unhandled if listening fails first
      await child.waitListening(deadline);
      await joined;
      await child.connect(socketPath, deadline);
      await child.init(deadline);
      return child;
    } catch (err) {
      child.kill('start failed');
      await child.exited;
      throw err instanceof AppError
        ? err
        : child.unavailable(`could not start: ${(err as Error).message}`, err);
    }
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** True while the child can take another request. */
  get usable(): boolean {
    return !this.doomed;
  }

  /** The CPU quota and memory limit in force. */
  get allocation(): Allocation {
    return this.current;
  }

  /**
   * Applies CPU quota and memory limit now (µs: a cgroup write); a no-op when unchanged. A memory
   * limit below what the child holds is not applied (see `ChildCgroup.setLimits`).
   */
  resize(allocation: Allocation): void {
    if (sameAllocation(allocation, this.current)) return;
    const cgroup = this.opts.cgroup;
    this.current = cgroup === null ? { ...allocation } : cgroup.setLimits(allocation);
  }

  readLimits(): ReturnType<ChildCgroup['readLimits']> | null {
    return this.opts.cgroup?.readLimits() ?? null;
  }

  run(req: RunRequest): Promise<ChildRunResult> {
    const conn = this.conn;
    if (this.doomed || conn === null || !conn.alive) {
      return Promise.reject(this.unavailable('is not running'));
    }
    if (this.pending !== null)
      return Promise.reject(this.unavailable('is busy (one run at a time)'));
    const { timeoutMs, signal } = req;
    const id = this.nextRunId++;
    const profiler = this.profiler;
    const guard = safeguardFor(
      req,
      () => this.current,
      (a) => this.resize(a),
      (err) => this.opts.logger.warn({ err, sandboxId: this.id }, 'safeguard resize failed'),
    );
    profiler?.start(guard.watch);
    return new Promise<ChildRunResult>((resolve, reject) => {
      const startedMs = performance.now();
      const settle = (): void => {
        profiler?.stop();
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.pending = null;
      };
      const onAbort = (): void => {
        settle();
        this.kill('cancelled');
        reject(
          new AppError('CANCELLED', `run of ${this.opts.label} cancelled`, {
            details: { reason: String(signal?.reason) },
          }),
        );
      };
      const timer = setTimeout(() => {
        settle();
        this.kill('timed out');
        reject(
          new AppError(
            'FUNCTION_TIMEOUT',
            `function ${this.opts.label} timed out after ${timeoutMs} ms (its timeoutMs limit)`,
            { details: { fn: this.opts.fnName, timeoutMs } },
          ),
        );
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = {
        id,
        resolve: (r) => {
          settle();
          const durationMs = performance.now() - startedMs;
          const usage = profiler?.finish() ?? null;
          resolve({
            output: r.output,
            durationMs,
            peakMemoryMb: usage?.peakMemoryMb ?? null,
            peakCpuCores: usage?.peakCpuCores ?? null,
            cpuTimeMs: usage?.cpuTimeMs ?? r.cpuTimeMs,
            throttledMs: usage?.throttledMs ?? null,
            pressureMs: usage?.pressureMs ?? null,
            safeguardAtMs: guard.raisedAtMs(),
          });
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
      conn.request(runFrame(id, req, timeoutMs), id).then(
        (answer) => {
          // A late answer to a run already settled (timed out, cancelled) is dropped.
          if (this.pending?.id !== id) return;
          if (answer.kind === 'result') {
            this.pending.resolve({
              output: answer.output,
              durationMs: 0,
              peakMemoryMb: null,
              peakCpuCores: null,
              cpuTimeMs: answer.cpuTimeUs / 1000,
              throttledMs: null,
              pressureMs: null,
              safeguardAtMs: null,
            });
          } else if (answer.kind === 'error') {
            this.pending.reject(handlerThrew(this.opts.label, answer));
          } else this.fail('FUNCTION_CRASHED', `answered a run with a ${answer.kind} frame`);
        },
        (lost: unknown) => {
          // A closed socket is the child's death: the exit handler classifies it (OOM, crash).
          if (lost instanceof ConnectionLost && lost.kind === 'protocol') {
            this.fail('FUNCTION_CRASHED', lost.message);
          }
        },
      );
      if (signal?.aborted === true) onAbort();
    });
  }

  /**
   * SIGKILLs the child, which is never reused; `exited` resolves once it is gone. A run still in
   * flight fails with SANDBOX_UNAVAILABLE (retryable: the function did nothing wrong).
   */
  kill(reason = 'stopped by the worker'): void {
    this.killed = true;
    this.pending?.reject(this.unavailable(`was stopped mid-run: ${reason}`));
    this.terminate();
  }

  private terminate(): void {
    this.doomed = true;
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  private waitListening(deadline: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let seen = '';
      const onData = (chunk: Buffer): void => {
        seen += chunk.toString('utf8');
        const at = seen.indexOf(`${LISTENING_LINE}\n`);
        if (at < 0) return;
        done();
        const rest = seen.slice(at + LISTENING_LINE.length + 1);
        if (rest !== '') this.logOutput('stdout', rest);
        this.proc.stdout.on('data', (c: Buffer) => this.logOutput('stdout', c.toString('utf8')));
        resolve();
      };
      const onExit = (): void => {
        done();
        reject(this.unavailable(`exited while starting: ${this.describeExit()}`));
      };
      const onError = (err: Error): void => {
        done();
        reject(this.unavailable(`could not be spawned: ${err.message}`, err));
      };
      const onTimeout = (): void => {
        done();
        reject(
          this.unavailable(`did not listen within ${this.opts.startTimeoutMs} ms (startTimeoutMs)`),
        );
      };
      const done = (): void => {
        this.proc.stdout.off('data', onData);
        this.proc.off('exit', onExit);
        this.proc.off('error', onError);
        deadline.removeEventListener('abort', onTimeout);
      };
      this.proc.stdout.on('data', onData);
      this.proc.once('exit', onExit);
      this.proc.once('error', onError);
      deadline.addEventListener('abort', onTimeout, { once: true });
    });
  }

  private async connect(socketPath: string, deadline: AbortSignal): Promise<void> {
    this.conn = await RuntimeConnection.open(socketPath, () =>
      deadline.aborted
        ? `did not accept a connection within ${this.opts.startTimeoutMs} ms`
        : this.doomed
          ? `exited before accepting a connection (${this.describeExit()})`
          : null,
    ).catch((err: unknown) => {
      throw this.unavailable(`socket ${socketPath}: ${(err as Error).message}`, err);
    });
    // A broken connection means a dead or broken child; the exit handler classifies it.
    this.conn.onLost(() => this.terminate());
  }

  private async init(deadline: AbortSignal): Promise<void> {
    const conn = this.conn!;
    let onTimeout = (): void => undefined;
    const timedOut = new Promise<never>((_, reject) => {
      onTimeout = () =>
        reject(
          this.unavailable(
            `did not load ${this.opts.fnName} within ${this.opts.startTimeoutMs} ms`,
          ),
        );
      deadline.addEventListener('abort', onTimeout, { once: true });
      if (deadline.aborted) onTimeout();
    });
    let answer;
    try {
      answer = await Promise.race([
        conn.request({ kind: 'init', fnName: this.opts.fnName, source: this.opts.source }, 0),
        timedOut,
      ]);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      if (err.kind === 'protocol') throw this.unavailable(err.message);
      await this.exited;
      throw new AppError(
        'FUNCTION_CRASHED',
        `function ${this.opts.label} exited while loading (${this.describeExit()})`,
        {
          retryable: false,
          details: {
            phase: 'init',
            exitCode: this.proc.exitCode,
            signal: this.proc.signalCode,
            stderr: this.stderrTail,
          },
        },
      );
    } finally {
      deadline.removeEventListener('abort', onTimeout);
    }
    if (answer.kind === 'ready') return;
    if (answer.kind === 'error') throw loadFailed(this.opts.label, answer);
    throw this.unavailable(`answered init with a ${answer.kind} frame`);
  }

  /** Protocol violation: kill the child and fail the run in flight. */
  private fail(code: ErrorCode, what: string): void {
    this.pending?.reject(new AppError(code, `sandbox ${this.id} of ${this.opts.label} ${what}`));
    this.kill(what);
  }

  private onStderr(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_BYTES);
    this.logOutput('stderr', text);
  }

  private logOutput(stream: 'stdout' | 'stderr', text: string): void {
    this.opts.logger.debug({ sandboxId: this.id, stream, text: text.trimEnd() }, 'function output');
  }

  private onExit(): void {
    if (this.exitHandled) return;
    this.exitHandled = true;
    const wasKilled = this.killed;
    this.doomed = true;
    const pending = this.pending;
    if (pending !== null) {
      const oom = (this.opts.cgroup?.oomKills() ?? 0) > 0 || HEAP_OOM_RE.test(this.stderrTail);
      const details = {
        fn: this.opts.fnName,
        exitCode: this.proc.exitCode,
        signal: this.proc.signalCode,
        memoryMb: this.current.memoryMb,
        stderr: this.stderrTail,
      };
      pending.reject(
        oom
          ? new AppError(
              'FUNCTION_OOM',
              `function ${this.opts.label} ran out of memory (limit ${this.current.memoryMb} MB)`,
              { details },
            )
          : new AppError(
              'FUNCTION_CRASHED',
              `function ${this.opts.label} exited mid-run (${this.describeExit()})`,
              { details },
            ),
      );
    } else if (!wasKilled) {
      this.opts.logger.warn(
        { sandboxId: this.id, exit: this.describeExit() },
        'idle sandbox exited',
      );
    }
    this.conn?.destroy();
    const removal = this.opts.cgroup?.remove() ?? Promise.resolve();
    removal
      .catch((err: unknown) =>
        this.opts.logger.warn({ err, sandboxId: this.id }, 'cgroup removal failed'),
      )
      .finally(() => this.markExited());
  }

  private describeExit(): string {
    const { exitCode, signalCode } = this.proc;
    const how = signalCode !== null ? `signal ${signalCode}` : `exit code ${exitCode}`;
    const tail = this.stderrTail.trim();
    return tail === '' ? how : `${how}; stderr: ${tail.slice(-500)}`;
  }

  private unavailable(what: string, cause?: unknown): AppError {
    return new AppError('SANDBOX_UNAVAILABLE', `sandbox ${this.id} of ${this.opts.label} ${what}`, {
      ...(cause === undefined ? {} : { cause }),
    });
  }
}
