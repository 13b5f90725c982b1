// ML pipeline, stage 2 (four of them): trains a random forest (ml-random-forest) with this
// branch's hyper-parameters and scores it on the held-out set. Cost grows with the number of
// trees and the features each tree sees, so the four trainers are deliberately unequal.
//
// `params.threads` (default 1): with 1 one forest is trained on the calling thread (the
// single-threaded control); with N > 1 (0: the machine's cores) the trees are split across N
// worker_threads threads, each training a forest of its share of the trees (its own seed), and
// the forests vote together — the same work over the cores the function is given (the thesis's
// ML pipeline trains in several processes).
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { RandomForestClassifier } from 'ml-random-forest';

const THREAD = 'faasflow-harvest-ml-trees';

function forestOf(seed, nEstimators, maxFeatures, maxDepth) {
  return new RandomForestClassifier({
    seed,
    nEstimators,
    // An integer: how many features each tree sees (a float in (0,1) would be a fraction; 1.0
    // would be read as one feature).
    maxFeatures,
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: { maxDepth, minNumSamples: 3 },
  });
}

/** Trains a forest and returns its predictions on the test set. */
function trainAndPredict(data, seed, nEstimators, maxFeatures, maxDepth) {
  const forest = forestOf(seed, nEstimators, maxFeatures, maxDepth);
  forest.train(data.train.x, data.train.y);
  return forest.predict(data.test.x);
}

// In a worker thread of the pool below: one share of the trees per message.
if (!isMainThread && workerData?.kind === THREAD) {
  parentPort.on('message', (job) => {
    try {
      parentPort.postMessage({
        result: trainAndPredict(job.data, job.seed, job.nEstimators, job.maxFeatures, job.maxDepth),
      });
    } catch (err) {
      parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  });
}

/**
 * A pool of threads running this very module (see the thread side above), kept across calls:
 * a warm sandbox reuses its threads, so a call pays no thread start-up (tens of ms of CPU each).
 * Idle threads are unref'd and never keep the process alive; one that fails is dropped.
 */
const idle = [];

function inThread(job) {
  return new Promise((resolve, reject) => {
    const w = idle.pop() ?? new Worker(new URL(import.meta.url), { workerData: { kind: THREAD } });
    w.ref();
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
    };
    const onMessage = (m) => {
      done();
      w.unref();
      idle.push(w);
      if (m.error !== undefined) reject(new Error(m.error));
      else resolve(m.result);
    };
    const onError = (err) => {
      done();
      reject(err);
    };
    const onExit = (code) => {
      done();
      reject(new Error(`${THREAD} thread exited with code ${code}`));
    };
    w.on('message', onMessage);
    w.once('error', onError);
    w.once('exit', onExit);
    w.postMessage(job);
  });
}

/** Majority vote per test sample over the forests' predictions, weighted by their trees. */
function vote(predictions, weights) {
  return predictions[0].map((_, i) => {
    const tally = new Map();
    predictions.forEach((p, k) => tally.set(p[i], (tally.get(p[i]) ?? 0) + weights[k]));
    let best = null;
    for (const [label, n] of tally)
      if (best === null || n > tally.get(best) || (n === tally.get(best) && label < best))
        best = label;
    return best;
  });
}

export default async function train({ data, params }) {
  const { name, nEstimators, maxFeatures, maxDepth } = params;
  if (!Number.isInteger(maxFeatures) || maxFeatures < 1 || maxFeatures > data.features)
    throw new RangeError(
      `maxFeatures must be a whole number of features from 1 to ${data.features}`,
    );
  const t = params.threads ?? 1;
  if (!Number.isInteger(t) || t < 0 || t > 256)
    throw new RangeError('threads must be an integer from 0 (the machine’s cores) to 256');
  const threads = Math.min(t === 0 ? availableParallelism() : t, nEstimators);
  const startedMs = performance.now();
  let predicted;
  if (threads <= 1) {
    predicted = trainAndPredict(data, data.seed, nEstimators, maxFeatures, maxDepth);
  } else {
    const trees = Array.from(
      { length: threads },
      (_, k) =>
        Math.floor((nEstimators * (k + 1)) / threads) - Math.floor((nEstimators * k) / threads),
    );
    const parts = await Promise.all(
      trees.map((n, k) =>
        inThread({ data, seed: data.seed + k, nEstimators: n, maxFeatures, maxDepth }),
      ),
    );
    predicted = vote(parts, trees);
  }
  const trainMs = performance.now() - startedMs;
  let correct = 0;
  for (let i = 0; i < predicted.length; i++) if (predicted[i] === data.test.y[i]) correct++;
  return {
    name,
    params: { nEstimators, maxFeatures, maxDepth, threads },
    trainSamples: data.train.y.length,
    testSamples: data.test.y.length,
    accuracy: correct / data.test.y.length,
    trainMs: Math.round(trainMs),
  };
}
