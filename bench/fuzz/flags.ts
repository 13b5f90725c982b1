/** The options of `faasflow bench fuzz`, read from its flags (every problem at once). */
import { flagReader } from '../flag-reader.js';

export const FUZZ_TARGETS = ['yaml', 'master', 'worker'] as const;
export type FuzzTargetName = (typeof FUZZ_TARGETS)[number];

export interface FuzzBenchOptions {
  /** Cases in all, shared evenly by the properties run. Default 100,000 (300 with --smoke). */
  cases: number;
  /** Seed of the run; default: random (printed, so a failure can be replayed). */
  seed?: number;
  /** Replays one counterexample: the path a failure printed (with its seed). */
  path?: string;
  targets: FuzzTargetName[];
  reportDir?: string;
  print: (line: string) => void;
}

const KNOWN = ['cases', 'seed', 'path', 'target', 'out', 'smoke'];

export function fuzzOptionsFromFlags(
  camelFlags: Record<string, string | boolean>,
): { options: Omit<FuzzBenchOptions, 'print'> } | { error: string } {
  const { flags, problems, str, int } = flagReader(camelFlags, 'fuzz', KNOWN);
  const o: Omit<FuzzBenchOptions, 'print'> = {
    cases: flags['smoke'] === true ? 300 : 100_000,
    targets: [...FUZZ_TARGETS],
  };
  const cases = int('cases', 1);
  if (cases !== undefined) o.cases = cases;
  const seed = int('seed', 0);
  if (seed !== undefined) o.seed = seed;
  const path = str('path');
  if (path !== undefined) {
    if (/^\d+(:\d+)*$/.test(path)) o.path = path;
    else
      problems.push(`--path must be the path a failure printed (digits and colons), got ${path}`);
  }
  const target = str('target');
  if (target !== undefined) {
    if (target === 'all') o.targets = [...FUZZ_TARGETS];
    else if ((FUZZ_TARGETS as readonly string[]).includes(target))
      o.targets = [target as FuzzTargetName];
    else problems.push(`--target must be yaml, master, worker or all, got ${target}`);
  }
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}
