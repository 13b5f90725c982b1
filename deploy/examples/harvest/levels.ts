/**
 * Size levels shared by the harvest workloads' input generators. A level is a number from 1
 * (smallest) to 7 (largest); 4 is the medium size (about a second end to end on a 2-core
 * machine). Integer levels are the named sizes; fractional levels interpolate geometrically, so a
 * profiling sweep can ask for as many distinct input sizes as it likes.
 */

/** The named levels, smallest first. */
export const SIZE_LEVELS: readonly number[] = [1, 2, 3, 4, 5, 6, 7];
export const MIN_SIZE_LEVEL = 1;
export const MEDIUM_SIZE_LEVEL = 4;
export const MAX_SIZE_LEVEL = 7;

/** Throws a RangeError naming the argument unless `sizeLevel` is within 1..7. */
export function checkSizeLevel(sizeLevel: number): void {
  if (!Number.isFinite(sizeLevel) || sizeLevel < MIN_SIZE_LEVEL || sizeLevel > MAX_SIZE_LEVEL)
    throw new RangeError(
      `sizeLevel must be a number from ${MIN_SIZE_LEVEL} to ${MAX_SIZE_LEVEL}; got ${sizeLevel}`,
    );
}

/** Throws a RangeError unless `seed` is an unsigned 32-bit integer (what the functions' PRNGs take). */
export function checkSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`seed must be an integer from 0 to 4294967295; got ${seed}`);
}

/** `atLevel1 × factor^(level − 1)`, rounded to an integer. */
export function geometric(sizeLevel: number, atLevel1: number, factor: number): number {
  checkSizeLevel(sizeLevel);
  return Math.round(atLevel1 * factor ** (sizeLevel - MIN_SIZE_LEVEL));
}
