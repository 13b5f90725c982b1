/**
 * Helpers every bench suite shares: nearest-rank percentiles over samples, a plain-text table,
 * the machine and commit a run was taken on, and the JSON report written under `.bench/`.
 *
 * Percentiles are nearest-rank (the value at rank ceil(p·n)), so every figure printed is a
 * sample that was actually observed. Summaries of empty sample sets are `null`, never 0: a
 * missing measurement must not read as a fast one.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';

export interface Summary {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  minMs: number;
  maxMs: number;
}

/** Nearest-rank percentile of ascending `sorted`; `p` in (0, 1]. Throws on an empty array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) throw new Error('percentile of no samples');
  if (!(p > 0 && p <= 1)) throw new Error(`percentile p must be in (0, 1], got ${p}`);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

/** The median of `xs` (the mean of the middle two for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
}

/**
 * Zipf(`exponent`) over ranks 0..n−1: the rank a uniform `u` in [0, 1) falls on (rank 0 is the
 * most likely), by binary search of the cumulative weights 1 / (rank + 1)^exponent.
 */
export function zipfRanks(n: number, exponent: number): (u: number) => number {
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1) ** exponent);
  const total = weights.reduce((a, b) => a + b, 0);
  const cdf: number[] = [];
  let acc = 0;
  for (const w of weights) cdf.push((acc += w / total));
  return (u) => {
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** p50, p99, mean, min and max of `samplesMs`; null when there are none. */
export function summarize(samplesMs: readonly number[]): Summary | null {
  if (samplesMs.length === 0) return null;
  const sorted = [...samplesMs].sort((a, b) => a - b);
  let sum = 0;
  for (const x of sorted) sum += x;
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    meanMs: sum / sorted.length,
    minMs: sorted[0]!,
    maxMs: sorted[sorted.length - 1]!,
  };
}

/** A duration for a table cell: µs below 1 ms, ms with 2–3 significant decimals above. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  if (abs < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (abs < 100) return `${ms.toFixed(2)} ms`;
  return `${ms.toFixed(0)} ms`;
}

export type Align = 'left' | 'right';

/**
 * Renders rows as aligned text columns under `header`, with a rule below the header. Columns
 * are right-aligned unless `align` says otherwise (the first column usually is left).
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string[] {
  for (const [i, row] of rows.entries()) {
    if (row.length !== header.length) {
      throw new Error(`table row ${i} has ${row.length} cells; the header has ${header.length}`);
    }
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) =>
        (align[c] ?? 'right') === 'left' ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!),
      )
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryMb: number;
  nodeVersion: string;
  platform: string;
  arch: string;
  /** 1-minute load average when the run started: other work on the machine skews figures. */
  loadAverage1m: number;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpus: list.length,
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    memoryMb: Math.round(totalmem() / 1024 / 1024),
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    // [0, 0, 0] on Windows, which has no load average.
    loadAverage1m: Number((loadavg()[0] ?? 0).toFixed(2)),
  };
}

export interface CommitInfo {
  /** `git rev-parse HEAD`, or null outside a git checkout. */
  commit: string | null;
  /** Whether the working tree had changes when the run started (null when unknown). */
  dirty: boolean | null;
}

/** The commit of the checkout at `cwd` (read-only git calls; no git state is changed). */
export function gitCommit(cwd: string = process.cwd()): CommitInfo {
  const git = (args: string[]): string | null => {
    try {
      return execFileSync('git', args, {
        cwd,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5_000,
      }).trim();
    } catch {
      return null;
    }
  };
  const commit = git(['rev-parse', 'HEAD']);
  if (commit === null) return { commit: null, dirty: null };
  // --no-optional-locks: a plain `git status` may rewrite the index while someone commits.
  const status = git(['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no']);
  return { commit, dirty: status === null ? null : status !== '' };
}

/** The command line that reproduces a run, as the user typed it (argv joined with quoting). */
export function commandLine(argv: readonly string[] = process.argv): string {
  return argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

export interface ReportEnvelope<T> {
  suite: string;
  /** ISO time the run started. */
  startedAt: string;
  command: string;
  machine: MachineInfo;
  git: CommitInfo;
  figures: T;
}

/** `2026-01-02T03:04:05.678Z` → `20260102-030405`: sortable and safe in file names. */
export function fileTimestamp(at: Date): string {
  const iso = at.toISOString();
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

/**
 * Writes `<dir>/<suite>-<timestamp>.json` (dir default `.bench` under the current directory),
 * creating the folder; returns the absolute path.
 */
export function writeReport<T>(report: ReportEnvelope<T>, dir: string = '.bench'): string {
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const path = join(folder, `${report.suite}-${fileTimestamp(new Date(report.startedAt))}.json`);
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
  return path;
}

export interface PublishOptions {
  /** The command that reproduces the run. Default: this process's command line. */
  command?: string;
  /** Where the report goes. Default `.bench`. */
  reportDir?: string;
  print: (line: string) => void;
  /** Taken when the run started (load average then); default: now. */
  machine?: MachineInfo;
  git?: CommitInfo;
}

/**
 * What every suite does at the end: writes its report and prints where it went and the command
 * that reproduces the run. Returns the report's path.
 */
export function publishReport<T>(
  suite: string,
  startedAt: Date,
  figures: T,
  o: PublishOptions,
): string {
  const command = o.command ?? commandLine();
  const path = writeReport(
    {
      suite,
      startedAt: startedAt.toISOString(),
      command,
      machine: o.machine ?? machineInfo(),
      git: o.git ?? gitCommit(),
      figures,
    },
    o.reportDir,
  );
  o.print(`report: ${path}`);
  o.print(`reproduce: ${command}`);
  return path;
}
