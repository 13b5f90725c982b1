/**
 * The Sandbox interface: where the worker engine runs one function call. One implementation per
 * tier (process children, Docker containers, threads, the worker's own loop), all running the
 * same handler code (`runtime/handler.ts`), and one router (`tiered.ts`) that sends each
 * function to its tier.
 *
 * A sandbox does not retry: a failed run is reported once, as an AppError with one of
 * FUNCTION_FAILED, FUNCTION_TIMEOUT, FUNCTION_OOM, FUNCTION_CRASHED, SANDBOX_UNAVAILABLE (or
 * CANCELLED when the caller's signal aborts). Retry policy belongs to the engine.
 */
import type { FunctionSpec, Isolation } from '../../shared/dag/types.js';
import type { Allocation } from '../../shared/schema/wire.js';
import type { InvocationId } from '../../shared/ids.js';
import type { PreparedReport } from './pool.js';

export interface FunctionDeployment {
  /** `${workflow}@${version}/${fn}`; pools are kept per key. */
  key: string;
  workflow: string;
  version: number;
  fn: FunctionSpec;
  /** Directory `handler` paths resolve against. */
  baseDir: string;
}

/**
 * Harvesting's CPU safeguard for one run: once the run has used its whole CPU quota over a full
 * CFS period (and, with `afterCpuMs`, more CPU time than its share was sized for), its quota is
 * raised at once to at least `cpu` — its user's allocation — for the rest of the run.
 */
export interface CpuSafeguard {
  cpu: number;
  /** Null: saturating the quota is itself the misprediction (a peak-sized share). */
  afterCpuMs: number | null;
}

export interface RunRequest {
  invocationId: InvocationId;
  node: string;
  attempt: number;
  /** `encodeValue(step input)`. */
  input: Buffer;
  /** `encodeValue(invocation input)`: `ctx.workflowInput` and synthetic field pass-through. */
  workflowInput?: Buffer;
  /** Limit on the handler's run, counted from when the request reaches the sandbox child. */
  timeoutMs: number;
  allocation: Allocation;
  /** Raise the quota of a starved harvested run (see `CpuSafeguard`); absent: never. */
  safeguard?: CpuSafeguard;
  /** Aborting cancels a queued run, or kills the child of a running one (CANCELLED). */
  signal?: AbortSignal;
}

export interface RunResult {
  /** `encodeValue(result)`. */
  output: Buffer;
  /** True when this run had to start its sandbox. */
  cold: boolean;
  /** Time spent waiting for a free slot under the per-function concurrency cap. */
  queueMs: number;
  /** Time spent starting the sandbox and loading the handler (0 when warm). */
  initMs: number;
  /** Handler run as seen by the worker: request sent → result received. */
  durationMs: number;
  /** The run took a sandbox started ahead for it by `prepareAhead` (docs/guides/chains.md). */
  prepared?: boolean;
  /**
   * The CPU quota and memory limit the run started with: the request's allocation, except a
   * memory limit below what the warm sandbox already held, which stays as it was. Live
   * rebalancing (`resizeRun`) may raise the CPU quota afterwards.
   */
  allocation: Allocation;
  /**
   * Peak memory of the sandbox during this run, MB, page cache excluded (sampled from its cgroup
   * every `profileIntervalMs`); null without cgroups.
   */
  peakMemoryMb: number | null;
  /**
   * Peak CPU use during this run, cores: the highest rate over one CFS period (see
   * `profiler.ts`), or CPU time / duration for a shorter run; null without cgroups.
   */
  peakCpuCores: number | null;
  /** CPU time used by the sandbox during this run; null when it cannot be measured. */
  cpuTimeMs: number | null;
  /** Time the run was held back by its CPU quota (cgroup `cpu.stat`); null when unreadable. */
  throttledMs: number | null;
  /** Time the run had tasks waiting for a CPU (cgroup v2 `cpu.pressure`); null elsewhere. */
  pressureMs: number | null;
  /** Ms into the run when the CPU safeguard raised its quota; null when it did not. */
  safeguardAtMs: number | null;
  sandboxId: string;
  /** The tier that ran it (docker functions on a worker without an engine say process). */
  isolation: Isolation;
}

/** A request in a sandbox, named as the engine names it. */
export interface RunRef {
  invocationId: InvocationId;
  node: string;
}

export interface FunctionStats {
  /** Started children waiting for work. */
  warm: number;
  /** Children running a request (or starting for one). */
  busy: number;
  /** Requests waiting under the concurrency cap. */
  queued: number;
}

export interface SandboxStats {
  sandboxes: number;
  busy: number;
  perFunction: Record<string, FunctionStats>;
}

export interface Sandbox {
  readonly kind: Isolation;
  /** Idempotent per key; `prewarm` starts that many sandboxes ahead of the first run. */
  deploy(d: FunctionDeployment, options?: { prewarm?: number }): Promise<void>;
  run(key: string, req: RunRequest): Promise<RunResult>;
  /** Changes a live sandbox's CPU quota and memory limit (harvesting). */
  resize(sandboxId: string, allocation: Allocation): Promise<void>;
  /**
   * Changes the CPU quota of the sandbox running (or about to run) request `run` — live
   * rebalancing. A request still waiting for a sandbox gets the quota when it starts. Resolves
   * false when no such request is in this sandbox (finished, or never came); the quota of a
   * sandbox is never changed once its request is over, as it may be running another already.
   */
  resizeRun(run: RunRef, change: { cpu: number }): Promise<boolean>;
  undeploy(key: string): Promise<void>;
  /**
   * Starts one sandbox for `key` ahead of a predicted run, released after `ttlMs` if unused;
   * resolves false when `want` (default 1) are idle or being prepared already, or the cap is
   * reached (docs/guides/chains.md). `needBy`, epoch ms: when its node is predicted to start
   * (orders it among the worker's starts).
   */
  prepareAhead?(key: string, ttlMs: number, want?: number, needBy?: number): Promise<boolean>;
  /**
   * A run of `key` is coming (its node is reading an input held on another worker): start its
   * sandbox now unless one is idle or starting, so the cold start overlaps the read. The run still
   * reports it as its cold start. Never throws.
   */
  expectRun?(key: string): void;
  /** Memory-seconds of prepared sandboxes per deployment key since the last call (then reset). */
  takePreparedReport?(): Record<string, PreparedReport>;
  stats(): SandboxStats;
  /** Idempotent; kills every child and removes every cgroup this sandbox made. */
  close(): Promise<void>;
}

/** Whether two allocations set the same limits (the hard memory limit included). */
export function sameAllocation(a: Allocation, b: Allocation): boolean {
  return a.cpu === b.cpu && a.memoryMb === b.memoryMb && a.memoryMaxMb === b.memoryMaxMb;
}
