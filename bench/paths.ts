/** Paths the tests and benchmarks share: the repo root and the FaaSFlow benchmark folder. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest folder above this file with a package.json. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/**
 * FaaSFlow's benchmark workflows: FAASFLOW_BENCHMARKS, else the copy the repository carries in
 * bench/data/faasflow (Apache-2.0; origin and licence beside the files).
 */
export function faasflowBenchmarks(): string {
  return process.env['FAASFLOW_BENCHMARKS'] ?? resolve(repoRoot(), 'bench', 'data', 'faasflow');
}

export const PAPER_BENCHMARKS = [
  'cycles',
  'epigenomics',
  'genome',
  'soykb',
  'video',
  'illgal_recognizer',
  'fileprocessing',
  'wordcount',
] as const;
