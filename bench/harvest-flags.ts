/**
 * The command-line options of `faasflow bench harvest`, checked all at once: every problem is
 * reported together, naming the flag and what would be valid.
 */
import { flagReader } from './flag-reader.js';
import {
  DEFAULTS,
  LOADS,
  MODES,
  PLACEMENTS,
  SMOKE,
  WORKLOADS,
  type HarvestBenchOptions,
} from './harvest.js';
import { VARIANTS, type Variant } from './harvest-report.js';

const KNOWN = [
  'smoke',
  'workloads',
  'loads',
  'modes',
  'placements',
  'requests',
  'profile-runs',
  'levels',
  'workers',
  'repetitions',
  'user-cpu',
  'variant',
  'redis',
  'seed',
  'out',
  'from',
] as const;

export type FlagsResult = { options: HarvestBenchOptions } | { error: string };

export function harvestOptionsFromFlags(camelFlags: Record<string, string | boolean>): FlagsResult {
  const { flags, problems, str, int, list } = flagReader(camelFlags, 'harvest', KNOWN);
  const o: HarvestBenchOptions = { ...DEFAULTS, ...(flags['smoke'] === true ? SMOKE : {}) };
  const workloads = list('workloads', WORKLOADS);
  if (workloads) o.workloads = workloads;
  const loads = list('loads', Object.keys(LOADS) as (keyof typeof LOADS)[]);
  if (loads) o.loads = loads;
  const modes = list('modes', MODES);
  if (modes) o.modes = modes;
  const placements = list('placements', PLACEMENTS);
  if (placements) o.placements = placements;
  const requests = int('requests', 1);
  if (requests !== undefined) o.requests = requests;
  const profileRuns = int('profile-runs', 10);
  if (profileRuns !== undefined) o.profileRuns = profileRuns;
  const workers = int('workers', 1);
  if (workers !== undefined) o.workers = workers;
  const repetitions = int('repetitions', 1);
  if (repetitions !== undefined) o.repetitions = repetitions;
  const userCpu = str('user-cpu');
  if (userCpu !== undefined) {
    const c = Number(userCpu);
    if (!(
      Number.isFinite(c) &&
      c >= 0.05 &&
      c <= 8 &&
      Math.abs(c * 1000 - Math.round(c * 1000)) < 1e-6
    ))
      problems.push(`--user-cpu must be cores from 0.05 to 8 (e.g. 0.5), got ${userCpu}`);
    else o.userCpu = c;
  }
  const variant = str('variant');
  if (variant !== undefined) {
    if ((VARIANTS as readonly string[]).includes(variant)) o.variant = variant as Variant;
    else problems.push(`--variant must be one of ${VARIANTS.join(', ')}, got ${variant}`);
  }
  const seed = int('seed', 0);
  if (seed !== undefined) o.seed = seed;
  const levels = str('levels');
  if (levels !== undefined) {
    const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(levels);
    const lo = Number(m?.[1]);
    const hi = Number(m?.[2]);
    if (!m || lo < 1 || hi > 7 || lo > hi)
      problems.push(`--levels must be a range within 1-7 like 1-5, got ${levels}`);
    else {
      o.minLevel = lo;
      o.maxLevel = hi;
    }
  }
  const redis = str('redis');
  if (redis !== undefined) {
    if (/^rediss?:\/\//.test(redis)) o.redisUrl = redis;
    else problems.push(`--redis must be a redis:// URL, got ${redis}`);
  }
  const from = str('from');
  if (from !== undefined) o.from = from;
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}
