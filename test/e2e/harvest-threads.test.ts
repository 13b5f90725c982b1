/**
 * End to end, the worker_threads versions of the three harvest workloads (`*-threads.yaml`) on a
 * master and 2 workers as real processes (process sandboxes), against their single-threaded
 * controls deployed beside them. Scenarios: each threaded encryptor splits its segment across
 * threads and verifies its round trip; the threaded recognizers give exactly the per-frame
 * results of the single-threaded ones; the threaded trainers split their trees across threads,
 * still pick a forest better than chance, and report the thread count (the machine's cores).
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import * as aes from '../../deploy/examples/harvest/parallel-aes/input-generator.js';
import * as video from '../../deploy/examples/harvest/video-analytics/input-generator.js';
import * as ml from '../../deploy/examples/harvest/ml-pipeline/input-generator.js';
import { MIN_SIZE_LEVEL } from '../../deploy/examples/harvest/levels.js';
import { repoRoot } from '../../bench/paths.js';
import { startCluster, type Api } from '../helpers/cluster.js';

const harvest = join(repoRoot(), 'deploy/examples/harvest');
const SEED = 11;
let cluster: LocalCluster;
let api: Api;

beforeAll(async () => {
  ({ cluster, api } = await startCluster({ workers: 2 }));
  for (const w of ['parallel-aes', 'video-analytics', 'ml-pipeline']) {
    await api.deploy(join(harvest, w, `${w}.yaml`));
    await api.deploy(join(harvest, w, `${w}-threads.yaml`));
  }
});

afterAll(async () => {
  await cluster?.stop();
});

type Step = { node: string; status: string; peakCpuCores?: number | null; output?: unknown };

async function steps(invocationId: string): Promise<Record<string, Step>> {
  const inv = (await api.invocation(invocationId)) as { steps: Step[] };
  return Object.fromEntries(inv.steps.map((s) => [s.node, s]));
}

describe('worker_threads workloads', () => {
  it('ParallelAES encrypts each segment in chunks across threads and verifies the round trip', async () => {
    const input = aes.generate(MIN_SIZE_LEVEL, SEED);
    const r = await api.invoke(`${aes.WORKFLOW}-threads`, input);
    expect(r.status).toBe('succeeded');
    expect(r.output).toMatchObject({ verified: true, bytes: input.textBytes });
    const control = await api.invoke(aes.WORKFLOW, input);
    // Chunks are chains of their own: another digest than the one-chain control.
    expect(r.output.digest).not.toBe(control.output.digest);
  });

  it('video analytics gives the per-frame results of the single-threaded control', async () => {
    const input = video.generate(MIN_SIZE_LEVEL, SEED);
    const [threaded, control] = await Promise.all([
      api.invoke(`${video.WORKFLOW}-threads`, input),
      api.invoke(video.WORKFLOW, input),
    ]);
    expect(threaded.status).toBe('succeeded');
    expect(threaded.output).toEqual(control.output);
  });

  it('the ML pipeline trains each forest across threads and still beats chance', async () => {
    const input = ml.generate(MIN_SIZE_LEVEL, SEED);
    const r = await api.invoke(`${ml.WORKFLOW}-threads`, input);
    expect(r.status).toBe('succeeded');
    const s = await steps(r.invocationId);
    for (const node of ['train-1', 'train-2', 'train-3', 'train-4'])
      expect(s[node]).toMatchObject({ status: 'succeeded' });
    const { best } = r.output as { best: { accuracy: number; params: { threads: number } } };
    expect(best.accuracy).toBeGreaterThan(1 / input.classes);
    expect(best.params.threads).toBe(availableParallelism());
  });
});
