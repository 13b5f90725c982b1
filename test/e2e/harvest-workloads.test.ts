/**
 * End to end, the three skewed harvest workloads of deploy/examples/harvest on a master and 2
 * workers as real processes (process sandboxes): each is deployed from its YAML with its handler
 * files and invoked with its input generator's smallest size level. Scenarios: ParallelAES's
 * combined digest equals an AES recomputation in the test and its segments follow the 0.6/0.3/0.1
 * shares; video analytics gives the same per-frame results as running its handlers in the test
 * process, the same digest for the same seed and another for another seed; the ML pipeline picks
 * its most accurate forest, above chance, the same one every time; every function runs with the
 * allocation its YAML declares; the generators reject size levels and seeds out of range.
 * The ML trainers import ml-random-forest: workers link their `functionModules` (by default
 * faasflow's own node_modules) beside the deployed handlers, so the default temp data folders work.
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import * as aes from '../../deploy/examples/harvest/parallel-aes/input-generator.js';
import * as video from '../../deploy/examples/harvest/video-analytics/input-generator.js';
import * as ml from '../../deploy/examples/harvest/ml-pipeline/input-generator.js';
import { MIN_SIZE_LEVEL, SIZE_LEVELS } from '../../deploy/examples/harvest/levels.js';
import { repoRoot } from '../../bench/paths.js';
import { startCluster, type Api } from '../helpers/cluster.js';

const harvest = join(repoRoot(), 'deploy/examples/harvest');
const SEED = 7;
let cluster: LocalCluster;
let api: Api;

beforeAll(async () => {
  ({ cluster, api } = await startCluster({ workers: 2 }));
  for (const w of ['parallel-aes', 'video-analytics', 'ml-pipeline'])
    await api.deploy(join(harvest, w, `${w}.yaml`));
});

afterAll(async () => {
  await cluster?.stop();
});

/** A handler module, loaded in the test process to recompute what the sandbox computed. */
async function handlerModule(workflow: string, file: string): Promise<any> {
  return import(pathToFileURL(join(harvest, workflow, 'functions', file)).href);
}

function stepsByNode(inv: any): Record<string, any> {
  return Object.fromEntries(inv.steps.map((s: any) => [s.node, s]));
}

/** What an encryptor should report for one segment: AES-256-CBC, chained rounds, SHA-256. */
function expectedSegmentDigest(text: Buffer, seed: number, index: number, rounds: number): string {
  const key = createHash('sha256').update(`faasflow-harvest-aes:key:${seed}`).digest();
  let iv = createHash('sha256')
    .update(`faasflow-harvest-aes:iv:${seed}:${index}`)
    .digest()
    .subarray(0, 16);
  let data = Buffer.alloc(Math.ceil(text.length / 16) * 16);
  text.copy(data);
  const plain = Buffer.from(data);
  const ivs: Buffer[] = [];
  for (let r = 0; r < rounds; r++) {
    ivs.push(iv);
    const c = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    data = Buffer.concat([c.update(data), c.final()]);
    iv = Buffer.from(data.subarray(data.length - 16));
  }
  const digest = createHash('sha256').update(data).digest('hex');
  for (let r = rounds - 1; r >= 0; r--) {
    const d = createDecipheriv('aes-256-cbc', key, ivs[r]!).setAutoPadding(false);
    data = Buffer.concat([d.update(data), d.final()]);
  }
  expect(data.equals(plain)).toBe(true);
  return digest;
}

describe('ParallelAES', () => {
  it('encrypts three unequal segments and joins their digests into the recomputed digest', async () => {
    const input = aes.generate(MIN_SIZE_LEVEL, SEED);
    const r = await api.invoke(aes.WORKFLOW, input);
    expect(r.status).toBe('succeeded');

    const { makeText, cuts } = await handlerModule('parallel-aes', 'split.js');
    const text: Buffer = makeText(SEED, input.textBytes);
    const at: number[] = cuts(input.textBytes, input.shares);
    const segmentDigests = input.shares.map((_, i) =>
      expectedSegmentDigest(text.subarray(at[i], at[i + 1]), SEED, i, input.rounds),
    );
    const joined = createHash('sha256');
    for (const d of segmentDigests) joined.update(d, 'hex');
    expect(r.output).toEqual({
      digest: joined.digest('hex'),
      bytes: input.textBytes,
      rounds: input.rounds,
      verified: true,
      segments: segmentDigests.map((digest, index) => ({
        index,
        offset: at[index],
        bytes: at[index + 1]! - at[index]!,
        digest,
      })),
    });
    const bytes = r.output.segments.map((s: { bytes: number }) => s.bytes);
    expect(bytes[0] / bytes[2]).toBeCloseTo(6, 1);
    expect(bytes[1] / bytes[2]).toBeCloseTo(3, 1);
  });

  it('runs every function with the allocation its YAML declares', async () => {
    const r = await api.invoke(aes.WORKFLOW, aes.generate(MIN_SIZE_LEVEL, SEED + 1));
    const steps = stepsByNode(await api.invocation(r.invocationId));
    expect(Object.keys(steps).sort()).toEqual([
      'encrypt-1',
      'encrypt-2',
      'encrypt-3',
      'join',
      'split',
    ]);
    for (const s of Object.values(steps)) {
      expect(s).toMatchObject({ status: 'succeeded', allocation: { cpu: 2, memoryMb: 512 } });
      expect(s.cpuTimeMs).toBeGreaterThan(0);
    }
  });
});

