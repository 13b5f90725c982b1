/**
 * The one file that touches the cgroup filesystem. It detects the host's cgroup mode (v2, v1 or
 * none), keeps one cgroup per sandbox child under a root it owns (`faasflow/<workerId>` by
 * default, relative to the cgroup mount), sets CPU quota, CPU weight and memory limits, reads CPU
 * usage, throttled time, CPU pressure and memory usage without page cache (what the run profiler
 * samples) and the OOM-kill counter, and removes what it created.
 *
 * CPU weight follows the quota, as Kubernetes sets it: shares = millicores × 1024 / 1000 (v1
 * `cpu.shares`, at least 2), v2 `cpu.weight` = 1 + (shares − 2) × 9999 / 262142 — so an
 * allocation also counts when cores are contended, not only as a cap. Memory has a soft and a
 * hard limit when the allocation carries `memoryMaxMb` (harvesting's safeguard): v2
 * `memory.high` at the harvested size and `memory.max` at the user's; v1
 * `memory.soft_limit_in_bytes` and `memory.limit_in_bytes` (v1's soft limit only acts under
 * memory pressure: it is the nearest v1 has). Without it the soft limit is lifted.
 *
 * Invariants: every directory made here is removed by `remove()`/`close()` (a root shared with
 * another live instance is left when busy); leftovers of a crashed earlier run (empty child
 * groups under our root) are swept on create. Per-run reads and writes use the sync fs API on
 * purpose: cgroupfs is kernel memory (a write costs ~10 µs) and the async API would add a thread
 * pool hop to every warm call. Usage reads go through files kept open and parse the kernel's
 * text in place (no strings): the profiler reads them every few ms while a run lasts. A memory
 * limit is never lowered below what the group holds without page cache (the kernel would
 * OOM-kill on v2): such a shrink keeps the current limit and says so in what `setLimits` returns.
 */
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  realpathSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../shared/errors.js';
import { cpuSharesOf, cpuWeightOf } from './cpu-weight.js';
import type { Allocation } from '../../shared/schema/wire.js';

export type CgroupMode =
  | { kind: 'v2'; mountPath: string }
  | { kind: 'v1'; cpuPath: string; cpuacctPath: string | null; memoryPath: string }
  | { kind: 'none'; reason: string };

const MIB = 1024 * 1024;
const V2_PERIOD_US = 100_000;
const MIN_QUOTA_US = 1000;
/** v1 `memory.soft_limit_in_bytes` reads back this for "no limit" (PAGE_COUNTER_MAX pages). */
const V1_UNLIMITED = '-1';

/** Detects what this host offers, checking write access where `root` would be created. */
export function detectCgroupMode(mountPath = '/sys/fs/cgroup', root = 'faasflow'): CgroupMode {
  const controllersFile = join(mountPath, 'cgroup.controllers');
  if (existsSync(controllersFile)) {
    const controllers = readFileSync(controllersFile, 'utf8').trim().split(/\s+/);
    if (!controllers.includes('cpu') || !controllers.includes('memory')) {
      return {
        kind: 'none',
        reason: `cgroup v2 at ${mountPath} lacks the cpu and memory controllers (has: ${controllers.join(' ') || 'none'})`,
      };
    }
    const denied = notWritable(join(mountPath, root));
    if (denied !== null) return { kind: 'none', reason: `cgroup v2: no write access to ${denied}` };
    return { kind: 'v2', mountPath };
  }
  const cpu = hierarchy(mountPath, ['cpu', 'cpu,cpuacct'], 'cpu.cfs_quota_us');
  const memory = hierarchy(mountPath, ['memory'], 'memory.limit_in_bytes');
  if (cpu === null || memory === null) {
    return {
      kind: 'none',
      reason: `neither cgroup v2 (${controllersFile}) nor cgroup v1 cpu and memory hierarchies under ${mountPath} were found`,
    };
  }
  for (const h of [cpu, memory]) {
    const denied = notWritable(join(h, root));
    if (denied !== null) return { kind: 'none', reason: `cgroup v1: no write access to ${denied}` };
  }
  const cpuacct = hierarchy(mountPath, ['cpuacct', 'cpu,cpuacct', 'cpu'], 'cpuacct.usage');
  return { kind: 'v1', cpuPath: cpu, cpuacctPath: cpuacct, memoryPath: memory };
}

