/**
 * The command-line options of `faasflow bench overhead`, checked all at once: every problem is
 * reported together, naming the flag and what would be valid.
 */

/** `--smoke`: only has to complete and print the table (CI). */
export interface OverheadBenchOptions {
  /** Measure an existing cluster instead of starting one. */
  masterUrl?: string;
  /** Measured invocations per workflow (closed loop). Default 500. */
  iterations?: number;
  /** Unmeasured invocations per workflow first. Default 50. */
  warmup?: number;
  /** Concurrent callers for throughput. Default 32. */
  concurrency?: number;
  /** Measured throughput time, in ms. Default 5000. */
  throughputMs?: number;
  /** Where the JSON report goes. Default `.bench` under the current directory. */
  reportDir?: string;
  /** Recorded in the report as the command that reproduces the run. Default: process.argv. */
  command?: string;
  /** Where progress and the table go. Default console.log. */
  print?: (line: string) => void;
}

export const SMOKE: OverheadBenchOptions = { iterations: 20, warmup: 10, throughputMs: 1_000 };

export type FlagsResult = { options: OverheadBenchOptions } | { error: string };

/** `--smoke`, `--iterations N`, `--warmup N`, `--concurrency C`, `--seconds T`, `--master URL`, `--out DIR`. */
export function overheadOptionsFromFlags(flags: Record<string, string | boolean>): FlagsResult {
  const known = new Set([
    'smoke',
    'iterations',
    'warmup',
    'concurrency',
    'seconds',
    'master',
    'out',
  ]);
  const unknown = Object.keys(flags).filter((k) => !known.has(k));
  const options: OverheadBenchOptions = flags['smoke'] === true ? { ...SMOKE } : {};
  const count = (key: string, min: number): number | string | undefined => {
    const v = flags[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    return typeof v === 'string' && Number.isInteger(n) && n >= min
      ? n
      : `--${key} must be an integer ≥ ${min}, got ${String(v)}`;
  };
  const problems: string[] = [];
  if (unknown.length > 0) {
    const list = unknown.map((k) => `--${k}`).join(', ');
    problems.push(`unknown option(s) ${list}; bench overhead takes --${[...known].join(', --')}`);
  }
  const set = (key: string, min: number, apply: (n: number) => void): void => {
    const n = count(key, min);
    if (typeof n === 'string') problems.push(n);
    else if (n !== undefined) apply(n);
  };
  set('iterations', 1, (n) => (options.iterations = n));
  set('warmup', 0, (n) => (options.warmup = n));
  set('concurrency', 1, (n) => (options.concurrency = n));
  set('seconds', 1, (n) => (options.throughputMs = n * 1000));
  for (const key of ['master', 'out']) {
    const v = flags[key];
    if (v !== undefined && typeof v !== 'string') problems.push(`--${key} needs a value`);
  }
  const master = flags['master'];
  if (typeof master === 'string') {
    if (!/^https?:\/\//.test(master))
      problems.push(`--master must be an http(s) URL, got ${master}`);
    options.masterUrl = master.replace(/\/+$/, '');
  }
  if (typeof flags['out'] === 'string') options.reportDir = flags['out'];
  return problems.length > 0 ? { error: problems.join('; ') } : { options };
}
