/**
 * The two-step prediction of the harvesting thesis (Fotouhi 2024, §3.5 and Appendix B), trained
 * on profile records with random-forest regression:
 *
 * - ML1, one per (workflow, stage): the input size of a function from the invocation's input
 *   size and the function's index in its stage — features `dagInputBytes, index`, target
 *   `inputBytes`. (The thesis trains one per DAG type with stage information as a feature;
 *   one per stage is the same split made explicit.) Trained for every stage with enough
 *   records, width 1 included.
 * - ML2, one per (workflow, function): peak CPU cores, peak memory (MB, no page cache) and CPU
 *   time (the run's work, which the `work` policy shares CPU by) from the function's input size
 *   — feature `inputBytes`, three forests (the CPU-time one only when enough records have it).
 *   Trained on measured input sizes; at inference it is fed ML1's prediction.
 *
 * Training is deterministic for a given seed and set of records (in any order): records are
 * sorted, the held-out split is a seeded shuffle of *invocations* (all records of one
 * invocation fall on the same side, so ML1 is never tested on an input size it saw), and the
 * forests are seeded. The shipped models are the ones trained on the training part, so the
 * evaluation describes exactly them; `holdoutFraction: 0` trains on everything and skips it.
 *
 * A model needs at least `minRecords` training records (default `MIN_TRAINING_RECORDS`);
 * without one, predictions answer `no-model` and the caller keeps the user's allocation.
 * The model set's shape and its JSON document live in `model-set.ts` (re-exported here).
 */
import { AppError } from '../../shared/errors.js';
import { ALLOCATION_GRID, THESIS_GRID, type AllocationGrid } from '../../shared/harvest/types.js';
import { trainForest } from '../../shared/harvest/forest.js';
import { accuracyStats, errorStats, type Pair } from '../../shared/harvest/metrics.js';
import {
  ML1_FEATURES,
  ML2_FEATURES,
  modelKey,
  type Evaluation,
  type Ml1Model,
  type Ml2Model,
  type ModelSet,
  type SkippedModel,
} from '../../shared/harvest/model-set.js';
import { checkProfileRecord, type ProfileRecord } from './profile.js';
import { mulberry32 } from '../../shared/random.js';
import { predictDemand, predictInputBytes } from '../../shared/harvest/predict.js';

export {
  accuracyStats,
  errorStats,
  isAccurate,
  predictionError,
  type AccuracyStats,
  type ErrorStats,
} from '../../shared/harvest/metrics.js';
export {
  ML1_FEATURES,
  ML2_FEATURES,
  MODEL_SET_FORMAT,
  MODEL_SET_FORMAT_VERSION,
  ModelSetJson,
  loadModelSet,
  modelKey,
  modelSetToJson,
  type Evaluation,
  type Ml1Model,
  type Ml2Model,
  type ModelSet,
  type SkippedModel,
} from '../../shared/harvest/model-set.js';

/** Fewest training records a model is trained on; below it the model is `no-model`. */
export const MIN_TRAINING_RECORDS = 10;

export const TRAIN_DEFAULTS = {
  trees: 50,
  maxDepth: 20,
  minLeafSamples: 3,
  /** The thesis's 80-20 split. */
  holdoutFraction: 0.2,
  minRecords: MIN_TRAINING_RECORDS,
} as const;

export interface TrainOptions {
  /** Version number of the model set (≥ 1), chosen by the caller. */
  version: number;
  /** Epoch ms, passed in (no clock here). */
  trainedAt: number;
  /** Seed of the split and the forests, a 32-bit integer. */
  seed: number;
  /** Trees per forest. Default 50. */
  trees?: number;
  /** Depth limit of each tree. Default 20. */
  maxDepth?: number;
  /** A tree node with at most this many samples is a leaf. Default 3. */
  minLeafSamples?: number;
  /** Share of invocations held out for evaluation, 0..0.9. Default 0.2. */
  holdoutFraction?: number;
  /** Fewest training records per model, ≥ 2. Default `MIN_TRAINING_RECORDS` (10). */
  minRecords?: number;
  /** Grid the accuracy metric rounds to. Default `ALLOCATION_GRID`. */
  grid?: AllocationGrid;
}

// ---------------------------------------------------------------------------------------------
// Training

