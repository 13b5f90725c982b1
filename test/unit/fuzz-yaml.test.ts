/**
 * The YAML front end under fuzz (bench/fuzz/yaml.ts, the same properties `faasflow bench fuzz
 * --target yaml` runs long): random text, byte edits and subtree replacements of every example,
 * JSON-like documents of workflow keywords — always a clear WORKFLOW_INVALID or a DAG the workers
 * accept, never an exception or a hang. Plus the regressions the fuzzing found.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../master/workflow/index.js';
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

describe('regressions the fuzzing found', () => {
  it('rejects a list or a mapping as a mapping key, with its line, without a process warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      for (const text of [
        'name: x\n? [a, b]\n: 1\n',
        'name: x\nfunctions:\n  ? { sleepMs: 30 }\n  : { code: "export default async (x) => x" }\n',
        'a: &k [1]\nb:\n  ? *k\n  : 2\n',
      ]) {
        const r = loadWorkflow(text);
        expect(r.dag).toBeNull();
        const issue = r.issues.find((i) => /mapping key must be a plain value/.test(i.message));
        expect(issue?.line).toBeGreaterThan(1);
      }
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
