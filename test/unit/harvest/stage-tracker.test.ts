import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/logger.js';
import type { NodeAllocation } from '../../../shared/schema/wire.js';
import { StageTracker, type RunResizer } from '../../../worker/harvest/stage-tracker.js';

/** Records every resize the tracker asks the sandbox for. */
class Recorder implements RunResizer {
  readonly calls: { invocationId: string; node: string; cpu: number }[] = [];
  fail = false;

  resizeRun(run: { invocationId: string; node: string }, change: { cpu: number }) {
    this.calls.push({ ...run, cpu: change.cpu });
    return this.fail ? Promise.reject(new Error('sandbox gone')) : Promise.resolve(true);
  }

  /** The last quota asked for each node, and forget the calls. */
  take(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.calls.splice(0)) out[`${c.invocationId}:${c.node}`] = c.cpu;
    return out;
  }
}

function decision(
  stage: string,
  cpu: { user: number; applied: number; predicted?: number | null },
): NodeAllocation {
  const predicted = cpu.predicted === undefined ? cpu.applied : cpu.predicted;
  return {
    stage,
    user: { cpu: cpu.user, memoryMb: 512 },
    predicted: predicted === null ? null : { cpu: predicted, memoryMb: 256 },
    applied: { cpu: cpu.applied, memoryMb: 256 },
  };
}

function tracker(o: { maxCpu?: number; enabled?: boolean; beyondDemand?: boolean } = {}) {
  const resizer = new Recorder();
  const t = new StageTracker({ resizer, maxCpu: o.maxCpu ?? 4, logger: silentLogger, ...o });
  return { t, resizer };
}

const one = { user: 1, applied: 1 };

