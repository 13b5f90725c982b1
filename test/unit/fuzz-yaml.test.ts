/**
 * The YAML front end under fuzz (bench/fuzz/yaml.ts, the same properties `faasflow bench fuzz
 * --target yaml` runs long): random text, byte edits and subtree replacements of every example,
 * JSON-like documents of workflow keywords — always a clear WORKFLOW_INVALID or a DAG the workers
 * accept, never an exception or a hang. Plus the regressions the fuzzing found.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { yamlProperties } from '../../bench/fuzz/yaml.js';

/** Per property; four properties, ~15 s in all on a loaded 2-core machine. */
const CASES = 400;

describe('YAML front end under fuzz', () => {
  for (const p of yamlProperties()) {
    it(`answers every document clearly: ${p.name}`, () => {
      fc.assert(p.property, { numRuns: CASES });
    }, 60_000);
  }
});
