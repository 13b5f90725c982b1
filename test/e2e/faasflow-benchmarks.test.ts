/**
 * FaaSFlow's eight paper benchmarks, imported from their flat YAML unchanged, run on 3 workers
 * (runtimes scaled to 1%, emitted bytes to 5%, partition weights unchanged). For each: the
 * invocation succeeds, its output is as declared, and every node ran (or was skipped) exactly
 * once. Illegal Recognizer runs both ways round its two switches, so `mosaic` — behind two
 * exclusive branches — runs when either switch takes it, and is skipped when neither does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { startCluster, type Api } from '../helpers/cluster.js';
import { faasflowBenchmarks, PAPER_BENCHMARKS } from '../../bench/paths.js';

let cluster: LocalCluster;
let api: Api;
const dir = faasflowBenchmarks();

function nodesOf(bench: string): string[] {
  const doc = parse(readFileSync(join(dir, bench, 'flat_workflow.yaml'), 'utf8')) as {
    functions: { name: string }[];
  };
  return doc.functions.map((f) => f.name).sort();
}

beforeAll(async () => {
  ({ cluster, api } = await startCluster({ workers: 3, workerFlags: () => ['--cpu=2'] }));
  for (const b of PAPER_BENCHMARKS) {
    const name = b.replace(/_/g, '-');
    await api.deploy(join(dir, b, 'flat_workflow.yaml'), {
      name,
      runtimeScale: 0.01,
      sizeScale: 0.05,
    });
  }
});

afterAll(async () => {
  await cluster?.stop();
});

async function runOnce(
  bench: string,
  input: unknown,
): Promise<{ output: unknown; steps: { node: string; status: string; worker: string }[] }> {
  const r = await api.invoke(bench.replace(/_/g, '-'), input, { timeoutMs: 60_000 });
  expect(r.error ?? null).toBeNull();
  expect(r.status).toBe('succeeded');
  const inv = await api.invocation(r.invocationId);
  const top = inv.steps.filter((s: { node: string }) => !s.node.includes('['));
  return { output: r.output, steps: top };
}

describe("FaaSFlow's paper benchmarks", () => {
  it.each(PAPER_BENCHMARKS.filter((b) => b !== 'illgal_recognizer' && b !== 'video'))(
    '%s runs every node exactly once',
    async (bench) => {
      const { output, steps } = await runOnce(bench, {});
      expect(steps.map((s) => s.node).sort()).toEqual(nodesOf(bench));
      expect(steps.every((s) => s.status === 'succeeded')).toBe(true);
      // Output: global_output when the benchmark declares one (wordcount), else the sink list.
      expect(output).toEqual(
        bench === 'wordcount' ? { result: expect.anything() } : { sinks: expect.any(Array) },
      );
      expect(new Set(steps.map((s) => s.worker)).size).toBeGreaterThanOrEqual(1);
    },
  );

  it('video takes the split branch when asked, skipping simple_process', async () => {
    const { steps } = await runOnce('video', { split: true });
    expect(steps.map((s) => s.node).sort()).toEqual(nodesOf('video'));
    const status = Object.fromEntries(steps.map((s) => [s.node, s.status]));
    expect(status).toMatchObject({
      split: 'succeeded',
      transcode: 'succeeded',
      merge: 'succeeded',
      simple_process: 'skipped',
    });
  });

  it.each([
    [{ illegal_flag: true }, 'succeeded', 'skipped'],
    [{ illegal_flag: false, word_censor: { illegal_flag: true } }, 'succeeded', 'succeeded'],
    [{ illegal_flag: false }, 'skipped', 'succeeded'],
  ])('illgal_recognizer with %j runs mosaic: %s, extract: %s', async (input, mosaic, extract) => {
    const { steps } = await runOnce('illgal_recognizer', input);
    expect(steps.map((s) => s.node).sort()).toEqual(nodesOf('illgal_recognizer'));
    const status = Object.fromEntries(steps.map((s) => [s.node, s.status]));
    expect(status['mosaic']).toBe(mosaic);
    expect(status['extract']).toBe(extract);
  });

  it('spreads a wide benchmark over more than one worker', async () => {
    const { steps } = await runOnce('genome', {});
    expect(new Set(steps.map((s) => s.worker)).size).toBeGreaterThan(1);
  });
});
