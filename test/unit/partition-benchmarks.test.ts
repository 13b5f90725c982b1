/**
 * Our partitioner against the FaaSFlow baseline on FaaSFlow's eight paper benchmarks, imported
 * from their flat files (read from bench/data/faasflow, or FAASFLOW_BENCHMARKS): 3
 * workers and default capacity, quota and bandwidth. Prints total, our local and FaaSFlow's
 * local edge MB per benchmark.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  partition,
  partitionFaasflow,
  type PartitionResult,
} from '../../master/partition/index.js';
import { importFlat } from '../../master/workflow/flat.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { faasflowBenchmarks, PAPER_BENCHMARKS } from '../../bench/paths.js';

const MB = 1024 * 1024;

function loadFlat(name: string): WorkflowDag {
  const text = readFileSync(join(faasflowBenchmarks(), name, 'flat_workflow.yaml'), 'utf8');
  const { dag, issues } = importFlat(
    YAML.parse(text) as Record<string, unknown>,
    name.replace(/_/g, '-'),
  );
  if (!dag) throw new Error(`${name} does not import: ${JSON.stringify(issues.slice(0, 3))}`);
  return dag;
}

interface Row {
  name: string;
  ours: PartitionResult;
  theirs: PartitionResult;
}

describe('partition on the FaaSFlow paper benchmarks', () => {
  const rows = new Map<string, Row>();

  beforeAll(() => {
    for (const name of PAPER_BENCHMARKS) {
      const dag = loadFlat(name);
      rows.set(name, {
        name,
        ours: partition(dag, { workers: 3 }),
        theirs: partitionFaasflow(dag, { workers: 3 }),
      });
    }
    const mb = (bytes: number): string => (bytes / MB).toFixed(1).padStart(9);
    const lines = [...rows.values()].map(
      (r) =>
        `${r.name.padEnd(18)}${mb(r.ours.totalBytes)}${mb(r.ours.localBytes)}${mb(r.theirs.localBytes)}`,
    );
    console.log(['benchmark          total MB  ours MB  FaaSFlow MB (local)', ...lines].join('\n'));
  });

  it.each(PAPER_BENCHMARKS)('keeps at least as many bytes local as FaaSFlow on %s', (name) => {
    const { ours, theirs } = rows.get(name)!;
    expect(ours.totalBytes).toBeGreaterThan(0);
    expect(ours.localBytes).toBeGreaterThanOrEqual(theirs.localBytes);
  });

  it('keeps far more of Genome edge data local than FaaSFlow, which stops at the critical path', () => {
    const { ours, theirs } = rows.get('genome')!;
    // FaaSFlow's own Genome grouping keeps ~5 of ~177 MB local.
    expect(theirs.localBytes).toBeLessThan(0.1 * ours.totalBytes);
    expect(ours.localBytes).toBeGreaterThan(0.4 * ours.totalBytes);
    expect(ours.localBytes).toBeGreaterThan(10 * theirs.localBytes);
  });
});
