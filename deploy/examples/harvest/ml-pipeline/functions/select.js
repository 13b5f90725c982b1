// ML pipeline, stage 3: keeps the model with the best held-out accuracy (ties go to the cheaper
// forest: fewer trees × features).
export default async function select(candidates) {
  const cost = (c) => c.params.nEstimators * c.params.maxFeatures;
  const ranked = [...candidates].sort((a, b) => b.accuracy - a.accuracy || cost(a) - cost(b));
  const best = ranked[0];
  return {
    best: { name: best.name, params: best.params, accuracy: best.accuracy },
    candidates: candidates.map(({ name, accuracy, trainMs }) => ({ name, accuracy, trainMs })),
  };
}