export function trainModels(records: readonly ProfileRecord[], options: TrainOptions): ModelSet {
  const o = checkOptions(options);
  const problems: string[] = [];
  records.forEach((r, i) => {
    for (const p of checkProfileRecord(r))
      problems.push(`record ${i}, field ${p.field}: ${p.message}`);
  });
  if (problems.length > 0)
    throw new AppError(
      'BAD_REQUEST',
      `invalid profile records:\n  ${problems.slice(0, 20).join('\n  ')}`,
      {
        details: { problems },
      },
    );

  const sorted = [...records].sort(compareRecords);
  const test = heldOut(sorted, o.holdoutFraction, o.seed);
  const invocation = (r: ProfileRecord): string => modelKey(r.workflow, r.invocationId);
  const training = sorted.filter((r) => !test.has(invocation(r)));
  const testing = sorted.filter((r) => test.has(invocation(r)));
  const forest = {
    seed: o.seed,
    trees: o.trees,
    maxDepth: o.maxDepth,
    minLeafSamples: o.minLeafSamples,
  };
  const skipped: SkippedModel[] = [];
  const tooFew = (n: number): string =>
    `${n} training record${n === 1 ? '' : 's'}; at least ${o.minRecords} are needed`;

  // Keys come from all records, so a stage or function seen only in the held-out part is
  // reported as skipped (0 training records) rather than silently missing.
  const byStage = (r: ProfileRecord): string => modelKey(r.workflow, r.stage);
  const byFunction = (r: ProfileRecord): string => modelKey(r.workflow, r.function);
  const trainByStage = new Map(groupBy(training, byStage));
  const trainByFunction = new Map(groupBy(training, byFunction));

  const ml1 = new Map<string, Ml1Model>();
  for (const [key, all] of groupBy(sorted, byStage)) {
    const { workflow, stage } = all[0]!;
    const group = trainByStage.get(key) ?? [];
    if (group.length < o.minRecords) {
      skipped.push({
        model: 'ml1',
        workflow,
        key: stage,
        records: group.length,
        message: tooFew(group.length),
      });
      continue;
    }
    ml1.set(key, {
      workflow,
      stage,
      features: ML1_FEATURES,
      records: group.length,
      forest: trainForest(
        group.map((r) => [r.dagInputBytes, r.index]),
        group.map((r) => r.inputBytes),
        forest,
      ),
    });
  }

  const ml2 = new Map<string, Ml2Model>();
  for (const [key, all] of groupBy(sorted, byFunction)) {
    const { workflow, function: fn } = all[0]!;
    const group = trainByFunction.get(key) ?? [];
    if (group.length < o.minRecords) {
      skipped.push({
        model: 'ml2',
        workflow,
        key: fn,
        records: group.length,
        message: tooFew(group.length),
      });
      continue;
    }
    const rows = group.map((r) => [r.inputBytes]);
    const timed = group.filter((r) => r.cpuTimeMs !== undefined);
    ml2.set(key, {
      workflow,
      function: fn,
      features: ML2_FEATURES,
      records: group.length,
      cpu: trainForest(
        rows,
        group.map((r) => r.peakCpuCores),
        forest,
      ),
      memory: trainForest(
        rows,
        group.map((r) => r.peakMemoryMb),
        forest,
      ),
      ...(timed.length < o.minRecords
        ? {}
        : {
            cpuTime: trainForest(
              timed.map((r) => [r.inputBytes]),
              timed.map((r) => r.cpuTimeMs!),
              forest,
            ),
          }),
    });
  }
  skipped.sort((a, b) => cmp(a.model, b.model) || cmp(a.workflow, b.workflow) || cmp(a.key, b.key));

  const set: ModelSet = {
    version: o.version,
    trainedAt: o.trainedAt,
    seed: o.seed,
    trees: o.trees,
    maxDepth: o.maxDepth,
    minLeafSamples: o.minLeafSamples,
    minRecords: o.minRecords,
    holdoutFraction: o.holdoutFraction,
    recordCount: records.length,
    trainRecordCount: training.length,
    testRecordCount: testing.length,
    ml1,
    ml2,
    skipped,
    evaluation: null,
  };
  if (testing.length > 0) set.evaluation = evaluate(set, testing, o.grid, test.size);
  return set;
}

type CheckedOptions = Required<TrainOptions>;

function checkOptions(options: TrainOptions): CheckedOptions {
  const o: CheckedOptions = {
    version: options.version,
    trainedAt: options.trainedAt,
    seed: options.seed,
    trees: options.trees ?? TRAIN_DEFAULTS.trees,
    maxDepth: options.maxDepth ?? TRAIN_DEFAULTS.maxDepth,
    minLeafSamples: options.minLeafSamples ?? TRAIN_DEFAULTS.minLeafSamples,
    holdoutFraction: options.holdoutFraction ?? TRAIN_DEFAULTS.holdoutFraction,
    minRecords: options.minRecords ?? TRAIN_DEFAULTS.minRecords,
    grid: options.grid ?? ALLOCATION_GRID,
  };
  const problems: string[] = [];
  const int = (name: keyof CheckedOptions, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
      problems.push(
        `${name}: ${JSON.stringify(v)} is not valid; must be an integer from ${min} to ${max}`,
      );
  };
  int('version', 1);
  int('trainedAt', 0);
  int('seed', -(2 ** 31), 2 ** 31 - 1);
  int('trees', 1, 10_000);
  int('maxDepth', 1, 1_000);
  int('minLeafSamples', 1, 1_000_000);
  int('minRecords', 2);
  if (!(o.holdoutFraction >= 0 && o.holdoutFraction <= 0.9))
    problems.push(`holdoutFraction: ${o.holdoutFraction} is not valid; must be from 0 to 0.9`);
  if (problems.length > 0)
    throw new AppError('BAD_REQUEST', `invalid training options: ${problems.join('; ')}`, {
      details: { problems },
    });
  return o;
}