/** One line saying which mode is in use and why, for the log. */
export function describeCgroupMode(mode: CgroupMode): string {
  switch (mode.kind) {
    case 'v2':
      return `cgroup v2 at ${mode.mountPath}: CPU quota and memory limit per sandbox`;
    case 'v1':
      return `cgroup v1 (cpu ${mode.cpuPath}, memory ${mode.memoryPath}): CPU quota and memory limit per sandbox`;
    case 'none':
      return `no cgroups, sandboxes run without CPU or memory limits: ${mode.reason}`;
    default:
      return mode satisfies never;
  }
}

function hierarchy(mountPath: string, names: string[], marker: string): string | null {
  for (const name of names) {
    const dir = join(mountPath, name);
    if (existsSync(join(dir, marker))) return realpathSync(dir);
  }
  return null;
}

/** The nearest existing ancestor of `dir` when it is not writable; null when it is. */
function notWritable(dir: string): string | null {
  let probe = dir;
  while (!existsSync(probe) && dirname(probe) !== probe) probe = dirname(probe);
  try {
    accessSync(probe, constants.W_OK);
    return null;
  } catch {
    return probe;
  }
}

/** What the run profiler reads from a sandbox's cgroup (`profiler.ts`). */
export interface UsageSource {
  /** CFS period of the group's CPU quota, µs. */
  readonly cpuPeriodUs: number;
  /** CPU time the group has used since it was made, µs; null when it cannot be read. */
  cpuUsageUs(): number | null;
  /** Memory charged to the group now, page cache included, bytes (one cheap read); or null. */
  memoryUsageBytes(): number | null;
  /**
   * The reclaimable page cache in that usage, bytes: file cache − shmem (shared memory and tmpfs
   * cannot be dropped, and a container's /tmp is one). Costlier: the kernel formats every memory
   * statistic (~10-15 µs). Null when it cannot be read.
   */
  pageCacheBytes(): number | null;
  /** Time the group was throttled by its CPU quota since it was made, µs; null if unreadable. */
  throttledUs(): number | null;
  /**
   * Time some of the group's tasks waited for a CPU since it was made (PSI `some total`), µs;
   * null where the kernel gives no per-group figure (cgroup v1).
   */
  pressureUs(): number | null;
}

/** The cgroup of one sandbox child. */
export interface ChildCgroup extends UsageSource {
  readonly name: string;
  /** Memory the group holds now without reclaimable page cache, bytes; null when unreadable. */
  memoryBytes(): number | null;
  /**
   * Moves the process in. Async on purpose: a v1 migration waits for an RCU grace period
   * (~10-20 ms), which must neither block the event loop nor be paid in series per hierarchy.
   */
  join(pid: number): Promise<void>;
  /**
   * Writes the CPU quota and memory limit; returns the limits now in force. A memory limit below
   * what the group holds (page cache excluded) is not written: the old limit stays and is
   * returned, the CPU quota still changes.
   */
  setLimits(allocation: Allocation): Allocation;
  oomKills(): number;
  /** The limits as the kernel holds them (for diagnostics and tests). */
  readLimits(): {
    cpuQuotaUs: number | null;
    cpuPeriodUs: number;
    /** v1 `cpu.shares`, v2 `cpu.weight`. */
    cpuWeight: number | null;
    memoryLimitBytes: number | null;
    /** v2 `memory.high`, v1 `memory.soft_limit_in_bytes`; null when there is none. */
    memorySoftLimitBytes: number | null;
  };
  /** Removes the group; the process must have exited. */
  remove(): Promise<void>;
}

/** Owner of the root of our cgroups. */
export class Cgroups {
  private readonly created: string[] = [];

  private constructor(
    readonly mode: CgroupMode,
    private readonly root: string,
  ) {}

