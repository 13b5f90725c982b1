import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
// The thesis's metric on the thesis's grid (whole cores, 128 MB).
import { THESIS_GRID as ALLOCATION_GRID } from '../../../shared/harvest/types.js';
import {
  MIN_TRAINING_RECORDS,
  accuracyStats,
  errorStats,
  isAccurate,
  loadModelSet,
  modelSetToJson,
  predictDemand,
  predictInputBytes,
  predictInvocation,
  predictNode,
  trainModels,
  type ModelSet,
} from '../../../master/harvest/models.js';
import type { ProfileRecord } from '../../../master/harvest/profile.js';
import type { StagePlan } from '../../../shared/harvest/stages.js';

const MB = 1024 * 1024;

/**
 * A skewed two-branch stage: index 0 reads a quarter of the invocation input, index 1 three
 * quarters. Memory = 50 + inputBytes/1MB × 10; CPU = 0.5 + inputBytes/10MB.
 */
function synthetic(invocations: number, workflow = 'video'): ProfileRecord[] {
  const out: ProfileRecord[] = [];
  for (let k = 0; k < invocations; k++) {
    const dagInputBytes = Math.round((1 + (99 * k) / (invocations - 1)) * MB);
    const invocationId = `inv_${String(k).padStart(12, '0')}`;
    [0.25, 0.75].forEach((share, index) => {
      const inputBytes = Math.round(dagInputBytes * share);
      out.push({
        workflow,
        version: 1,
        function: index === 0 ? 'left' : 'right',
        node: index === 0 ? 'left' : 'right',
        invocationId,
        dagInputBytes,
        inputBytes,
        stage: 'left+right',
        index,
        width: 2,
        peakCpuCores: 0.5 + inputBytes / (10 * MB),
        peakMemoryMb: 50 + (inputBytes / MB) * 10,
        durationMs: 100 + inputBytes / MB,
        allocation: { cpu: 8, memoryMb: 8192 },
        at: 1_700_000_000_000 + k * 1000,
      });
    });
  }
  return out;
}

const OPTIONS = { version: 1, trainedAt: 1_730_000_000_000, seed: 7, trees: 25 };

let cached: ModelSet | undefined;
function trained(): ModelSet {
  return (cached ??= trainModels(synthetic(100), OPTIONS));
}

function thrown(f: () => unknown): AppError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a throw');
}

