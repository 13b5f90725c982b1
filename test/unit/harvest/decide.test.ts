import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { THESIS_GRID, type NodeHarvest } from '../../../shared/harvest/types.js';
import type { Allocation } from '../../../shared/schema/wire.js';
import { loadWorkflow } from '../../../master/workflow/index.js';
import {
  decideInvocation as decideInvocationOn,
  decideStage as decideStageOn,
  normalise as normaliseOn,
  type DecideOptions,
  type DemandInput,
  type StageMemberInput,
} from '../../../shared/harvest/decide.js';

// These cases are the thesis's, on its whole-core grid with its peak rule; the fine grid and the
// work policy have their own file (work-policy.test.ts).
const THESIS: DecideOptions = { grid: THESIS_GRID, cpuPolicy: 'peak' };
const ALLOCATION_GRID = THESIS_GRID;
const decideStage = (s: Parameters<typeof decideStageOn>[0], o: DecideOptions = {}) =>
  decideStageOn(s, { ...THESIS, ...o });
const decideInvocation = (i: Parameters<typeof decideInvocationOn>[0]) =>
  decideInvocationOn(i, THESIS);
const normalise = (d: { cpuCores: number; memoryMb: number }, max?: Allocation) =>
  normaliseOn(d, max, THESIS_GRID);
import { findStages } from '../../../shared/harvest/stages.js';

const ok = (cpuCores: number, memoryMb: number): DemandInput => ({
  kind: 'ok',
  cpuCores,
  memoryMb,
});

function member(i: number, cpu: number, memoryMb: number, demand?: DemandInput): StageMemberInput {
  return { node: `n${i}`, fn: `f${i}`, user: { cpu, memoryMb }, ...(demand ? { demand } : {}) };
}

const applied = (ds: NodeHarvest[]): [number, number][] =>
  ds.map((d) => [d.applied.cpu, d.applied.memoryMb]);

describe('normalise', () => {
  it('rounds up to the next allocation step, at least one step, at most the max', () => {
    expect(normalise({ cpuCores: 2.78, memoryMb: 234.32 })).toEqual({ cpu: 3, memoryMb: 256 });
    expect(normalise({ cpuCores: 0, memoryMb: 0 })).toEqual({ cpu: 1, memoryMb: 128 });
    expect(normalise({ cpuCores: 3, memoryMb: 256 })).toEqual({ cpu: 3, memoryMb: 256 });
    expect(normalise({ cpuCores: 2.0000000001, memoryMb: 256.00000001 })).toEqual({
      cpu: 2,
      memoryMb: 256,
    });
    expect(normalise({ cpuCores: 9.5, memoryMb: 9000 })).toEqual({ cpu: 8, memoryMb: 8192 });
    expect(normalise({ cpuCores: 5.1, memoryMb: 900 }, { cpu: 4, memoryMb: 512 })).toEqual({
      cpu: 4,
      memoryMb: 512,
    });
  });
});

