/**
 * Inputs of harvest-parallel-aes. The input is a handful of parameters; split makes the text from
 * them. Size is the text length (96 KiB at level 1, doubling per level: 6 MiB at level 7); the
 * rounds and the 0.6/0.3/0.1 shares stay fixed, so the work of each encryptor is proportional to
 * its share of the text and the skew between them does not depend on the level.
 */
import { checkSeed, geometric } from '../levels.js';

export const WORKFLOW = 'harvest-parallel-aes';

export interface ParallelAesInput {
  seed: number;
  /** Bytes of text to encrypt, over all three segments. */
  textBytes: number;
  /** Encryption (and decryption) passes over each segment. */
  rounds: number;
  /** Relative segment sizes, one per encryptor. */
  shares: [number, number, number];
}

export const ROUNDS = 1000;
export const SHARES: [number, number, number] = [0.6, 0.3, 0.1];

/**
 * Bytes of data the invocation processes: the text. The input itself is a few dozen bytes
 * whatever the level, so a profiler keyed on input size should use this, not the JSON's length.
 */
export function dataBytes(input: ParallelAesInput): number {
  return input.textBytes;
}

/** The input at `sizeLevel` (1..7, fractions allowed: see ../levels.ts), content from `seed`. */
export function generate(sizeLevel: number, seed: number): ParallelAesInput {
  checkSeed(seed);
  return {
    seed,
    textBytes: geometric(sizeLevel, 96 * 1024, 2),
    rounds: ROUNDS,
    shares: [...SHARES],
  };
}
