/**
 * The command-line options of `faasflow bench faasflow`, checked all at once: every problem is
 * reported together, naming the flag and what would be valid.
 */
import { PAPER_BENCHMARKS } from './paths.js';
import { flagReader } from './flag-reader.js';

export type Mode = 'worker' | 'master';

export interface FaasflowBenchOptions {
  /** Workers of the local cluster (ignored with `hosts`). Default 3. */
  workers: number;
  /** Run across this many network-namespace worker hosts (plus one for Redis and the master). */
  hosts?: number;
  /** Rate caps per host link, one cluster each (`--hosts` only), e.g. `['25mbit', '100mbit']`. */
  bandwidths: string[];
  /** One-way delay per host link, ms (`--hosts` only; needs netem in the kernel). */
  latencyMs?: number;
  runtime: 'process' | 'docker';
  /** Multiplies each function's declared runtime (FaaSFlow's are 1–4 s). */
  runtimeScale: number;
  /** Multiplies the bytes each function emits (and so every edge's size). */
  sizeScale: number;
  /** Measured invocations per benchmark and mode, one at a time. */
  repetitions: number;
  /** Unmeasured invocations per benchmark and mode first. */
  warmup: number;
  benchmarks: string[];
  modes: Mode[];
  /** Also run all benchmarks at once, `repetitions` times. */
  corun: boolean;
  /** Redis for the local cluster (FaaStore's remote tier; all data in MasterSP mode). */
  redisUrl: string;
  /** Where FaaSFlow's benchmark files are (`<dir>/<bench>/flat_workflow.yaml`). */
  benchmarksDir?: string;
  reportDir?: string;
  command?: string;
  print?: (line: string) => void;
}

export const DEFAULTS: FaasflowBenchOptions = {
  workers: 3,
  bandwidths: [],
  runtime: 'process',
  runtimeScale: 0.02,
  sizeScale: 1,
  repetitions: 10,
  warmup: 2,
  benchmarks: [...PAPER_BENCHMARKS],
  modes: ['worker', 'master'],
  corun: true,
  redisUrl: 'redis://127.0.0.1:6379',
};

/** Tiny: completes in well under a minute; only has to print its table. */
export const SMOKE: Partial<FaasflowBenchOptions> = {
  runtimeScale: 0.002,
  sizeScale: 0.001,
  repetitions: 2,
  warmup: 1,
};

/** Across hosts the links are slow: FaaSFlow's full sizes (1.2 GB for Cycles) would take minutes. */
export const HOSTS_SIZE_SCALE = 0.01;

const KNOWN = [
  'smoke',
  'workers',
  'hosts',
  'bandwidth',
  'latency',
  'runtime',
  'scale',
  'size-scale',
  'repetitions',
  'warmup',
  'benchmarks',
  'modes',
  'no-corun',
  'redis',
  'benchmarks-dir',
  'out',
] as const;

export type FlagsResult = { options: FaasflowBenchOptions } | { error: string };

export function faasflowOptionsFromFlags(
  camelFlags: Record<string, string | boolean>,
): FlagsResult {
  const { flags, problems, str, int, fraction, list } = flagReader(camelFlags, 'faasflow', KNOWN);
  const o: FaasflowBenchOptions = {
    ...DEFAULTS,
    ...(flags['smoke'] === true ? SMOKE : {}),
  };

  const workers = int('workers', 1);
  if (workers !== undefined) o.workers = workers;
  const hosts = int('hosts', 1);
  if (hosts !== undefined) {
    o.hosts = hosts;
    if (flags['size-scale'] === undefined && flags['smoke'] !== true)
      o.sizeScale = HOSTS_SIZE_SCALE;
  }
  const bandwidth = str('bandwidth');
  if (bandwidth !== undefined) {
    const rates = bandwidth.split(/[,|]/).map((x) => x.trim());
    const bad = rates.filter((r) => !/^\d+(\.\d+)?(kbit|mbit|gbit)$/.test(r));
    if (bad.length > 0)
      problems.push(`--bandwidth: ${bad.join(', ')} is not a rate like 25mbit, 100kbit or 1gbit`);
    else o.bandwidths = rates;
    if (hosts === undefined) problems.push('--bandwidth needs --hosts N (the links it caps)');
  }
  const latency = int('latency', 0);
  if (latency !== undefined) {
    o.latencyMs = latency;
    if (hosts === undefined) problems.push('--latency needs --hosts N');
  }
  const runtime = str('runtime');
  if (runtime !== undefined) {
    if (runtime === 'process' || runtime === 'docker') o.runtime = runtime;
    else problems.push(`--runtime must be process or docker, got ${runtime}`);
  }
  const scale = fraction('scale');
  if (scale !== undefined) o.runtimeScale = scale;
  const sizeScale = fraction('size-scale');
  if (sizeScale !== undefined) o.sizeScale = sizeScale;
  const reps = int('repetitions', 1);
  if (reps !== undefined) o.repetitions = reps;
  const warmup = int('warmup', 0);
  if (warmup !== undefined) o.warmup = warmup;
  const benchmarks = list('benchmarks', PAPER_BENCHMARKS);
  if (benchmarks !== undefined) o.benchmarks = benchmarks;
  const modes = list<Mode>('modes', ['worker', 'master']);
  if (modes !== undefined) o.modes = modes;
  if (flags['no-corun'] === true) o.corun = false;
  const redis = str('redis');
  if (redis !== undefined) {
    if (/^rediss?:\/\//.test(redis)) o.redisUrl = redis;
    else problems.push(`--redis must be a redis:// URL, got ${redis}`);
  }
  const dir = str('benchmarks-dir');
  if (dir !== undefined) o.benchmarksDir = dir;
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}