describe('trainModels', () => {
  it('learns input size (ML1) and CPU and memory (ML2) of a known relation', () => {
    const set = trained();
    expect([...set.ml1.keys()]).toHaveLength(1);
    expect([...set.ml2.values()].map((m) => m.function)).toEqual(['left', 'right']);
    for (const dag of [20, 50, 80]) {
      for (const [index, share, fn] of [
        [0, 0.25, 'left'],
        [1, 0.75, 'right'],
      ] as const) {
        const p = predictNode(set, {
          workflow: 'video',
          stage: 'left+right',
          function: fn,
          dagInputBytes: dag * MB,
          index,
        });
        expect(p.kind).toBe('ok');
        if (p.kind !== 'ok') continue;
        const input = dag * share;
        expect(Math.abs(p.inputBytes / MB - input) / input).toBeLessThan(0.08);
        expect(Math.abs(p.memoryMb - (50 + input * 10)) / (50 + input * 10)).toBeLessThan(0.08);
        expect(Math.abs(p.cpuCores - (0.5 + input / 10)) / (0.5 + input / 10)).toBeLessThan(0.08);
      }
    }
  });

  it('holds out a seeded 20% of invocations and evaluates the shipped models on them', () => {
    const set = trained();
    expect(set.recordCount).toBe(200);
    expect(set.testRecordCount).toBe(40);
    expect(set.trainRecordCount).toBe(160);
    const ev = set.evaluation!;
    expect(ev.testInvocations).toBe(20);
    expect(ev.testRecords).toBe(40);
    expect(ev.withoutMl1 + ev.withoutMl2).toBe(0);
    expect(ev.overall.memory.n).toBe(40);
    expect(ev.overall.memory.meanPctError!).toBeLessThan(5);
    expect(ev.pipeline.memory.n).toBe(40);
    // Every whole core is on the fine grid, so a prediction accurate there is accurate on the
    // thesis's grid too.
    expect(ev.pipeline.thesisGrid!.cpu.n).toBe(40);
    expect(ev.pipeline.thesisGrid!.cpu.accurate).toBeGreaterThanOrEqual(ev.pipeline.cpu.accurate);
    expect(ev.ml1[0]).toMatchObject({ workflow: 'video', stage: 'left+right' });
    expect(ev.ml2.map((m) => m.function)).toEqual(['left', 'right']);
  });

  it('is deterministic for a seed, whatever the order of the records', () => {
    const a = JSON.stringify(modelSetToJson(trainModels(synthetic(30), OPTIONS)));
    const b = JSON.stringify(modelSetToJson(trainModels(synthetic(30).reverse(), OPTIONS)));
    expect(b).toBe(a);
    const c = JSON.stringify(modelSetToJson(trainModels(synthetic(30), { ...OPTIONS, seed: 8 })));
    expect(c).not.toBe(a);
  });

  it('answers no-model below the minimum number of training records', () => {
    const few = synthetic(MIN_TRAINING_RECORDS - 1, 'tiny');
    const set = trainModels([...synthetic(20), ...few], { ...OPTIONS, holdoutFraction: 0 });
    expect(set.evaluation).toBeNull();
    // The stage has 18 records, enough for ML1; each function has 9, too few for ML2.
    expect(set.skipped).toEqual([
      {
        model: 'ml2',
        workflow: 'tiny',
        key: 'left',
        records: 9,
        message: '9 training records; at least 10 are needed',
      },
      {
        model: 'ml2',
        workflow: 'tiny',
        key: 'right',
        records: 9,
        message: '9 training records; at least 10 are needed',
      },
    ]);
    expect(set.ml1.size).toBe(2);
    const p = predictNode(set, {
      workflow: 'tiny',
      stage: 'left+right',
      function: 'left',
      dagInputBytes: MB,
      index: 0,
    });
    expect(p).toEqual({
      kind: 'no-model',
      model: 'ml2',
      message: 'no ML2 model for function left of tiny: 9 training records; at least 10 are needed',
    });
    expect(
      predictInputBytes(set, { workflow: 'nope', stage: 's', dagInputBytes: 1, index: 0 }),
    ).toBeNull();
    expect(predictDemand(set, { workflow: 'nope', function: 'f', inputBytes: 1 })).toBeNull();
  });

  it('rejects bad options and bad records', () => {
    expect(thrown(() => trainModels([], { ...OPTIONS, seed: 1.5 })).message).toContain('seed: 1.5');
    expect(thrown(() => trainModels([], { ...OPTIONS, holdoutFraction: 1 })).message).toContain(
      'holdoutFraction',
    );
    const bad = { ...synthetic(2)[0]!, peakCpuCores: -1 };
    expect(thrown(() => trainModels([bad], OPTIONS)).message).toContain(
      'record 0, field peakCpuCores',
    );
  });
});

