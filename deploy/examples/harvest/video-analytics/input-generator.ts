/**
 * Inputs of harvest-video-analytics. The input is a handful of parameters; decode renders the
 * frames from them. Size is the clip length in frames (8 at level 1, ×1.6 per level: 134 at level
 * 7) at a fixed 640×360 and 12 blur passes; the 0.8/0.2 shares stay fixed, so the big recognizer
 * always gets four times the frames of the small one.
 */
import { checkSeed, geometric } from '../levels.js';

export const WORKFLOW = 'harvest-video-analytics';

export interface VideoAnalyticsInput {
  seed: number;
  frames: number;
  width: number;
  height: number;
  /** 3x3 Gaussian passes per frame: the recognizers' work per pixel. */
  blurPasses: number;
  /** Relative frame-set sizes, one per recognizer. */
  shares: [number, number];
}

export const SHARES: [number, number] = [0.8, 0.2];

/**
 * Bytes of data the invocation processes: the raw RGB frames. The input itself is a few dozen bytes
 * whatever the level, so a profiler keyed on input size should use this, not the JSON's length.
 */
export function dataBytes(input: VideoAnalyticsInput): number {
  return input.frames * input.width * input.height * 3;
}

/** The input at `sizeLevel` (1..7, fractions allowed: see ../levels.ts), content from `seed`. */
export function generate(sizeLevel: number, seed: number): VideoAnalyticsInput {
  checkSeed(seed);
  return {
    seed,
    frames: geometric(sizeLevel, 8, 1.6),
    width: 640,
    height: 360,
    blurPasses: 12,
    shares: [...SHARES],
  };
}
