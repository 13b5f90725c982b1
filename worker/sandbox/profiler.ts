/**
 * The run profiler: while a sandbox runs one request, it samples the sandbox's cgroup every
 * `intervalMs` and keeps the run's CPU time, peak CPU (cores) and peak memory without page cache
 * (MB) — the figures harvesting's profiles and models are built from.
 *
 * Peak CPU is the highest rate of CPU use over a window of one CFS period (100 ms unless the host
 * says otherwise) ending at a sample: Δ usage / Δ wall between that sample and the newest one at
 * least a period older; windows slide by one interval. Not Δ between consecutive samples:
 * - the kernel brings a running task's CPU usage up to date at scheduler ticks (every 4 ms at
 *   HZ=250), so a 10 ms Δ is off by up to ±8 ms: a one-thread spin reads 1.16 cores at p50 and
 *   1.3 at the top (measured on the dev host), against 0.99 and 1.03 over 100 ms;
 * - under a quota the kernel lets a group run unthrottled until the period's quota is spent,
 *   then stops it until the period ends: short windows of a group held to 0.5 cores read 1 core
 *   half of the time. Over a period-long window the rate follows the quota in steady state; the
 *   first window of a run may still read up to twice the quota, when the group comes out of idle
 *   with the period's quota unspent and runs on into the next period's (it did use that much).
 * A run shorter than one window reports its mean, CPU time / duration. Both are capped at the
 * host's cores (the only bound that always holds, against tick skew on sub-ms runs).
 *
 * Peak memory is the largest sample (the last one taken as the run ends) of usage − reclaimable
 * page cache. Usage is one cheap read; the page cache figure costs the kernel formatting all of
 * memory.stat (~15 µs when caches are cold, as they are between warm calls — more than the rest
 * of the profiler), so it is re-read only when usage has moved more than `CACHE_REREAD_BYTES`
 * since it was last read, in this run or an earlier one of the same sandbox; otherwise the last
 * figure stands. The error that leaves is the change in page cache while usage moved less than
 * that, i.e. at most about that much unless anonymous memory shrank by as much as the cache grew
 * in the same instant. Warm calls whose memory stays put (within 1 MiB) never read it.
 *
 * Cost: one profiler per sandbox, reused by its runs; per run one unref'd interval timer, cleared
 * when the run settles (a run shorter than the interval never samples in between); per sample
 * two preads (CPU usage, memory usage) of control files kept open, parsed in place, plus
 * memory.stat as above. Nothing is allocated per sample. Measured on the dev host (cgroup v1):
 * start + finish of a warm run ≈ 5 µs of worker CPU, a sample ≈ 3 µs (≈ 15 µs with memory.stat).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { UsageSource } from './cgroup.js';

/**
 * Harvesting's CPU safeguard as the profiler runs it: `quotaCores()` is the quota in force;
 * once a window of one full CFS period shows the run using at least `SATURATED_SHARE` of it (and
 * more than `afterCpuMs` of CPU time so far, when set), `onSaturated` is called, once per run.
 */
export interface SaturationWatch {
  quotaCores(): number;
  afterCpuMs: number | null;
  onSaturated(atMs: number): void;
}

/** Share of its quota a run must use over a full period to count as starved by it. */
export const SATURATED_SHARE = 0.9;

export interface RunProfile {
  /** CPU time of the sandbox during the run; null when its usage cannot be read. */
  cpuTimeMs: number | null;
  /** See the header; null when CPU usage cannot be read. */
  peakCpuCores: number | null;
  /** Largest sampled memory without page cache; null when memory cannot be read. */
  peakMemoryMb: number | null;
  /** Time the run was throttled by its quota; null when unreadable. */
  throttledMs: number | null;
  /** Time its tasks waited for a CPU (v2 PSI); null where there is no per-group figure. */
  pressureMs: number | null;
}

const MIB = 1024 * 1024;
const HOST_CORES = availableParallelism();
/** See the header: how far usage may move before the page cache figure is read again. */
const CACHE_REREAD_BYTES = 1024 * 1024;
/** Samples kept for the window; enough for a 250 ms period at a 1 ms interval. */
const MAX_RING = 256;

export class RunProfiler {
  private readonly windowMs: number;
  private readonly wallMs: Float64Array;
  private readonly usageUs: Float64Array;
  /** Samples in the ring, and where the next one goes. */
  private count = 0;
  private head = 0;
  private startWallMs = 0;
  private startUsageUs: number | null = null;
  private lastWallMs = 0;
  private lastUsageUs: number | null = null;
  /** Highest windowed rate so far, cores; -1 until a window has been seen. */
  private peakCores = -1;
  private peakBytes = -1;
  /** Usage and page cache at the last read of the cache (kept across runs); -1: never read. */
  private cacheAtUsage = -1;
  private cacheBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private startThrottledUs: number | null = null;
  private startPressureUs: number | null = null;
  private watch: SaturationWatch | null = null;
  private readonly tick = (): void => this.sample();