describe('stage tracker', () => {
  it("gives a finished sibling's CPU to the running ones and forgets the stage when it ends", () => {
    const { t, resizer } = tracker();
    const inv = t.invocation('inv1');
    const a = inv.start('a', decision('s', one));
    const b = inv.start('b', decision('s', one));
    const c = inv.start('c', decision('s', one));
    expect(resizer.calls).toEqual([]);
    expect(t.view('inv1', 's')).toEqual({
      totalMillicores: 3000,
      running: [
        { node: 'a', quotaMillicores: 1000 },
        { node: 'b', quotaMillicores: 1000 },
        { node: 'c', quotaMillicores: 1000 },
      ],
    });
    a.finish();
    expect(resizer.take()).toEqual({ 'inv1:b': 1.5, 'inv1:c': 1.5 });
    expect(b.allocation()).toEqual({ cpu: 1.5, memoryMb: 256 });
    b.finish();
    expect(resizer.take()).toEqual({ 'inv1:c': 3 });
    c.finish();
    expect(resizer.calls).toEqual([]); // nothing is written when the stage ends
    expect(t.view('inv1', 's')).toBeUndefined();
  });

  it('serves predicted demand first, then shares the rest (beyondDemand)', () => {
    const { t, resizer } = tracker({ maxCpu: 8 });
    const inv = t.invocation('i');
    const hungry = inv.start('hungry', decision('s', { user: 1, applied: 1, predicted: 3 }));
    inv.start('sated', decision('s', { user: 1, applied: 1, predicted: 1 }));
    inv.start('done', decision('s', { user: 3, applied: 3 })).finish();
    // pool 3000: hungry's headroom to its demand (2000) first, the remaining 1000 split evenly.
    expect(resizer.take()).toEqual({ 'i:hungry': 3.5, 'i:sated': 1.5 });
    expect(hungry.allocation().cpu).toBe(3.5);
  });

  it('without beyondDemand stops at predicted demand', () => {
    const { t, resizer } = tracker({ beyondDemand: false });
    const inv = t.invocation('i');
    inv.start('hungry', decision('s', { user: 1, applied: 1, predicted: 2 }));
    inv.start('sated', decision('s', { user: 1, applied: 1, predicted: null }));
    inv.start('done', decision('s', { user: 2, applied: 2 })).finish();
    expect(resizer.take()).toEqual({ 'i:hungry': 2 });
  });

  it('never gives a sandbox more than the per-sandbox max', () => {
    const { t, resizer } = tracker({ maxCpu: 2 });
    const inv = t.invocation('i');
    inv.start('a', decision('s', one));
    inv.start('big', decision('s', { user: 4, applied: 4 })).finish();
    expect(resizer.take()).toEqual({ 'i:a': 2 });
  });

  it('counts only the siblings started on this worker in the total', () => {
    const { t, resizer } = tracker({ maxCpu: 8 });
    const inv = t.invocation('i');
    // A three-wide stage with one sibling placed on another worker: only a and b are here.
    inv.start('a', decision('s', one));
    inv.start('b', decision('s', one)).finish();
    expect(resizer.take()).toEqual({ 'i:a': 2 });
    expect(t.view('i', 's')?.totalMillicores).toBe(2000);
  });

  it('never moves CPU across stages or invocations', () => {
    const { t, resizer } = tracker();
    const one1 = t.invocation('inv1');
    const two = t.invocation('inv2');
    one1.start('a', decision('s', one));
    one1.start('x', decision('other', one));
    two.start('a', decision('s', one));
    two.start('b', decision('s', one));
    one1.start('b', decision('s', one)).finish();
    expect(resizer.take()).toEqual({ 'inv1:a': 2 });
    expect(t.view('inv1', 'other')?.running).toEqual([{ node: 'x', quotaMillicores: 1000 }]);
    expect(t.view('inv2', 's')?.running.map((r) => r.quotaMillicores)).toEqual([1000, 1000]);
  });

  it('cuts boosted quotas back when a late sibling would not fit beside them', () => {
    const { t, resizer } = tracker();
    const inv = t.invocation('i');
    const b = inv.start('b', decision('s', one));
    inv.start('a', decision('s', one)).finish();
    expect(resizer.take()).toEqual({ 'i:b': 2 });
    // c's decision gives it more than its user's allocation (taken from a sibling elsewhere).
    const c = inv.start('c', decision('s', { user: 1, applied: 2 }));
    expect(resizer.take()).toEqual({ 'i:b': 1 });
    expect(b.allocation().cpu).toBe(1);
    expect(c.allocation().cpu).toBe(2);
    const { running, totalMillicores } = t.view('i', 's')!;
    expect(running.reduce((s, r) => s + r.quotaMillicores, 0)).toBeLessThanOrEqual(totalMillicores);
  });

  it('keeps every sibling at its applied allocation when those exceed the users here', () => {
    const { t, resizer } = tracker();
    const inv = t.invocation('i');
    inv.start('a', decision('s', { user: 1, applied: 2 }));
    inv.start('b', decision('s', { user: 1, applied: 2 }));
    inv.start('c', decision('s', { user: 1, applied: 1 })).finish();
    expect(resizer.calls).toEqual([]);
    expect(t.view('i', 's')?.running.map((r) => r.quotaMillicores)).toEqual([2000, 2000]);
  });

  it('starts a new episode for a sibling that starts after the stage ended', () => {
    const { t, resizer } = tracker();
    const inv = t.invocation('i');
    inv.start('a', decision('s', one)).finish();
    expect(t.view('i', 's')).toBeUndefined();
    const late = inv.start('b', decision('s', one));
    expect(t.view('i', 's')?.totalMillicores).toBe(1000);
    late.finish();
    expect(resizer.calls).toEqual([]);
  });

  it('does nothing when rebalancing is off', () => {
    const { t, resizer } = tracker({ enabled: false });
    const inv = t.invocation('i');
    const a = inv.start('a', decision('s', { user: 1, applied: 0.5 }));
    inv.start('b', decision('s', one)).finish();
    expect(resizer.calls).toEqual([]);
    expect(a.allocation()).toEqual({ cpu: 0.5, memoryMb: 256 });
    expect(t.view('i', 's')).toBeUndefined();
  });

  it('forgets a released invocation; its late finishes change nothing', () => {
    const { t, resizer } = tracker();
    const inv = t.invocation('i');
    inv.start('a', decision('s', one));
    const b = inv.start('b', decision('s', one));
    t.dropInvocation('i');
    b.finish();
    b.finish();
    expect(resizer.calls).toEqual([]);
    expect(t.view('i', 's')).toBeUndefined();
  });

  it('keeps going when a resize fails (the sandbox went away)', async () => {
    const { t, resizer } = tracker();
    resizer.fail = true;
    const inv = t.invocation('i');
    const a = inv.start('a', decision('s', one));
    inv.start('b', decision('s', one)).finish();
    await Promise.resolve();
    expect(resizer.calls).toHaveLength(1);
    expect(a.allocation().cpu).toBe(2);
    a.finish();
    expect(t.view('i', 's')).toBeUndefined();
  });

  it('keeps Σ quotas within the total and every quota at or above its applied CPU (decisions within the users)', () => {
    const sibling = fc.record({
      user: fc.integer({ min: 1, max: 4 }),
      harvest: fc.integer({ min: 0, max: 3 }),
      predicted: fc.option(fc.integer({ min: 1, max: 8 }), { nil: null }),
    });
    fc.assert(
      fc.property(
        fc.array(sibling, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 8 }),
        (siblings, order, maxCpu) => {
          const { t } = tracker({ maxCpu });
          const inv = t.invocation('i');
          const live = siblings.map((s, i) => {
            const applied = Math.max(0.5, s.user - s.harvest);
            const d = decision('s', { user: s.user, applied, predicted: s.predicted });
            return { node: `n${i}`, applied, h: inv.start(`n${i}`, d) };
          });
          const check = (): void => {
            const view = t.view('i', 's');
            if (view === undefined) return;
            const sum = view.running.reduce((a, r) => a + r.quotaMillicores, 0);
            expect(sum).toBeLessThanOrEqual(view.totalMillicores);
            for (const r of view.running) {
              const applied = live.find((l) => l.node === r.node)!.applied;
              expect(r.quotaMillicores).toBeGreaterThanOrEqual(applied * 1000);
            }
          };
          check();
          for (const k of order) {
            if (live.length === 0) break;
            live.splice(k % live.length, 1)[0]!.h.finish();
            check();
          }
        },
      ),
    );
  });
});