describe('model set JSON', () => {
  it('loads back with identical predictions and serialises identically', () => {
    const set = trained();
    const json = modelSetToJson(set);
    const text = JSON.stringify(json);
    const loaded = loadModelSet(text);
    const again = JSON.stringify(modelSetToJson(loaded));
    // Everything but the trees' sample counts survives; from then on it is byte-stable.
    const { ml1: _a, ml2: _b, ...meta } = json;
    expect(modelSetToJson(loaded)).toMatchObject(meta);
    expect(JSON.stringify(modelSetToJson(loadModelSet(again)))).toBe(again);
    expect(loaded).toMatchObject({ version: 1, trainedAt: OPTIONS.trainedAt, recordCount: 200 });
    for (let dag = 1; dag <= 100; dag += 7)
      for (const index of [0, 1]) {
        const q = {
          workflow: 'video',
          stage: 'left+right',
          function: index ? 'right' : 'left',
          dagInputBytes: dag * MB,
          index,
        };
        expect(predictNode(loaded, q)).toEqual(predictNode(set, q));
      }
  });

  it('rejects documents that are not a model set, naming what is wrong', () => {
    const json = modelSetToJson(trained());
    expect(thrown(() => loadModelSet('{')).message).toContain('not valid JSON');
    expect(thrown(() => loadModelSet({ ...json, format: 'x' })).message).toContain('/format');
    expect(
      thrown(() => loadModelSet({ ...json, ml1: [{ ...json.ml1[0]!, forest: { name: 'nope' } }] }))
        .message,
    ).toContain('/ml1/0/forest: not a random-forest regression model');
    expect(
      thrown(() => loadModelSet({ ...json, ml2: [{ ...json.ml2[0]!, features: ['size'] }] }))
        .message,
    ).toContain('features ["size"] are not supported');
  });
});

describe('predictInvocation', () => {
  it('predicts the nodes of parallel stages only', () => {
    const plan: StagePlan = {
      stages: [
        {
          id: 'split',
          members: [{ node: 'split', fn: 'split' }],
          width: 1,
          readyAfter: ['$input'],
        },
        {
          id: 'left+right',
          members: [
            { node: 'left', fn: 'left' },
            { node: 'right', fn: 'right' },
          ],
          width: 2,
          readyAfter: ['split'],
        },
      ],
      byNode: {},
    };
    const out = predictInvocation(trained(), 'video', plan, 40 * MB);
    expect(Object.keys(out)).toEqual(['left', 'right']);
    expect(out['right']!.kind).toBe('ok');
  });
});

describe('thesis metrics', () => {
  it('applies P + ΔP < A(P) literally (§4.1.2)', () => {
    // The thesis's example: P = 2.6, ΔP = 0.3 → 2.9 < 3; ΔP = 0.41 → 3.01 ≥ 3.
    expect(isAccurate(2.6, 2.9, ALLOCATION_GRID.cpu)).toBe(true);
    expect(isAccurate(2.6, 2.19, ALLOCATION_GRID.cpu)).toBe(false);
    // Exactly on a grid value: A(P) = P, never accurate.
    expect(isAccurate(3, 3, ALLOCATION_GRID.cpu)).toBe(false);
    // Below the minimum: A(P) is the minimum. Above the maximum: no A(P).
    expect(isAccurate(0.5, 0.1, ALLOCATION_GRID.cpu)).toBe(true);
    expect(isAccurate(8.5, 8.5, ALLOCATION_GRID.cpu)).toBe(false);
    // Memory: 234.32 MB → A = 256; actual 250 → 234.32 + 15.68 = 250 < 256.
    expect(isAccurate(234.32, 250, ALLOCATION_GRID.memoryMb)).toBe(true);
    expect(isAccurate(234.32, 210, ALLOCATION_GRID.memoryMb)).toBe(false);
  });

  it('computes mean error, mean % error over actual > 0, and accuracy', () => {
    const pairs = [
      { predicted: 2.6, actual: 2.9 },
      { predicted: 2.6, actual: 2.19 },
      { predicted: 0.5, actual: 0 },
    ];
    const e = errorStats(pairs);
    expect(e.n).toBe(3);
    expect(e.meanAbsError!).toBeCloseTo((0.3 + 0.41 + 0.5) / 3, 12);
    expect(e.pctN).toBe(2);
    expect(e.meanPctError!).toBeCloseTo(((0.3 / 2.9) * 100 + (0.41 / 2.19) * 100) / 2, 12);
    // 2.9 < 3 ✓, 3.01 ≥ 3 ✗, 0.5 + 0.5 = 1 ≥ 1 ✗.
    expect(accuracyStats(pairs, ALLOCATION_GRID.cpu)).toMatchObject({
      accurate: 1,
      accuracy: 1 / 3,
    });
    expect(errorStats([])).toEqual({ n: 0, meanAbsError: null, meanPctError: null, pctN: 0 });
  });
});