  /** Creates (or reuses) the root in every hierarchy; degrades to `none` when that fails. */
  static create(mode: CgroupMode, root: string): Cgroups {
    if (mode.kind === 'none') return new Cgroups(mode, root);
    const cgroups = new Cgroups(mode, root);
    try {
      for (const base of cgroups.bases()) {
        cgroups.makeRoot(base);
        sweepEmptyChildren(join(base, root));
      }
      return cgroups;
    } catch (err) {
      const reason = `creating ${root}: ${err instanceof Error ? err.message : String(err)}`;
      return new Cgroups({ kind: 'none', reason }, root);
    }
  }

  /** A new group for one child, or null when cgroups are not in use. */
  group(name: string, allocation: Allocation): ChildCgroup | null {
    const { mode } = this;
    if (mode.kind === 'none') return null;
    try {
      const group =
        mode.kind === 'v1'
          ? new V1Group(name, mode, this.root)
          : new V2Group(name, join(mode.mountPath, this.root, name));
      group.setLimits(allocation);
      return group;
    } catch (err) {
      for (const base of this.bases()) tryRmdir(join(base, this.root, name));
      throw new AppError('SANDBOX_UNAVAILABLE', `creating cgroup ${this.root}/${name} failed`, {
        cause: err,
        details: { reason: err instanceof Error ? err.message : String(err) },
      });
    }
  }

  /**
   * Removes our root (`root` is ours alone, even when a crashed predecessor made it) and the
   * ancestors this instance created; a directory still in use by another instance stays.
   */
  close(): void {
    for (const base of this.bases()) tryRmdir(join(base, this.root));
    for (const dir of this.created.reverse()) tryRmdir(dir);
    this.created.length = 0;
  }

  private bases(): string[] {
    const { mode } = this;
    switch (mode.kind) {
      case 'none':
        return [];
      case 'v2':
        return [mode.mountPath];
      case 'v1':
        return unique([mode.cpuPath, mode.cpuacctPath, mode.memoryPath]);
      default:
        return mode satisfies never;
    }
  }

  private makeRoot(base: string): void {
    let dir = base;
    for (const part of relative(base, join(base, this.root)).split('/')) {
      if (this.mode.kind === 'v2') enableV2Controllers(dir);
      dir = join(dir, part);
      if (!existsSync(dir)) {
        mkdirSync(dir);
        this.created.push(dir);
      }
    }
    if (this.mode.kind === 'v2') enableV2Controllers(dir);
  }
}

function enableV2Controllers(dir: string): void {
  const enabled = readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8');
  if (/\bcpu\b/.test(enabled) && /\bmemory\b/.test(enabled)) return;
  writeFileSync(join(dir, 'cgroup.subtree_control'), '+cpu +memory');
}

function sweepEmptyChildren(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const child = join(dir, entry.name);
    if (readFileSync(join(child, 'cgroup.procs'), 'utf8').trim() === '') tryRmdir(child);
  }
}

function unique(paths: (string | null)[]): string[] {
  return [...new Set(paths.filter((p): p is string => p !== null))];
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/** rmdir fails with EBUSY for a moment after the last task exits; retry briefly. */
async function removeDirs(dirs: string[]): Promise<void> {
  const deadline = Date.now() + 2000;
  let left = dirs.filter((d) => !tryRmdir(d));
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(5);
    left = left.filter((d) => !tryRmdir(d));
  }
  if (left.length > 0) {
    throw new AppError('INTERNAL', `cgroup directories could not be removed: ${left.join(', ')}`);
  }
}

