/**
 * The one adapter for ml-random-forest: a seeded random-forest regressor behind a two-method
 * interface, and its JSON form. Everything else in harvest talks to `Forest`.
 *
 * Out-of-bag estimates are off: the harvest models are evaluated on a held-out split instead,
 * and the library's OOB bookkeeping throws when a bootstrap sample happens to cover every row.
 */
import { RandomForestRegression } from 'ml-random-forest';
import { AppError } from '../errors.js';

export interface ForestOptions {
  /** Seed of the bootstrap samples, a 32-bit integer. */
  seed: number;
  /** Number of trees. */
  trees: number;
  /** Depth limit of each tree. */
  maxDepth: number;
  /** A node with at most this many samples becomes a leaf. */
  minLeafSamples: number;
}

export interface Forest {
  /** One prediction per row; rows have as many features as the training rows. */
  predict(rows: readonly (readonly number[])[]): number[];
  /**
   * Plain JSON (the library's own model format). Loading it gives identical predictions; it
   * drops per-node sample counts, so it is byte-stable from the first reload on.
   */
  toJSON(): unknown;
}

export function trainForest(
  rows: readonly (readonly number[])[],
  targets: readonly number[],
  options: ForestOptions,
): Forest {
  const rf = new RandomForestRegression({
    seed: options.seed,
    nEstimators: options.trees,
    maxFeatures: 1.0,
    replacement: false,
    useSampleBagging: true,
    noOOB: true,
    selectionMethod: 'mean',
    treeOptions: { maxDepth: options.maxDepth, minNumSamples: options.minLeafSamples },
  });
  rf.train(
    rows.map((r) => [...r]),
    [...targets],
  );
  return wrap(rf);
}

/** Loads `Forest.toJSON()` output; throws BAD_REQUEST naming `where` when it is not one. */
export function loadForest(json: unknown, where: string): Forest {
  const model = json as { name?: unknown; baseModel?: { estimators?: unknown } } | null;
  if (
    typeof model !== 'object' ||
    model === null ||
    model.name !== 'RFRegression' ||
    typeof model.baseModel !== 'object' ||
    !Array.isArray(model.baseModel.estimators)
  ) {
    throw new AppError('BAD_REQUEST', `${where}: not a random-forest regression model`);
  }
  try {
    return wrap(
      RandomForestRegression.load(model as Parameters<typeof RandomForestRegression.load>[0]),
    );
  } catch (err) {
    throw new AppError('BAD_REQUEST', `${where}: cannot load the model: ${String(err)}`, {
      cause: err,
    });
  }
}

function wrap(rf: RandomForestRegression): Forest {
  return {
    predict: (rows) => rf.predict(rows.map((r) => [...r])),
    // The library's JSON holds its class instances; a round trip makes it plain data that is
    // not shared with the live model.
    toJSON: () => JSON.parse(JSON.stringify(rf.toJSON())) as unknown,
  };
}
