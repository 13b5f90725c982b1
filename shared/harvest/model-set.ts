/**
 * The trained model set as data: its in-memory shape (forests behind `Forest`), the versioned
 * JSON document it is stored as (a TypeBox schema; the type is derived from it), and the two
 * conversions. Loading validates the whole document and every forest, naming what is wrong.
 */
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { AppError } from '../errors.js';
import { loadForest, type Forest } from './forest.js';
import { AccuracyStats, ErrorStats } from './metrics.js';

export const MODEL_SET_FORMAT = 'faasflow-harvest-models';
export const MODEL_SET_FORMAT_VERSION = 1;
export const ML1_FEATURES = ['dagInputBytes', 'index'] as const;
export const ML2_FEATURES = ['inputBytes'] as const;

export interface Ml1Model {
  workflow: string;
  stage: string;
  features: readonly string[];
  records: number;
  forest: Forest;
}

export interface Ml2Model {
  workflow: string;
  function: string;
  features: readonly string[];
  records: number;
  cpu: Forest;
  memory: Forest;
  /**
   * CPU time of a run (its work, ms), trained on the records that have it; absent in sets
   * trained before it was profiled, or with too few such records (the `work` policy then falls
   * back to `peak` for the stage).
   */
  cpuTime?: Forest;
}

const SkippedModel = Type.Object({
  model: Type.Union([Type.Literal('ml1'), Type.Literal('ml2')]),
  workflow: Type.String(),
  /** Stage (ml1) or function (ml2). */
  key: Type.String(),
  records: Type.Integer({ minimum: 0 }),
  message: Type.String(),
});
export type SkippedModel = Static<typeof SkippedModel>;

export const Evaluation = Type.Object({
  testInvocations: Type.Integer({ minimum: 0 }),
  testRecords: Type.Integer({ minimum: 0 }),
  /** Test records no ML1 (resp. ML2) model covered. */
  withoutMl1: Type.Integer({ minimum: 0 }),
  withoutMl2: Type.Integer({ minimum: 0 }),
  ml1: Type.Array(
    Type.Object({ workflow: Type.String(), stage: Type.String(), inputBytes: ErrorStats }),
  ),
  /** ML2 fed the measured input size. */
  ml2: Type.Array(
    Type.Object({
      workflow: Type.String(),
      function: Type.String(),
      cpu: AccuracyStats,
      memory: AccuracyStats,
    }),
  ),
  overall: Type.Object({ inputBytes: ErrorStats, cpu: AccuracyStats, memory: AccuracyStats }),
  /**
   * ML2 fed ML1's prediction, as at invocation time; `cpuTime` the work model's error;
   * `thesisGrid` the same predictions' accuracy on the thesis's whole-core grid, where the
   * thesis's "accurate" was measured (on a fine grid it asks for errors below one fine step).
   */
  pipeline: Type.Object({
    cpu: AccuracyStats,
    memory: AccuracyStats,
    cpuTime: Type.Optional(ErrorStats),
    thesisGrid: Type.Optional(Type.Object({ cpu: AccuracyStats, memory: AccuracyStats })),
  }),
});
export type Evaluation = Static<typeof Evaluation>;

export interface ModelSet {
  version: number;
  trainedAt: number;
  seed: number;
  trees: number;
  maxDepth: number;
  minLeafSamples: number;
  minRecords: number;
  holdoutFraction: number;
  recordCount: number;
  trainRecordCount: number;
  testRecordCount: number;
  /** Keyed by `modelKey(workflow, stage)`. */
  ml1: ReadonlyMap<string, Ml1Model>;
  /** Keyed by `modelKey(workflow, function)`. */
  ml2: ReadonlyMap<string, Ml2Model>;
  skipped: SkippedModel[];
  evaluation: Evaluation | null;
}

