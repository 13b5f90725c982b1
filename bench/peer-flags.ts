/**
 * The command-line options of `faasflow bench peer`, checked all at once: every problem is
 * reported together, naming the flag and what would be valid.
 */
import { PAYLOADS, SHAPES, type PayloadName, type ShapeName } from './peer-shapes.js';

export const SYSTEMS = [
  'faasflow',
  'faasflow-thread',
  'faasflow-trusted',
  'bullmq',
  'bullmq-sandboxed',
] as const;
export type SystemName = (typeof SYSTEMS)[number];

/**
 * The faasflow systems and the tier each runs its functions in (`defaults: { isolation }`);
 * null: the workers' own sandbox (process).
 */
export const FAASFLOW_TIERS = {
  faasflow: null,
  'faasflow-thread': 'thread',
  'faasflow-trusted': 'trusted',
} as const satisfies Partial<Record<SystemName, 'thread' | 'trusted' | null>>;
export type FaasflowSystem = keyof typeof FAASFLOW_TIERS;

export function isFaasflowSystem(s: SystemName): s is FaasflowSystem {
  return s in FAASFLOW_TIERS;
}

export interface PeerBenchOptions {
  /** Measured closed-loop invocations per shape with no-op functions. Default 300. */
  repetitions?: number;
  /** With a payload: measured invocations per shape. Default repetitions / 6, at least 5. */
  payloadRepetitions?: number;
  /** Unmeasured invocations before the measured ones. Default 30 (no-op), 3 (payload). */
  warmup?: number;
  /** Measured open-loop time per shape, payload and system, in ms. Default 5000. */
  durationMs?: number;
  /** Concurrent callers of the open loop. Default 32. */
  concurrency?: number;
  /**
   * With a payload: concurrent callers. Default min(concurrency, 8): a foreach of 64 × 1 MB
   * already saturates both systems at a few callers, and 32 would hold 2 GB in flight.
   */
  payloadConcurrency?: number;
  shapes?: ShapeName[];
  payloads?: PayloadName[];
  /** The payload's size in bytes. Default 1 MiB. */
  payloadBytes?: number;
  systems?: SystemName[];
  /** Redis both systems use. Default $REDIS_URL or redis://127.0.0.1:6379. */
  redisUrl?: string;
  /** BullMQ worker processes. Default 2 (faasflow runs 2 workers). */
  bullmqProcesses?: number;
  /** Jobs a BullMQ worker process runs at once, per queue. Default 8. */
  bullmqConcurrency?: number;
  /** Where the JSON report goes. Default `.bench` under the current directory. */
  reportDir?: string;
  /** Recorded in the report as the command that reproduces the run. Default: process.argv. */
  command?: string;
  /** Where progress and the tables go. Default console.log. */
  print?: (line: string) => void;
}

/** `--smoke`: only has to complete and print the table (CI). */
export const SMOKE: PeerBenchOptions = {
  repetitions: 10,
  payloadRepetitions: 3,
  warmup: 3,
  durationMs: 1_000,
  concurrency: 8,
  payloadBytes: 64 * 1024,
};

export type FlagsResult = { options: PeerBenchOptions } | { error: string };

const KNOWN = [
  'smoke',
  'repetitions',
  'warmup',
  'duration',
  'concurrency',
  'payloadConcurrency',
  'shapes',
  'payload',
  'systems',
  'redis',
  'bullmqProcesses',
  'bullmqConcurrency',
  'out',
] as const;

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * `--smoke`, `--repetitions N`, `--warmup N`, `--duration S`, `--concurrency C`,
 * `--payload-concurrency C`, * `--shapes chain5,fanout,genome,foreach`, `--payload noop,1mb`,
 * `--systems faasflow,faasflow-thread,faasflow-trusted,bullmq,bullmq-sandboxed`, `--redis URL`, `--bullmq-processes N`,
 * `--bullmq-concurrency N`, `--out DIR`.
 */
export function peerOptionsFromFlags(flags: Record<string, string | boolean>): FlagsResult {
  const known = new Set<string>(KNOWN);
  const problems: string[] = [];
  const unknown = Object.keys(flags).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    problems.push(
      `unknown option(s) ${unknown.map((k) => `--${kebab(k)}`).join(', ')}; bench peer takes ${KNOWN.map((k) => `--${kebab(k)}`).join(', ')}`,
    );
  }
  const options: PeerBenchOptions = flags['smoke'] === true ? { ...SMOKE } : {};
  const count = (key: string, min: number, apply: (n: number) => void): void => {
    const v = flags[key];
    if (v === undefined) return;
    const n = Number(v);
    if (typeof v === 'string' && Number.isInteger(n) && n >= min) apply(n);
    else problems.push(`--${kebab(key)} must be an integer ≥ ${min}, got ${String(v)}`);
  };
  count('repetitions', 1, (n) => {
    options.repetitions = n;
    options.payloadRepetitions = Math.max(flags['smoke'] === true ? 3 : 5, Math.ceil(n / 6));
  });
  count('warmup', 0, (n) => (options.warmup = n));
  count('duration', 1, (n) => (options.durationMs = n * 1000));
  count('concurrency', 1, (n) => (options.concurrency = n));
  count('payloadConcurrency', 1, (n) => (options.payloadConcurrency = n));
  count('bullmqProcesses', 1, (n) => (options.bullmqProcesses = n));
  count('bullmqConcurrency', 1, (n) => (options.bullmqConcurrency = n));
  const list = <T extends string>(key: string, valid: readonly T[], apply: (v: T[]) => void) => {
    const v = flags[key];
    if (v === undefined) return;
    const items = typeof v === 'string' ? v.split(',').map((s) => s.trim()) : [];
    const bad = items.filter((s) => !(valid as readonly string[]).includes(s));
    if (items.length === 0 || bad.length > 0) {
      problems.push(
        `--${kebab(key)} must be a comma-separated list of ${valid.join(', ')}, got ${String(v)}`,
      );
    } else {
      apply([...new Set(items)] as T[]);
    }
  };
  list('shapes', SHAPES, (v) => (options.shapes = v));
  list('payload', PAYLOADS, (v) => (options.payloads = v));
  list('systems', SYSTEMS, (v) => (options.systems = v));
  for (const key of ['redis', 'out']) {
    const v = flags[key];
    if (v !== undefined && typeof v !== 'string') problems.push(`--${key} needs a value`);
  }
  const redis = flags['redis'];
  if (typeof redis === 'string') {
    if (!/^rediss?:\/\//.test(redis))
      problems.push(`--redis must be a redis:// or rediss:// URL, got ${redis}`);
    options.redisUrl = redis;
  }
  if (typeof flags['out'] === 'string') options.reportDir = flags['out'];
  return problems.length > 0 ? { error: problems.join('; ') } : { options };
}