function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (err) {
    throw new AppError(
      'INTERNAL',
      `writing ${JSON.stringify(value)} to ${file} failed: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

async function writeAsync(file: string, value: string): Promise<void> {
  try {
    await writeFile(file, value);
  } catch (err) {
    throw new AppError(
      'INTERNAL',
      `writing ${JSON.stringify(value)} to ${file} failed: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function readText(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function readNumber(file: string): number | null {
  return parseNumber(readText(file));
}

function quotaUs(cpu: number, periodUs: number): number {
  return Math.max(MIN_QUOTA_US, Math.round(cpu * periodUs));
}

function parseKey(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m === null ? null : Number(m[1]);
}

function parseNumber(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

/**
 * A control file kept open for the sampling path: pread at offset 0 costs ~1 µs, against ~10 µs
 * for open + read + close, and its text is parsed in the one buffer it owns (no allocation per
 * read). Absent files (older kernels) read as null.
 */
class ControlFile {
  private fd: number | null;
  private readonly buf: Buffer;

  constructor(
    readonly path: string,
    flags: 'r',
    sizeBytes = 64,
  ) {
    this.fd = existsSync(path) ? openSync(path, flags) : null;
    this.buf = Buffer.alloc(sizeBytes);
  }

  /** The number the file starts with (`memory.current`, `cpuacct.usage`), parsed in place. */
  readInt(): number | null {
    const n = this.readBytes();
    return n <= 0 ? null : digitsAt(this.buf, 0, n);
  }

  /**
   * The values of `keys` in a flat-keyed file (`key value` lines: `memory.stat`, `cpu.stat`),
   * from one read, into `out` (NaN for a key that is absent). False when the file cannot be read.
   * Each key is given with its trailing space (`Buffer.from('file ')`).
   */
  readKeys(keys: readonly Buffer[], out: Float64Array): boolean {
    const n = this.readBytes();
    if (n <= 0) return false;
    for (let k = 0; k < keys.length; k++) out[k] = keyValue(this.buf, n, keys[k]!);
    return true;
  }

  private readBytes(): number {
    if (this.fd === null) return -1;
    try {
      return readSync(this.fd, this.buf, 0, this.buf.length, 0);
    } catch {
      return -1;
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** The decimal integer at `at` (up to `end`); null when there is none. */
function digitsAt(buf: Buffer, at: number, end: number): number | null {
  let v = 0;
  let i = at;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  return i === at ? null : v;
}

/** The value on the line starting with `key` in the first `n` bytes of `buf`; NaN if absent. */
function keyValue(buf: Buffer, n: number, key: Buffer): number {
  for (let at = buf.indexOf(key, 0); at >= 0 && at + key.length <= n;) {
    if (at === 0 || buf[at - 1] === 10) return digitsAt(buf, at + key.length, n) ?? Number.NaN;
    at = buf.indexOf(key, at + 1);
  }
  return Number.NaN;
}

/** Bytes → MB for limits (whole bytes are written; MB are what allocations speak). */
function limitMbOf(bytes: number | null): number {
  return bytes === null ? Number.POSITIVE_INFINITY : bytes / MIB;
}

/** The hard memory limit of an allocation, bytes: `memoryMaxMb` when it has one. */
function hardBytesOf(a: Allocation): number {
  return Math.round(Math.max(a.memoryMb, a.memoryMaxMb ?? 0) * MIB);
}

/** The soft limit, bytes: `memoryMb` below a larger `memoryMaxMb`; null for none. */
function softBytesOf(a: Allocation): number | null {
  return a.memoryMaxMb !== undefined && a.memoryMaxMb > a.memoryMb
    ? Math.round(a.memoryMb * MIB)
    : null;
}

/**
 * The allocation the group has after a write: the CPU asked for and, for memory, the soft limit
 * asked for under the hard limit `limitBytes` in force (which a refused shrink left higher).
 */
function inForce(a: Allocation, limitBytes: number): Allocation {
  const maxMb = limitMbOf(limitBytes);
  if (softBytesOf(a) === null) return { cpu: a.cpu, memoryMb: maxMb };
  return { cpu: a.cpu, memoryMb: a.memoryMb, memoryMaxMb: maxMb };
}

/**
 * Reclaimable page cache from the stat values `[cache, shmem]`: a kernel that reports no shmem
 * has all of its cache taken as reclaimable, one that reports no cache has none.
 */
function reclaimable(stat: Float64Array, statRead: boolean): number | null {
  if (!statRead) return null;
  const cache = stat[0]!;
  const shmem = stat[1]!;
  if (Number.isNaN(cache)) return 0;
  return Number.isNaN(shmem) ? cache : Math.max(0, cache - shmem);
}

function withoutCache(usage: number | null, cache: number | null): number | null {
  return usage === null || cache === null ? null : Math.max(0, usage - cache);
}

const V1_STAT_KEYS = [Buffer.from('total_cache '), Buffer.from('total_shmem ')];
const V2_STAT_KEYS = [Buffer.from('file '), Buffer.from('shmem ')];
const V2_CPU_KEYS = [Buffer.from('usage_usec ')];
const V2_THROTTLE_KEYS = [Buffer.from('throttled_usec ')];
const V1_THROTTLE_KEYS = [Buffer.from('throttled_time ')];
/** memory.stat is ~1.5 KB; room to spare so newer kernels' extra lines still fit in one read. */
const STAT_BYTES = 16 * 1024;

type Limits = ReturnType<ChildCgroup['readLimits']>;

class V1Group implements ChildCgroup {
  readonly cpuPeriodUs: number;
  private readonly cpuDir: string;
  private readonly cpuacctDir: string | null;
  private readonly memoryDir: string;
  private readonly hasMemsw: boolean;
  private readonly usage: ControlFile;
  private readonly stat: ControlFile;
  private readonly statValues = new Float64Array(V1_STAT_KEYS.length);
  private readonly cpuUsage: ControlFile | null;
  private readonly cpuStat: ControlFile;
  private readonly cpuStatValues = new Float64Array(1);
  private limitBytes: number;
  /** The soft limit written last; null: none (a fresh group has none). */
  private softBytes: number | null = null;

  /** `owned: false` opens a group someone else made and removes (see `cgroupOfProcess`). */
  constructor(
    readonly name: string,
    mode: Extract<CgroupMode, { kind: 'v1' }>,
    root: string,
    private readonly owned = true,
  ) {
    this.cpuDir = join(mode.cpuPath, root, name);
    this.cpuacctDir = mode.cpuacctPath === null ? null : join(mode.cpuacctPath, root, name);
    this.memoryDir = join(mode.memoryPath, root, name);
    if (owned) for (const dir of this.dirs()) mkdirSync(dir, { recursive: true });
    // setLimits orders its writes against the limit in force (a fresh group's is unlimited).
    this.limitBytes =
      readNumber(join(this.memoryDir, 'memory.limit_in_bytes')) ?? Number.POSITIVE_INFINITY;
    this.cpuPeriodUs = readNumber(join(this.cpuDir, 'cpu.cfs_period_us')) ?? 100_000;
    this.hasMemsw = existsSync(join(this.memoryDir, 'memory.memsw.limit_in_bytes'));
    this.usage = new ControlFile(join(this.memoryDir, 'memory.usage_in_bytes'), 'r');
    this.stat = new ControlFile(join(this.memoryDir, 'memory.stat'), 'r', STAT_BYTES);
    this.cpuUsage =
      this.cpuacctDir === null
        ? null
        : new ControlFile(join(this.cpuacctDir, 'cpuacct.usage'), 'r');
    this.cpuStat = new ControlFile(join(this.cpuDir, 'cpu.stat'), 'r', 1024);
  }

  async join(pid: number): Promise<void> {
    await Promise.all(this.dirs().map((dir) => writeAsync(join(dir, 'cgroup.procs'), String(pid))));
  }

  setLimits(allocation: Allocation): Allocation {
    write(join(this.cpuDir, 'cpu.cfs_quota_us'), String(quotaUs(allocation.cpu, this.cpuPeriodUs)));
    write(join(this.cpuDir, 'cpu.shares'), String(cpuSharesOf(allocation.cpu)));
    const soft = softBytesOf(allocation);
    if (soft !== this.softBytes) {
      write(
        join(this.memoryDir, 'memory.soft_limit_in_bytes'),
        soft === null ? V1_UNLIMITED : String(soft),
      );
      this.softBytes = soft;
    }
    const bytes = hardBytesOf(allocation);
    if (bytes === this.limitBytes) return inForce(allocation, this.limitBytes);
    if (bytes < this.limitBytes && (this.memoryBytes() ?? 0) > bytes) {
      return inForce(allocation, this.limitBytes);
    }
    const limit = join(this.memoryDir, 'memory.limit_in_bytes');
    const memsw = join(this.memoryDir, 'memory.memsw.limit_in_bytes');
    // The kernel keeps memsw ≥ limit at every step, so the order depends on the direction.
    if (this.hasMemsw && bytes > this.limitBytes) write(memsw, String(bytes));
    write(limit, String(bytes));
    if (this.hasMemsw && bytes <= this.limitBytes) write(memsw, String(bytes));
    this.limitBytes = bytes;
    return inForce(allocation, bytes);
  }

  throttledUs(): number | null {
    if (!this.cpuStat.readKeys(V1_THROTTLE_KEYS, this.cpuStatValues)) return null;
    const ns = this.cpuStatValues[0]!;
    return Number.isNaN(ns) ? null : ns / 1000;
  }

  pressureUs(): number | null {
    return null;
  }

  cpuUsageUs(): number | null {
    const ns = this.cpuUsage?.readInt() ?? null;
    return ns === null ? null : ns / 1000;
  }

  memoryUsageBytes(): number | null {
    return this.usage.readInt();
  }

  pageCacheBytes(): number | null {
    return reclaimable(this.statValues, this.stat.readKeys(V1_STAT_KEYS, this.statValues));
  }

  memoryBytes(): number | null {
    return withoutCache(this.memoryUsageBytes(), this.pageCacheBytes());
  }

  oomKills(): number {
    const control = readText(join(this.memoryDir, 'memory.oom_control'));
    // Kernels before 4.13 lack the counter; a hit on the limit is the best evidence left.
    return parseKey(control, 'oom_kill') ?? readNumber(join(this.memoryDir, 'memory.failcnt')) ?? 0;
  }

  readLimits(): Limits {
    const soft = readNumber(join(this.memoryDir, 'memory.soft_limit_in_bytes'));
    return {
      cpuQuotaUs: readNumber(join(this.cpuDir, 'cpu.cfs_quota_us')),
      cpuPeriodUs: this.cpuPeriodUs,
      cpuWeight: readNumber(join(this.cpuDir, 'cpu.shares')),
      memoryLimitBytes: readNumber(join(this.memoryDir, 'memory.limit_in_bytes')),
      // "Unlimited" reads back as a page-aligned 2^63-ish number.
      memorySoftLimitBytes: soft === null || soft >= 2 ** 62 ? null : soft,
    };
  }

  remove(): Promise<void> {
    this.usage.close();
    this.stat.close();
    this.cpuUsage?.close();
    this.cpuStat.close();
    return this.owned ? removeDirs(this.dirs()) : Promise.resolve();
  }

  private dirs(): string[] {
    return unique([this.cpuDir, this.cpuacctDir, this.memoryDir]);
  }
}

class V2Group implements ChildCgroup {
  readonly cpuPeriodUs = V2_PERIOD_US;
  private readonly current: ControlFile;
  private readonly stat: ControlFile;
  private readonly statValues = new Float64Array(V2_STAT_KEYS.length);
  private readonly cpuStat: ControlFile;
  private readonly cpuValues = new Float64Array(V2_CPU_KEYS.length);
  private limitBytes: number;
  private softBytes: number | null = null;

  /** `owned: false` opens a group someone else made and removes (see `cgroupOfProcess`). */
  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly owned = true,
  ) {
    if (owned) mkdirSync(dir, { recursive: true });
    this.current = new ControlFile(join(dir, 'memory.current'), 'r');
    this.stat = new ControlFile(join(dir, 'memory.stat'), 'r', STAT_BYTES);
    this.cpuStat = new ControlFile(join(dir, 'cpu.stat'), 'r', 1024);
    this.limitBytes = readNumber(join(dir, 'memory.max')) ?? Number.POSITIVE_INFINITY; // 'max'
    if (owned && existsSync(join(dir, 'memory.swap.max'))) {
      write(join(dir, 'memory.swap.max'), '0');
    }
  }

  join(pid: number): Promise<void> {
    return writeAsync(join(this.dir, 'cgroup.procs'), String(pid));
  }

  setLimits(allocation: Allocation): Allocation {
    write(join(this.dir, 'cpu.max'), `${quotaUs(allocation.cpu, V2_PERIOD_US)} ${V2_PERIOD_US}`);
    write(join(this.dir, 'cpu.weight'), String(cpuWeightOf(allocation.cpu)));
    const soft = softBytesOf(allocation);
    if (soft !== this.softBytes) {
      // memory.high may sit below what the group holds: the kernel reclaims and throttles, it
      // does not kill.
      write(join(this.dir, 'memory.high'), soft === null ? 'max' : String(soft));
      this.softBytes = soft;
    }
    const bytes = hardBytesOf(allocation);
    if (bytes === this.limitBytes) return inForce(allocation, bytes);
    // Below what the group holds, the kernel would reclaim what it can and then OOM-kill.
    if (bytes < this.limitBytes && (this.memoryBytes() ?? 0) > bytes) {
      return inForce(allocation, this.limitBytes);
    }
    write(join(this.dir, 'memory.max'), String(bytes));
    this.limitBytes = bytes;
    return inForce(allocation, bytes);
  }

  throttledUs(): number | null {
    if (!this.cpuStat.readKeys(V2_THROTTLE_KEYS, this.cpuValues)) return null;
    const us = this.cpuValues[0]!;
    return Number.isNaN(us) ? null : us;
  }

  pressureUs(): number | null {
    const text = readText(join(this.dir, 'cpu.pressure'));
    const m = text === null ? null : /^some .*\btotal=(\d+)/m.exec(text);
    return m === null || m === undefined ? null : Number(m[1]);
  }

  cpuUsageUs(): number | null {
    if (!this.cpuStat.readKeys(V2_CPU_KEYS, this.cpuValues)) return null;
    const us = this.cpuValues[0]!;
    return Number.isNaN(us) ? null : us;
  }

  memoryUsageBytes(): number | null {
    return this.current.readInt();
  }

  pageCacheBytes(): number | null {
    return reclaimable(this.statValues, this.stat.readKeys(V2_STAT_KEYS, this.statValues));
  }

  memoryBytes(): number | null {
    return withoutCache(this.memoryUsageBytes(), this.pageCacheBytes());
  }

  oomKills(): number {
    return parseKey(readText(join(this.dir, 'memory.events')), 'oom_kill') ?? 0;
  }

  readLimits(): Limits {
    const [quota] = (readText(join(this.dir, 'cpu.max')) ?? '').trim().split(' ');
    return {
      cpuQuotaUs: quota === undefined || quota === '' || quota === 'max' ? null : Number(quota),
      cpuPeriodUs: V2_PERIOD_US,
      cpuWeight: readNumber(join(this.dir, 'cpu.weight')),
      memoryLimitBytes: readNumber(join(this.dir, 'memory.max')),
      memorySoftLimitBytes: readNumber(join(this.dir, 'memory.high')),
    };
  }

  remove(): Promise<void> {
    this.current.close();
    this.stat.close();
    this.cpuStat.close();
    return this.owned ? removeDirs([this.dir]) : Promise.resolve();
  }
}

/**
 * The cgroup of a process someone else made (a container's, made by its engine), found through
 * `/proc/<pid>/cgroup`: the same limit writes and usage, peak and OOM reads as our own groups,
 * but `remove()` only closes our handles, and `join()` must not be used. Null when the mode is
 * `none`, the process is gone, or its cpu and memory groups are not at the same path (v1).
 */
export function cgroupOfProcess(mode: CgroupMode, pid: number): ChildCgroup | null {
  if (mode.kind === 'none') return null;
  const paths = new Map<string, string>();
  for (const line of (readText(`/proc/${pid}/cgroup`) ?? '').split('\n')) {
    const m = /^\d+:([^:]*):(\/.*)$/.exec(line);
    if (m === null) continue;
    for (const controller of m[1]!.split(',')) paths.set(controller, m[2]!);
  }
  const path = mode.kind === 'v2' ? paths.get('') : paths.get('memory');
  if (path === undefined || path === '/') return null;
  if (mode.kind === 'v1' && paths.get('cpu') !== path) return null;
  try {
    if (mode.kind === 'v2') {
      const dir = join(mode.mountPath, path);
      return existsSync(dir) ? new V2Group(basename(path), dir, false) : null;
    }
    if (!existsSync(join(mode.memoryPath, path))) return null;
    return new V1Group(basename(path), mode, dirname(path), false);
  } catch {
    return null; // the process and its groups went away while we looked
  }
}