  /** `intervalMs` 0: no sampling in between, only at the start and end of each run. */
  constructor(
    private readonly source: UsageSource,
    private readonly intervalMs: number,
  ) {
    this.windowMs = source.cpuPeriodUs / 1000;
    const size = intervalMs > 0 ? Math.min(MAX_RING, Math.ceil(this.windowMs / intervalMs) + 2) : 2;
    this.wallMs = new Float64Array(size);
    this.usageUs = new Float64Array(size);
  }

  /**
   * Marks the start of a run and starts sampling; call right before the request is sent. With a
   * `watch`, every window is also checked against the quota (the CPU safeguard).
   */
  start(watch: SaturationWatch | null = null): void {
    this.stop();
    this.watch = watch;
    this.startThrottledUs = this.source.throttledUs();
    this.startPressureUs = this.source.pressureUs();
    this.count = 0;
    this.head = 0;
    this.peakCores = -1;
    this.peakBytes = -1;
    const now = performance.now();
    const usage = this.source.cpuUsageUs();
    this.startWallMs = now;
    this.startUsageUs = usage;
    this.lastWallMs = now;
    this.lastUsageUs = usage;
    if (usage !== null) this.push(now, usage);
    if (this.intervalMs > 0) {
      this.timer = setInterval(this.tick, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops sampling without a result (a run that failed); idempotent. */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.watch = null;
  }

  /** Takes the last sample and returns the run's figures. */
  finish(): RunProfile {
    this.stop();
    this.sample();
    const cpuUs =
      this.startUsageUs === null || this.lastUsageUs === null
        ? null
        : this.lastUsageUs - this.startUsageUs;
    const durationMs = this.lastWallMs - this.startWallMs;
    let peakCpuCores: number | null = null;
    if (cpuUs !== null) {
      const cores =
        this.peakCores >= 0 ? this.peakCores : durationMs > 0 ? cpuUs / 1000 / durationMs : 0;
      peakCpuCores = Math.min(Math.max(0, cores), HOST_CORES);
    }
    const since = (start: number | null, now: number | null): number | null =>
      start === null || now === null ? null : Math.max(0, now - start) / 1000;
    return {
      cpuTimeMs: cpuUs === null ? null : cpuUs / 1000,
      peakCpuCores,
      peakMemoryMb: this.peakBytes < 0 ? null : this.peakBytes / MIB,
      throttledMs: since(this.startThrottledUs, this.source.throttledUs()),
      pressureMs: since(this.startPressureUs, this.source.pressureUs()),
    };
  }

  private sample(): void {
    const now = performance.now();
    const usage = this.source.cpuUsageUs();
    if (usage !== null) {
      this.lastWallMs = now;
      this.lastUsageUs = usage;
      this.windowRate(now, usage);
      this.push(now, usage);
    }
    this.sampleMemory();
  }

  private sampleMemory(): void {
    const usage = this.source.memoryUsageBytes();
    if (usage === null) return;
    if (this.cacheAtUsage < 0 || Math.abs(usage - this.cacheAtUsage) > CACHE_REREAD_BYTES) {
      const cache = this.source.pageCacheBytes();
      if (cache === null) return;
      this.cacheAtUsage = usage;
      this.cacheBytes = cache;
    }
    const bytes = Math.max(0, usage - this.cacheBytes);
    if (bytes > this.peakBytes) this.peakBytes = bytes;
  }

  /** The rate over the newest sample at least a window older than `now` (the oldest kept when the ring is full). */
  private windowRate(now: number, usage: number): void {
    const size = this.wallMs.length;
    let at = -1;
    for (let k = 1; k <= this.count; k++) {
      const i = (this.head - k + size) % size;
      if (now - this.wallMs[i]! >= this.windowMs) {
        at = i;
        break;
      }
    }
    if (at < 0 && this.count === size) at = this.head % size; // the oldest: ring shorter than the window
    if (at < 0) return;
    const dtMs = now - this.wallMs[at]!;
    if (dtMs <= 0) return;
    const cores = (usage - this.usageUs[at]!) / 1000 / dtMs;
    if (cores > this.peakCores) this.peakCores = cores;
    const w = this.watch;
    if (w !== null && dtMs >= this.windowMs && cores >= SATURATED_SHARE * w.quotaCores()) {
      const usedMs = this.startUsageUs === null ? 0 : (usage - this.startUsageUs) / 1000;
      if (w.afterCpuMs === null || usedMs > w.afterCpuMs) {
        this.watch = null;
        w.onSaturated(now - this.startWallMs);
      }
    }
  }

  private push(now: number, usage: number): void {
    const size = this.wallMs.length;
    this.wallMs[this.head] = now;
    this.usageUs[this.head] = usage;
    this.head = (this.head + 1) % size;
    if (this.count < size) this.count++;
  }
}
