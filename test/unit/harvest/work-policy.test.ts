import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  apportionWork,
  decideStage,
  type DemandInput,
  type StageMemberInput,
} from '../../../shared/harvest/decide.js';
import { millicores } from '../../../shared/harvest/types.js';

const work = (cpuCores: number, cpuTimeMs: number, memoryMb = 100): DemandInput => ({
  kind: 'ok',
  cpuCores,
  memoryMb,
  cpuTimeMs,
});

const member = (i: number, cpu: number, demand?: DemandInput): StageMemberInput => ({
  node: `n${i}`,
  fn: `f${i}`,
  user: { cpu, memoryMb: 256 },
  ...(demand ? { demand } : {}),
});

describe('the work-proportional CPU policy', () => {
  it("shares 4 × 0.5 core by work 4:1:1:1 — the issue's first-principles example", () => {
    const ds = decideStage({
      id: 's',
      members: [
        member(0, 0.5, work(2, 4000)),
        member(1, 0.5, work(2, 1000)),
        member(2, 0.5, work(2, 1000)),
        member(3, 0.5, work(2, 1000)),
      ],
    });
    const mc = ds.map((d) => millicores(d.applied.cpu));
    // 2000 m in proportion 4:1:1:1 is 1142.9, 285.7 × 3; in 50 m steps the steps rounding
    // leaves go to whoever would finish last.
    expect(mc).toEqual([1100, 300, 300, 300]);
    expect(mc.reduce((s, x) => s + x, 0)).toBe(2000);
    // Time to finish (work / cores), the stage's latency is the slowest sibling's.
    const before = Math.max(...[4, 1, 1, 1].map((w) => w / 0.5));
    const after = Math.max(...[4, 1, 1, 1].map((w, i) => w / (mc[i]! / 1000)));
    expect(before).toBe(8);
    expect(after).toBeLessThan(3.7); // 3.64 (−55 %); 3.5 with exact shares (−56 %)
    expect(ds[0]).toMatchObject({ reason: { code: 'work-shared', resources: ['cpu'] } });
    expect(ds.map((d) => d.workCpuMs)).toEqual([4000, 1000, 1000, 1000]);
  });

  it('caps each sibling at the cores it can use and gives the rest to the others', () => {
    // The straggler is single-threaded (peak 1 core): it cannot use more than 1 core.
    const ds = decideStage({
      id: 's',
      members: [
        member(0, 0.5, work(1, 4000)),
        member(1, 0.5, work(2, 1000)),
        member(2, 0.5, work(2, 1000)),
        member(3, 0.5, work(2, 1000)),
      ],
    });
    expect(ds.map((d) => d.applied.cpu)).toEqual([1, 0.35, 0.35, 0.3]);
  });

  it('does not round a 1.5-core budget down to 1 core', () => {
    const ds = decideStage({
      id: 's',
      members: [
        member(0, 0.5, work(2, 2000)),
        member(1, 0.5, work(2, 500)),
        member(2, 0.5, work(2, 500)),
      ],
    });
    expect(ds.reduce((s, d) => s + millicores(d.applied.cpu), 0)).toBe(1500);
    expect(ds.map((d) => d.applied.cpu)).toEqual([1, 0.25, 0.25]);
  });

  it('falls back to the peak rule when a sibling has no predicted work', () => {
    const noWork: DemandInput = { kind: 'ok', cpuCores: 0.2, memoryMb: 100 };
    const ds = decideStage({
      id: 's',
      members: [member(0, 0.5, work(2, 4000)), member(1, 0.5, noWork)],
    });
    // Peak rule: 2 and 0.2 cores wanted of 1, scaled in proportion (at least one step each).
    expect(ds.map((d) => d.applied.cpu)).toEqual([0.9, 0.1]);
    expect(ds[0]).toMatchObject({ reason: { code: 'scaled' } });
    expect(ds[0]!.workCpuMs).toBeUndefined();
  });

  it('is selectable against the peak rule', () => {
    const members = [member(0, 1, work(0.9, 4000)), member(1, 1, work(0.9, 1000))];
    expect(
      decideStage({ id: 's', members }, { cpuPolicy: 'peak' }).map((d) => d.applied.cpu),
    ).toEqual([0.9, 0.9]);
    // Both fit under their caps (0.9 + 0.9 ≤ 2), so work shares give each its cap too.
    expect(decideStage({ id: 's', members }).map((d) => d.applied.cpu)).toEqual([0.9, 0.9]);
  });

  it('never exceeds the budget or a cap, never goes below one step, and hands out what fits', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            w: fc.double({ min: 1, max: 1e5, noNaN: true }),
            cap: fc.integer({ min: 1, max: 160 }),
          }),
          {
            minLength: 2,
            maxLength: 8,
          },
        ),
        fc.integer({ min: 0, max: 400 }),
        (sibs, extra) => {
          const units = sibs.length + extra;
          const a = apportionWork(
            sibs.map((s) => s.w),
            sibs.map((s) => s.cap),
            units,
            1,
          );
          const total = a.reduce((s, x) => s + x, 0);
          expect(total).toBeLessThanOrEqual(units);
          a.forEach((x, i) => {
            expect(Number.isInteger(x)).toBe(true);
            expect(x).toBeGreaterThanOrEqual(1);
            expect(x).toBeLessThanOrEqual(Math.max(1, sibs[i]!.cap));
          });
          const capTotal = sibs.reduce((s, x) => s + Math.max(1, x.cap), 0);
          expect(total).toBe(Math.min(units, capTotal));
          expect(
            apportionWork(
              sibs.map((s) => s.w),
              sibs.map((s) => s.cap),
              units,
              1,
            ),
          ).toEqual(a);
        },
      ),
    );
  });
});

describe('the user CPU policy', () => {
  it('keeps every sibling on its user CPU, saying why, and still harvests memory', () => {
    const ds = decideStage(
      { id: 's', members: [member(0, 0.5, work(2, 4000, 100)), member(1, 0.5, work(2, 10, 60))] },
      { cpuPolicy: 'user' },
    );
    expect(ds.map((d) => d.applied)).toEqual([
      { cpu: 0.5, memoryMb: 128 },
      { cpu: 0.5, memoryMb: 64 },
    ]);
    expect(ds[0]).toMatchObject({ reason: { code: 'user-policy', resources: ['cpu'] } });
  });
});
