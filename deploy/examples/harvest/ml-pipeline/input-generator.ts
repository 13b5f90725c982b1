/**
 * Inputs of harvest-ml-pipeline. The input is a handful of parameters; prepare builds the data set
 * from them. Size is the number of samples (160 at level 1, ×1.35 per level: 965 at level 7), a
 * quarter of them held out; training cost grows roughly with the square of the training samples.
 * The four trainers' hyper-parameters live in the workflow, so the skew between them does not
 * depend on the input.
 */
import { checkSeed, geometric } from '../levels.js';

export const WORKFLOW = 'harvest-ml-pipeline';

export interface MlPipelineInput {
  seed: number;
  /** Samples generated, training and held-out together. */
  samples: number;
  features: number;
  classes: number;
  /** Share of the samples held out for scoring. */
  testFraction: number;
}

/**
 * Bytes of data the invocation processes: the samples as float64 features. The input itself is a
 * few dozen bytes whatever the level, so a profiler keyed on input size should use this, not the
 * JSON's length.
 */
export function dataBytes(input: MlPipelineInput): number {
  return input.samples * input.features * 8;
}

/** The input at `sizeLevel` (1..7, fractions allowed: see ../levels.ts), content from `seed`. */
export function generate(sizeLevel: number, seed: number): MlPipelineInput {
  checkSeed(seed);
  return {
    seed,
    samples: geometric(sizeLevel, 160, 1.35),
    features: 12,
    classes: 3,
    testFraction: 0.25,
  };
}