describe('profiling one sibling at a time', () => {
  const serial = (stage: string): NodeAllocation => ({ ...decision(stage, one), serial: true });
  const settled = async (p: Promise<void>): Promise<boolean> => {
    let done = false;
    void p.then(() => (done = true));
    // Two macrotask turns: every promise already resolvable has settled by then.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    return done;
  };

  for (const enabled of [true, false]) {
    it(`runs serial siblings in start order, each after the one before ends (rebalance ${enabled ? 'on' : 'off'})`, async () => {
      const { t } = tracker({ enabled });
      const inv = t.invocation('inv');
      const a = inv.start('a', serial('s'));
      const b = inv.start('b', serial('s'));
      const c = inv.start('c', serial('s'));
      const other = inv.start('x', serial('other'));
      expect(await settled(a.turn())).toBe(true);
      expect(await settled(other.turn())).toBe(true); // another stage does not wait
      expect(await settled(b.turn())).toBe(false);
      a.finish();
      expect(await settled(b.turn())).toBe(true);
      expect(await settled(c.turn())).toBe(false);
      b.finish(); // failed or succeeded alike: the turn passes on
      expect(await settled(c.turn())).toBe(true);
      c.finish();
      other.finish();
      // A later sibling of the same stage starts a fresh queue.
      expect(await settled(inv.start('d', serial('s')).turn())).toBe(true);
    });
  }

  it('never makes a sibling without `serial` wait', async () => {
    const { t } = tracker();
    const inv = t.invocation('inv');
    inv.start('a', serial('s'));
    expect(await settled(inv.start('b', decision('s', one)).turn())).toBe(true);
  });
});
