// ML pipeline, stage 1: builds the data set — deterministic from the seed and size — and
// preprocesses it: a train/test split, then standardisation with the training set's statistics.
// Classes are Gaussian clouds over a few informative features, plus two non-linear features, pure
// noise features and 5% label noise, so bigger forests do measurably better than chance.

/** mulberry32: a small, fast, deterministic 32-bit PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal draws (Box–Muller) from a uniform source. */
function gaussian(next) {
  return () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

const INFORMATIVE = 5;
const LABEL_NOISE = 0.05;

export function makeDataset(seed, samples, features, classes) {
  const next = prng(seed);
  const normal = gaussian(next);
  const centers = Array.from({ length: classes }, () =>
    Array.from({ length: INFORMATIVE }, () => (next() - 0.5) * 3.2),
  );
  const x = [];
  const y = [];
  for (let i = 0; i < samples; i++) {
    const c = Math.floor(next() * classes);
    const row = new Array(features);
    for (let j = 0; j < features; j++) {
      if (j < INFORMATIVE) row[j] = centers[c][j] + normal() * 1.1;
      else if (j === INFORMATIVE) row[j] = (row[0] * row[1]) / 2 + normal() * 0.5;
      else if (j === INFORMATIVE + 1) row[j] = Math.sin(row[2] * 2) + normal() * 0.5;
      else row[j] = normal();
    }
    x.push(row);
    y.push(next() < LABEL_NOISE ? Math.floor(next() * classes) : c);
  }
  return { x, y };
}

function round4(v) {
  return Math.round(v * 1e4) / 1e4;
}

export default async function prepare(input) {
  const seed = Number(input.seed ?? 1);
  const samples = Number(input.samples ?? 400);
  const features = Number(input.features ?? 12);
  const classes = Number(input.classes ?? 3);
  const testFraction = Number(input.testFraction ?? 0.25);
  if (!Number.isInteger(features) || features < INFORMATIVE + 2)
    throw new RangeError(`features must be an integer of at least ${INFORMATIVE + 2}`);
  const { x, y } = makeDataset(seed, samples, features, classes);
  const nTest = Math.round(samples * testFraction);
  const nTrain = samples - nTest;
  if (nTrain < classes || nTest < 1) throw new RangeError('too few samples for a train/test split');
  // The generator's order is already random; the first rows train, the rest test.
  const mean = new Array(features).fill(0);
  const std = new Array(features).fill(0);
  for (let i = 0; i < nTrain; i++) for (let j = 0; j < features; j++) mean[j] += x[i][j] / nTrain;
  for (let i = 0; i < nTrain; i++)
    for (let j = 0; j < features; j++) std[j] += (x[i][j] - mean[j]) ** 2 / nTrain;
  for (let j = 0; j < features; j++) std[j] = Math.sqrt(std[j]) || 1;
  const scaled = x.map((row) => row.map((v, j) => round4((v - mean[j]) / std[j])));
  return {
    seed,
    classes,
    features,
    train: { x: scaled.slice(0, nTrain), y: y.slice(0, nTrain) },
    test: { x: scaled.slice(nTrain), y: y.slice(nTrain) },
  };
}