describe('video analytics', () => {
  it('gives the per-frame results of running its handlers locally, frames dealt 0.8/0.2', async () => {
    const input = video.generate(MIN_SIZE_LEVEL, SEED);
    const r = await api.invoke(video.WORKFLOW, input);
    expect(r.status).toBe('succeeded');

    const decode = (await handlerModule('video-analytics', 'decode.js')).default;
    const recognize = (await handlerModule('video-analytics', 'recognize.js')).default;
    const aggregate = (await handlerModule('video-analytics', 'aggregate.js')).default;
    const decoded = await decode(input);
    const local = await aggregate([
      await recognize(decoded.sets[0]),
      await recognize(decoded.sets[1]),
    ]);
    expect(r.output).toEqual(local);
    expect(r.output.frames).toBe(input.frames);
    expect(r.output.perBranch).toEqual([
      Math.round(input.frames * input.shares[0]),
      input.frames - Math.round(input.frames * input.shares[0]),
    ]);
    expect(r.output.objects.every((n: number) => n > 0)).toBe(true);
    expect(r.output.edges).toBeGreaterThan(0);

    const steps = stepsByNode(await api.invocation(r.invocationId));
    expect(steps['recognize-1'].inputBytes).toBeGreaterThan(input.width * input.height * 3);
  });

  it('is deterministic in its seed', async () => {
    const a = await api.invoke(video.WORKFLOW, video.generate(MIN_SIZE_LEVEL, SEED));
    const b = await api.invoke(video.WORKFLOW, video.generate(MIN_SIZE_LEVEL, SEED));
    const c = await api.invoke(video.WORKFLOW, video.generate(MIN_SIZE_LEVEL, SEED + 1));
    expect(b.output.digest).toBe(a.output.digest);
    expect(c.output.digest).not.toBe(a.output.digest);
  });
});

describe('ML pipeline', () => {
  it('trains four forests and keeps the most accurate, better than chance', async () => {
    const input = ml.generate(MIN_SIZE_LEVEL, SEED);
    const r = await api.invoke(ml.WORKFLOW, input);
    expect(r.status).toBe('succeeded');
    const { best, candidates } = r.output;
    expect(candidates.map((c: { name: string }) => c.name)).toEqual([
      'train-1',
      'train-2',
      'train-3',
      'train-4',
    ]);
    const top = Math.max(...candidates.map((c: { accuracy: number }) => c.accuracy));
    expect(best.accuracy).toBe(top);
    expect(candidates.find((c: { name: string }) => c.name === best.name).accuracy).toBe(top);
    expect(best.accuracy).toBeGreaterThan(1 / input.classes);
    const nTest = Math.round(input.samples * input.testFraction);
    for (const c of candidates) {
      const correct = c.accuracy * nTest;
      expect(Math.abs(correct - Math.round(correct))).toBeLessThan(1e-9);
    }
  });

  it('picks the same model with the same accuracies for the same input', async () => {
    const input = ml.generate(MIN_SIZE_LEVEL, SEED);
    const [a, b] = [await api.invoke(ml.WORKFLOW, input), await api.invoke(ml.WORKFLOW, input)];
    const scores = (r: any) =>
      r.output.candidates.map((c: { name: string; accuracy: number }) => [c.name, c.accuracy]);
    expect(b.output.best).toEqual(a.output.best);
    expect(scores(b)).toEqual(scores(a));
  });
});

describe('input generators', () => {
  it('grow the input with the size level and reject levels and seeds out of range', () => {
    for (const g of [aes, video, ml]) {
      expect(() => g.generate(0, 1)).toThrow(RangeError);
      expect(() => g.generate(SIZE_LEVELS.at(-1)! + 1, 1)).toThrow(RangeError);
      expect(() => g.generate(1, -1)).toThrow(RangeError);
      expect(g.generate(2, 5)).toEqual(g.generate(2, 5));
    }
    const sizes = SIZE_LEVELS.map((l) => [
      aes.generate(l, 1).textBytes,
      video.generate(l, 1).frames,
      ml.generate(l, 1).samples,
    ]);
    for (let i = 1; i < sizes.length; i++)
      for (let k = 0; k < 3; k++) expect(sizes[i]![k]).toBeGreaterThan(sizes[i - 1]![k]!);
  });
});