describe('decideStage', () => {
  it('harvests from the sibling predicted to need less for the one predicted to need more', () => {
    // The thesis's motivating example: 2 and 3 cores asked, 1 and 4 needed.
    const ds = decideStage({
      id: 's',
      members: [member(0, 2, 512, ok(0.9, 300)), member(1, 3, 512, ok(3.6, 600))],
    });
    expect(applied(ds)).toEqual([
      [1, 384],
      [4, 640],
    ]);
    expect(ds.every((d) => d.reason === undefined)).toBe(true);
    expect(ds[1]).toMatchObject({
      stage: 's',
      user: { cpu: 3, memoryMb: 512 },
      predicted: { cpu: 4, memoryMb: 640 },
    });
  });

  it('accepts a split that fits the stage total and leaves the rest unused', () => {
    const fits = decideStage({
      id: 's',
      members: [member(0, 2, 256, ok(3, 128)), member(1, 2, 256, ok(1, 128))],
    });
    expect(applied(fits)).toEqual([
      [3, 128],
      [1, 128],
    ]);
    const small = decideStage({
      id: 's',
      members: [member(0, 2, 256, ok(1, 100)), member(1, 2, 256, ok(1, 100))],
    });
    expect(applied(small)).toEqual([
      [1, 128],
      [1, 128],
    ]);
  });

  it('scales an over-total split to the stage total in proportion (6-2 of 4 → 3-1)', () => {
    const ds = decideStage({
      id: 's',
      members: [member(0, 2, 256, ok(6, 128)), member(1, 2, 256, ok(2, 128))],
    });
    expect(applied(ds)).toEqual([
      [3, 128],
      [1, 128],
    ]);
    expect(ds[0]!.reason).toMatchObject({ code: 'scaled', resources: ['cpu'] });
    expect(ds[0]!.reason!.message).toContain(
      "predictions sum to 8 cores, the stage's users allocated 4",
    );
    // 5-1 of 4: the small one keeps its one core.
    const b = decideStage({
      id: 's',
      members: [member(0, 2, 256, ok(5, 128)), member(1, 2, 256, ok(1, 128))],
    });
    expect(applied(b)).toEqual([
      [3, 128],
      [1, 128],
    ]);
    expect(b[1]!.reason).toBeUndefined();
  });

  it("falls back to the users' allocations of the over-total resource under the fallback policy", () => {
    const ds = decideStage(
      { id: 's', members: [member(0, 2, 256, ok(6, 128)), member(1, 2, 256, ok(2, 128))] },
      { overTotal: 'fallback' },
    );
    expect(applied(ds)).toEqual([
      [2, 128],
      [2, 128],
    ]);
    expect(ds[1]!.reason).toMatchObject({ code: 'over-total', resources: ['cpu'] });
  });

  it('keeps a sibling without prediction on its allocation and harvests among the others only', () => {
    const ds = decideStage({
      id: 's',
      members: [
        member(0, 2, 256),
        member(1, 2, 256, ok(2.5, 128)),
        member(2, 2, 256, ok(0.5, 128)),
        member(3, 2, 256, {
          kind: 'no-model',
          message: 'no ML2 model for function f3 of w: 3 training records',
        }),
        member(4, 2, 256, ok(Number.NaN, 128)),
      ],
    });
    expect(applied(ds)).toEqual([
      [2, 256],
      [3, 128],
      [1, 128],
      [2, 256],
      [2, 256],
    ]);
    expect(ds.map((d) => d.reason?.code)).toEqual([
      'no-prediction',
      undefined,
      undefined,
      'no-model',
      'invalid-prediction',
    ]);
    expect(ds[3]!.reason!.message).toContain('3 training records');
    expect(ds[0]!.predicted).toBeNull();
  });

  it('keeps the user allocation of a stage of width 1', () => {
    const [d] = decideStage({ id: 's', members: [member(0, 2, 512, ok(1, 128))] });
    expect(d).toMatchObject({
      applied: { cpu: 2, memoryMb: 512 },
      predicted: { cpu: 1, memoryMb: 128 },
    });
    expect(d!.reason).toMatchObject({ code: 'not-parallel', resources: ['cpu', 'memoryMb'] });
  });

  it('never exceeds a stage total, never goes below one step, and is deterministic', () => {
    const demand = fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record({
          kind: fc.constant('ok' as const),
          cpuCores: fc.double({ min: 0, max: 12, noNaN: true }),
          memoryMb: fc.double({ min: 0, max: 10_000, noNaN: true }),
        }),
      },
      { weight: 1, arbitrary: fc.constant({ kind: 'no-model' as const, message: 'none' }) },
      { weight: 1, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constant({ kind: 'ok' as const, cpuCores: Number.NaN, memoryMb: -1 }),
      },
    );
    const stage = fc.array(
      fc.record({
        cpu: fc.integer({ min: 1, max: 8 }),
        memorySteps: fc.integer({ min: 1, max: 64 }),
        maxCpu: fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
        demand,
      }),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(
        stage,
        fc.constantFrom('scale' as const, 'fallback' as const),
        (ms, overTotal) => {
          const members = ms.map((m, i): StageMemberInput => ({
            node: `n${i}`,
            fn: 'f',
            user: { cpu: m.cpu, memoryMb: m.memorySteps * 128 },
            ...(m.maxCpu ? { max: { cpu: m.maxCpu, memoryMb: 8192 } } : {}),
            ...(m.demand ? { demand: m.demand } : {}),
          }));
          const ds = decideStage({ id: 's', members }, { overTotal });
          expect(decideStage({ id: 's', members }, { overTotal })).toEqual(ds);
          const total = (f: (d: NodeHarvest) => number): number => ds.reduce((s, d) => s + f(d), 0);
          expect(total((d) => d.applied.cpu)).toBeLessThanOrEqual(total((d) => d.user.cpu));
          expect(total((d) => d.applied.memoryMb)).toBeLessThanOrEqual(
            total((d) => d.user.memoryMb),
          );
          for (const d of ds) {
            expect(d.applied.cpu).toBeGreaterThanOrEqual(ALLOCATION_GRID.cpu.min);
            expect(d.applied.memoryMb).toBeGreaterThanOrEqual(ALLOCATION_GRID.memoryMb.min);
            expect(Number.isInteger(d.applied.cpu) && d.applied.memoryMb % 128 === 0).toBe(true);
            if (d.predicted) {
              expect(d.applied.cpu === d.user.cpu || d.applied.cpu <= d.predicted.cpu).toBe(true);
              expect(
                d.applied.memoryMb === d.user.memoryMb ||
                  d.applied.memoryMb <= d.predicted.memoryMb,
              ).toBe(true);
            }
            const asPredicted =
              d.predicted !== null &&
              d.applied.cpu === d.predicted.cpu &&
              d.applied.memoryMb === d.predicted.memoryMb;
            // A node that does not run with its prediction always says why (a fallback may also
            // note a sibling whose prediction happened to equal its user allocation).
            if (!asPredicted) expect(d.reason).toBeDefined();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('decideInvocation', () => {
  it('decides every task of a compiled workflow outside foreach bodies', () => {
    const r = loadWorkflow(`
name: w
functions:
  split: { code: "export default async (x) => x", cpu: 1, memory: 256 }
  small: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  big: { code: "export default async (x) => x", cpu: 2, memory: 512 }
  each: { code: "export default async (x) => x" }
flow:
  sequence:
    - split
    - parallel: [small, big]
    - foreach: { items: '$', do: each }
`);
    expect(r.issues).toEqual([]);
    const plan = findStages(r.dag!);
    const ds = decideInvocation({
      plan,
      functions: r.dag!.functions,
      predictions: { small: ok(0.4, 200), big: ok(2.7, 700) },
      maxByFunction: { big: { cpu: 4, memoryMb: 4096 } },
    });
    expect(ds.map((d) => [d.node, d.applied.cpu, d.applied.memoryMb, d.reason?.code])).toEqual([
      ['split', 1, 256, 'not-parallel'],
      ['small', 1, 256, undefined],
      ['big', 3, 768, undefined],
    ]);
  });
});
