// ML pipeline, stage 2 (four of them): trains a random forest (ml-random-forest) with this
// branch's hyper-parameters and scores it on the held-out set. Cost grows with the number of
// trees and the features each tree sees, so the four trainers are deliberately unequal.
import { RandomForestClassifier } from 'ml-random-forest';

export default async function train({ data, params }) {
  const { name, nEstimators, maxFeatures, maxDepth } = params;
  if (!Number.isInteger(maxFeatures) || maxFeatures < 1 || maxFeatures > data.features)
    throw new RangeError(
      `maxFeatures must be a whole number of features from 1 to ${data.features}`,
    );
  const startedMs = performance.now();
  const forest = new RandomForestClassifier({
    seed: data.seed,
    nEstimators,
    // An integer: how many features each tree sees (a float in (0,1) would be a fraction; 1.0
    // would be read as one feature).
    maxFeatures,
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: { maxDepth, minNumSamples: 3 },
  });
  forest.train(data.train.x, data.train.y);
  const trainMs = performance.now() - startedMs;
  const predicted = forest.predict(data.test.x);
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === data.test.y[i]) correct++;
  return {
    name,
    params: { nEstimators, maxFeatures, maxDepth },
    trainSamples: data.train.y.length,
    testSamples: data.test.y.length,
    accuracy: correct / data.test.y.length,
    trainMs: Math.round(trainMs),
  };
}