function compareRecords(a: ProfileRecord, b: ProfileRecord): number {
  return (
    cmp(a.workflow, b.workflow) ||
    cmp(a.invocationId, b.invocationId) ||
    cmp(a.node, b.node) ||
    a.index - b.index ||
    a.at - b.at ||
    a.version - b.version
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): [string, T[]][] {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const list = m.get(k);
    if (list) list.push(t);
    else m.set(k, [t]);
  }
  return [...m].sort(([a], [b]) => cmp(a, b));
}

/**
 * The held-out invocations: a seeded shuffle of the sorted invocation keys, first
 * round(n × fraction) of them — at least one and never all, when fraction > 0 and n ≥ 2.
 */
function heldOut(records: readonly ProfileRecord[], fraction: number, seed: number): Set<string> {
  const keys = [...new Set(records.map((r) => modelKey(r.workflow, r.invocationId)))].sort(cmp);
  if (fraction <= 0 || keys.length < 2) return new Set();
  const random = mulberry32(seed);
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j]!, keys[i]!];
  }
  const n = Math.min(keys.length - 1, Math.max(1, Math.round(keys.length * fraction)));
  return new Set(keys.slice(0, n));
}

function evaluate(
  set: ModelSet,
  testing: readonly ProfileRecord[],
  grid: AllocationGrid,
  testInvocations: number,
): Evaluation {
  const ml1Pairs = new Map<string, Pair[]>();
  const cpuPairs = new Map<string, Pair[]>();
  const memPairs = new Map<string, Pair[]>();
  const pipeCpu: Pair[] = [];
  const pipeMem: Pair[] = [];
  const pipeWork: Pair[] = [];
  let withoutMl1 = 0;
  let withoutMl2 = 0;
  const push = (m: Map<string, Pair[]>, k: string, p: Pair): void => {
    const list = m.get(k);
    if (list) list.push(p);
    else m.set(k, [p]);
  };
  for (const r of testing) {
    const k1 = modelKey(r.workflow, r.stage);
    const k2 = modelKey(r.workflow, r.function);
    const inputBytes = predictInputBytes(set, r);
    if (inputBytes === null) withoutMl1++;
    else push(ml1Pairs, k1, { predicted: inputBytes, actual: r.inputBytes });
    const measured = predictDemand(set, r);
    if (measured === null) withoutMl2++;
    else {
      push(cpuPairs, k2, { predicted: measured.cpuCores, actual: r.peakCpuCores });
      push(memPairs, k2, { predicted: measured.memoryMb, actual: r.peakMemoryMb });
    }
    if (inputBytes !== null) {
      const piped = predictDemand(set, { workflow: r.workflow, function: r.function, inputBytes });
      if (piped) {
        pipeCpu.push({ predicted: piped.cpuCores, actual: r.peakCpuCores });
        pipeMem.push({ predicted: piped.memoryMb, actual: r.peakMemoryMb });
        if (piped.cpuTimeMs !== undefined && r.cpuTimeMs !== undefined)
          pipeWork.push({ predicted: piped.cpuTimeMs, actual: r.cpuTimeMs });
      }
    }
  }
  const split = (k: string): [string, string] => {
    const i = k.indexOf('\u0000');
    return [k.slice(0, i), k.slice(i + 1)];
  };
  const sortedKeys = (m: Map<string, unknown>): string[] => [...m.keys()].sort(cmp);
  return {
    testInvocations,
    testRecords: testing.length,
    withoutMl1,
    withoutMl2,
    ml1: sortedKeys(ml1Pairs).map((k) => {
      const [workflow, stage] = split(k);
      return { workflow, stage, inputBytes: errorStats(ml1Pairs.get(k)!) };
    }),
    ml2: sortedKeys(cpuPairs).map((k) => {
      const [workflow, fn] = split(k);
      return {
        workflow,
        function: fn,
        cpu: accuracyStats(cpuPairs.get(k)!, grid.cpu),
        memory: accuracyStats(memPairs.get(k)!, grid.memoryMb),
      };
    }),
    overall: {
      inputBytes: errorStats([...ml1Pairs.values()].flat()),
      cpu: accuracyStats([...cpuPairs.values()].flat(), grid.cpu),
      memory: accuracyStats([...memPairs.values()].flat(), grid.memoryMb),
    },
    pipeline: {
      cpu: accuracyStats(pipeCpu, grid.cpu),
      memory: accuracyStats(pipeMem, grid.memoryMb),
      ...(pipeWork.length > 0 ? { cpuTime: errorStats(pipeWork) } : {}),
      thesisGrid: {
        cpu: accuracyStats(pipeCpu, THESIS_GRID.cpu),
        memory: accuracyStats(pipeMem, THESIS_GRID.memoryMb),
      },
    },
  };
}

// Prediction: shared/harvest/predict.ts (an ingress worker decides too).
export {
  predictDemand,
  predictInputBytes,
  predictInvocation,
  predictNode,
  type Prediction,
} from '../../shared/harvest/predict.js';