export function modelKey(workflow: string, key: string): string {
  return `${workflow}\u0000${key}`;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// JSON

const Ml1Json = Type.Object({
  workflow: Type.String({ minLength: 1 }),
  stage: Type.String({ minLength: 1 }),
  features: Type.Array(Type.String()),
  target: Type.Literal('inputBytes'),
  records: Type.Integer({ minimum: 1 }),
  forest: Type.Unknown(),
});

const Ml2Json = Type.Object({
  workflow: Type.String({ minLength: 1 }),
  function: Type.String({ minLength: 1 }),
  features: Type.Array(Type.String()),
  targets: Type.Tuple([Type.Literal('peakCpuCores'), Type.Literal('peakMemoryMb')]),
  records: Type.Integer({ minimum: 1 }),
  cpu: Type.Unknown(),
  memory: Type.Unknown(),
  cpuTime: Type.Optional(Type.Unknown()),
});

export const ModelSetJson = Type.Object({
  format: Type.Literal(MODEL_SET_FORMAT),
  formatVersion: Type.Literal(MODEL_SET_FORMAT_VERSION),
  version: Type.Integer({ minimum: 1 }),
  trainedAt: Type.Integer({ minimum: 0 }),
  seed: Type.Integer(),
  trees: Type.Integer({ minimum: 1 }),
  maxDepth: Type.Integer({ minimum: 1 }),
  minLeafSamples: Type.Integer({ minimum: 1 }),
  minRecords: Type.Integer({ minimum: 2 }),
  holdoutFraction: Type.Number({ minimum: 0, maximum: 0.9 }),
  recordCount: Type.Integer({ minimum: 0 }),
  trainRecordCount: Type.Integer({ minimum: 0 }),
  testRecordCount: Type.Integer({ minimum: 0 }),
  ml1: Type.Array(Ml1Json),
  ml2: Type.Array(Ml2Json),
  skipped: Type.Array(SkippedModel),
  evaluation: Type.Union([Evaluation, Type.Null()]),
});
export type ModelSetJson = Static<typeof ModelSetJson>;

/** Plain JSON; `JSON.stringify` it to store. Models are listed in key order. */
export function modelSetToJson(set: ModelSet): ModelSetJson {
  const byKey = <T>(m: ReadonlyMap<string, T>): T[] =>
    [...m].sort(([a], [b]) => cmp(a, b)).map(([, v]) => v);
  return {
    format: MODEL_SET_FORMAT,
    formatVersion: MODEL_SET_FORMAT_VERSION,
    version: set.version,
    trainedAt: set.trainedAt,
    seed: set.seed,
    trees: set.trees,
    maxDepth: set.maxDepth,
    minLeafSamples: set.minLeafSamples,
    minRecords: set.minRecords,
    holdoutFraction: set.holdoutFraction,
    recordCount: set.recordCount,
    trainRecordCount: set.trainRecordCount,
    testRecordCount: set.testRecordCount,
    ml1: byKey(set.ml1).map((m) => ({
      workflow: m.workflow,
      stage: m.stage,
      features: [...m.features],
      target: 'inputBytes' as const,
      records: m.records,
      forest: m.forest.toJSON(),
    })),
    ml2: byKey(set.ml2).map((m) => ({
      workflow: m.workflow,
      function: m.function,
      features: [...m.features],
      targets: ['peakCpuCores', 'peakMemoryMb'] as ['peakCpuCores', 'peakMemoryMb'],
      records: m.records,
      cpu: m.cpu.toJSON(),
      memory: m.memory.toJSON(),
      ...(m.cpuTime ? { cpuTime: m.cpuTime.toJSON() } : {}),
    })),
    skipped: set.skipped.map((s) => ({ ...s })),
    evaluation: set.evaluation,
  };
}

/** Loads `modelSetToJson` output (parsed or as text). Throws BAD_REQUEST naming what is wrong. */
export function loadModelSet(input: unknown): ModelSet {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      throw new AppError('BAD_REQUEST', `model set: not valid JSON: ${(err as Error).message}`);
    }
  }
  const errors = [...Value.Errors(ModelSetJson, json)].slice(0, 10);
  if (errors.length > 0)
    throw new AppError(
      'BAD_REQUEST',
      `model set: not a ${MODEL_SET_FORMAT} v${MODEL_SET_FORMAT_VERSION} document:\n  ${errors
        .map((e) => `${e.path || '/'}: ${e.message}`)
        .join('\n  ')}`,
    );
  const doc = json as ModelSetJson;
  const ml1 = new Map<string, Ml1Model>();
  doc.ml1.forEach((m, i) => {
    checkFeatures(m.features, ML1_FEATURES, `/ml1/${i}/features`);
    ml1.set(modelKey(m.workflow, m.stage), {
      workflow: m.workflow,
      stage: m.stage,
      features: m.features,
      records: m.records,
      forest: loadForest(m.forest, `model set /ml1/${i}/forest`),
    });
  });
  const ml2 = new Map<string, Ml2Model>();
  doc.ml2.forEach((m, i) => {
    checkFeatures(m.features, ML2_FEATURES, `/ml2/${i}/features`);
    ml2.set(modelKey(m.workflow, m.function), {
      workflow: m.workflow,
      function: m.function,
      features: m.features,
      records: m.records,
      cpu: loadForest(m.cpu, `model set /ml2/${i}/cpu`),
      memory: loadForest(m.memory, `model set /ml2/${i}/memory`),
      ...(m.cpuTime === undefined
        ? {}
        : { cpuTime: loadForest(m.cpuTime, `model set /ml2/${i}/cpuTime`) }),
    });
  });
  return {
    version: doc.version,
    trainedAt: doc.trainedAt,
    seed: doc.seed,
    trees: doc.trees,
    maxDepth: doc.maxDepth,
    minLeafSamples: doc.minLeafSamples,
    minRecords: doc.minRecords,
    holdoutFraction: doc.holdoutFraction,
    recordCount: doc.recordCount,
    trainRecordCount: doc.trainRecordCount,
    testRecordCount: doc.testRecordCount,
    ml1,
    ml2,
    skipped: doc.skipped,
    evaluation: doc.evaluation,
  };
}

/** This version predicts with exactly these features, in this order. */
function checkFeatures(got: readonly string[], want: readonly string[], where: string): void {
  if (got.length !== want.length || got.some((f, i) => f !== want[i]))
    throw new AppError(
      'BAD_REQUEST',
      `model set ${where}: features ${JSON.stringify(got)} are not supported; expected ${JSON.stringify(want)}`,
    );
}
