/**
 * The re-sharding control loop, cycle by cycle with hand-made loads (no clock: one call is one
 * cycle): it acts only on load that stays hot, leaves changed ranges alone for a while, never
 * moves more keys per cycle than its budget, replicates what one key dominates, merges cold
 * neighbours, and moves a group or a range off a worker running hot.
 */
import { describe, expect, it } from 'vitest';
import type { WorkerId } from '../../../shared/ids.js';
import {
  controlStep,
  initialControlState,
  type ControlInput,
  type ControlState,
  type RangeLoad,
  type ShardEvent,
} from '../../../shared/shard/control.js';
import { checkTable, initialTable, type RoutingTable } from '../../../shared/shard/routing.js';

const W = ['w0', 'w1', 'w2', 'w3'] as WorkerId[];

function loads(t: RoutingTable, f: (id: number) => Partial<RangeLoad> = () => ({})): RangeLoad[] {
  return t.ranges.map((r) => ({ id: r.id, load: 10, keys: 10, ...f(r.id) }));
}

/** Eight ranges of 12.5 % of the keys each: a budget that lets one range move per cycle. */
const ROOMY = { maxMovedShare: 0.25 };

const idle = (): ControlInput['workers'] => W.map((worker) => ({ worker, utilization: 0.5 }));

/** Runs cycles; `input(t, cycle)` gives each cycle's loads. Returns the events of every cycle. */
function run(
  cycles: number,
  input: (t: RoutingTable, cycle: number) => ControlInput,
  options = {},
  start = initialTable('f', W, 8),
): { table: RoutingTable; events: ShardEvent[][]; state: ControlState } {
  let table = start;
  let state = initialControlState();
  const events: ShardEvent[][] = [];
  for (let c = 0; c < cycles; c++) {
    const r = controlStep(table, input(table, c), state, options);
    checkTable(r.table);
    table = r.table;
    state = r.state;
    events.push(r.events);
  }
  return { table, events, state };
}

describe('re-sharding control loop', () => {
  it('changes nothing under an even load', () => {
    const r = run(20, (t) => ({ ranges: loads(t), workers: idle() }));
    expect(r.events.flat()).toEqual([]);
    expect(r.table.version).toBe(1);
  });

  it('ignores a range hot for one cycle and splits it after two, then leaves it alone', () => {
    const hot = (cycle: number) => (t: RoutingTable) => ({
      ranges: loads(t, (id) => (id === 0 && cycle >= 0 ? { load: 80, medianHash: 2 ** 28 } : {})),
      workers: idle(),
    });
    const one = run(1, (t) => hot(0)(t), ROOMY);
    expect(one.events.flat()).toEqual([]);
    const r = run(6, (t, c) => hot(c)(t), ROOMY);
    expect(r.events[0]).toEqual([]);
    // Splitting comes first (a worker still over the threshold may then hand off a range).
    const split = r.events[1]![0]!;
    expect(split.kind).toBe('split');
    expect(split.range).toBe(0);
    expect(r.table.ranges.find((x) => x.id === split.other)!.start).toBe(2 ** 28);
    // The next cycles see the old range still "hot" (same loads): cooldown, no churn on it.
    for (const cycle of r.events.slice(2, 4))
      expect(cycle.filter((e) => e.range === 0 || e.range === split.other)).toEqual([]);
  });

  it('does not churn on a load flapping across the threshold every cycle', () => {
    const r = run(30, (t, c) => ({
      ranges: loads(t, (id) => (id === 0 && c % 2 === 0 ? { load: 80 } : {})),
      workers: idle(),
    }));
    expect(r.events.flat()).toEqual([]);
  });

  it('acts on the smoothed forecast when one is given, not on a one-cycle spike', () => {
    const r = run(10, (t, c) => ({
      ranges: loads(t, (id) => (id === 0 ? { load: c === 3 ? 200 : 10, forecast: 12 } : {})),
      workers: idle(),
    }));
    expect(r.events.flat()).toEqual([]);
  });

  it('replicates a range one key dominates until its load per replica is near the mean', () => {
    const r = run(
      3,
      (t) => ({
        ranges: loads(t, (id) => (id === 0 ? { load: 100, topKeyShare: 0.9 } : {})),
        workers: idle(),
      }),
      ROOMY,
    );
    const e = r.events[1]!.find((x) => x.kind === 'replicate');
    expect(e?.range).toBe(0);
    const replicas = r.table.ranges.find((x) => x.id === 0)!.replicas;
    expect(replicas.length).toBeGreaterThan(1);
    // total 170 over 4 workers: mean 42.5; per replica at most 0.8 × mean after.
    expect(100 / replicas.length).toBeLessThanOrEqual(0.8 * 42.5 + 1e-9);
  });

  it('keeps a fixed replica count fixed', () => {
    const r = run(
      4,
      (t) => ({
        ranges: loads(t, (id) => (id === 0 ? { load: 100, topKeyShare: 0.9 } : {})),
        workers: idle(),
      }),
      { fixedReplicas: 1 },
    );
    expect(r.events.flat().filter((e) => e.kind === 'replicate')).toEqual([]);
    for (const x of r.table.ranges) expect(x.replicas.length).toBe(1);
  });

  it('never moves more than its key budget in one cycle', () => {
    const r = run(
      6,
      (t) => ({
        ranges: loads(t, (id) =>
          id % 2 === 0 ? { load: 90, medianHash: undefined } : { load: 1 },
        ),
        workers: idle(),
      }),
      { maxMovedShare: 0.1 },
      initialTable('f', W, 16),
    );
    expect(r.events.flat().length).toBeGreaterThan(0);
    for (const cycle of r.events) {
      const moved = cycle.reduce((s, e) => s + e.movedShare, 0);
      expect(moved).toBeLessThanOrEqual(0.1 + 1e-9);
    }
  });

  it('merges neighbours that stay cold together, after the hold and not below minRanges', () => {
    const cold = (t: RoutingTable): ControlInput => ({
      ranges: loads(t, (id) => (id === 2 || id === 3 ? { load: 0.5, keys: 1 } : { load: 40 })),
      workers: idle(),
    });
    const r = run(3, cold, ROOMY);
    expect(r.events[0]).toEqual([]);
    const merge = r.events[1]!.find((e) => e.kind === 'merge');
    expect(merge).toMatchObject({ range: 2, other: 3 });
    expect(r.table.ranges.map((x) => x.id)).not.toContain(3);
    // The hot workers' splits may add ranges that merge again, but never below the floor.
    const floor = run(3, cold, { ...ROOMY, minRanges: 8 });
    expect(floor.table.ranges.length).toBeGreaterThanOrEqual(8);
    expect(floor.events.flat().filter((e) => e.kind === 'merge').length).toBeLessThanOrEqual(
      floor.events.flat().filter((e) => e.kind === 'split').length,
    );
  });

  it('moves a pinned group off a worker that runs hot (a noisy neighbour), to the coolest', () => {
    const r = run(3, (t) => ({
      ranges: loads(t),
      workers: W.map((worker) => ({ worker, utilization: worker === 'w1' ? 0.99 : 0.3 })),
      groups: [
        { id: 'inv1/g0', worker: 'w1' as WorkerId, load: 5 },
        { id: 'inv1/g1', worker: 'w2' as WorkerId, load: 5 },
      ],
    }));
    expect(r.events[0]).toEqual([]);
    const e = r.events[1]!.find((x) => x.kind === 'move-group');
    expect(e).toMatchObject({ group: 'inv1/g0', from: 'w1' });
    expect(['w0', 'w3']).toContain(e!.to);
  });

  it('moves ranges off a worker a neighbour keeps hot even while its routed load is below the mean, one per cooldown', () => {
    const r = run(
      8,
      (t) => ({
        // w1's ranges (1, 5) carry less than the others'; its CPU is taken by something else.
        ranges: loads(t, (id) => (id % 4 === 1 ? { load: 6 } : {})),
        workers: W.map((worker) => ({ worker, utilization: worker === 'w1' ? 1.4 : 0.3 })),
      }),
      ROOMY,
    );
    const moves = r.events.flat().filter((e) => e.kind === 'move');
    expect(moves.length).toBeGreaterThanOrEqual(1);
    for (const m of moves) {
      expect(m.from).toBe('w1');
      expect(m.reason).toMatch(/utilisation 140% over 90%/);
    }
    // One per cycle at most, and the worker's cooldown between them (no burst of moves).
    const cycles = r.events
      .map((e, i) => (e.some((x) => x.kind === 'move') ? i : -1))
      .filter((i) => i >= 0);
    for (let i = 1; i < cycles.length; i++)
      expect(cycles[i]! - cycles[i - 1]!).toBeGreaterThanOrEqual(3);
    expect(r.events[0]).toEqual([]);
  });

  it('splits a range off a hot worker when every whole range is wider than the key budget', () => {
    const r = run(3, (t) => ({
      ranges: loads(t),
      workers: W.map((worker) => ({ worker, utilization: worker === 'w2' ? 1.2 : 0.3 })),
    }));
    const e = r.events.flat().find((x) => x.kind === 'split');
    expect(e).toMatchObject({ from: 'w2', reason: expect.stringMatching(/utilisation 120%/) });
    expect(e!.movedShare).toBeLessThanOrEqual(0.05);
    const half = r.table.ranges.find((x) => x.id === e!.other)!;
    expect(half.replicas).toEqual([e!.to]);
    expect(e!.to).not.toBe('w2');
    // The left part stays where it was.
    expect(r.table.ranges.find((x) => x.id === e!.range)!.replicas).toEqual(['w2']);
  });

  it('splits part of a range off a routed-hot worker when no whole range fits the key budget', () => {
    // w0 holds ranges 0 and 4 (12.5 % of the keys each, over the 5 % budget) at 3× the others.
    const r = run(3, (t) => ({
      ranges: loads(t, (id) => (id % 4 === 0 ? { load: 30 } : {})),
      workers: idle(),
    }));
    const e = r.events.flat().find((x) => x.kind === 'split');
    expect(e).toMatchObject({ from: 'w0', reason: expect.stringMatching(/routed load/) });
    expect(e!.movedShare).toBeLessThanOrEqual(0.05);
    expect(r.table.ranges.find((x) => x.id === e!.other)!.replicas).toEqual([e!.to]);
  });

  it('never moves load to a worker the master marks hot, whatever its last utilisation', () => {
    const r = run(8, (t) => ({
      ranges: loads(t, (id) => (id % 4 === 0 ? { load: 30 } : {})),
      // w3 ties on load and is the coolest by this beat's figure, but the tracker holds it hot.
      workers: W.map((worker) => ({
        worker,
        utilization: worker === 'w3' ? 0.1 : 0.5,
        ...(worker === 'w3' ? { hot: true } : {}),
      })),
    }));
    const changes = r.events.flat().filter((e) => e.to !== undefined);
    expect(changes.length).toBeGreaterThan(0);
    expect(changes.map((e) => e.to)).not.toContain('w3');
  });

  it('merges no cold neighbour onto a worker that may not take load', () => {
    const cold = (t: RoutingTable): ControlInput => ({
      // Ranges 2 (w2) and 3 (w3) cold together; range 3 is the busier, on w3, which is hot.
      ranges: loads(t, (id) =>
        id === 2 ? { load: 0.2, keys: 1 } : id === 3 ? { load: 0.5, keys: 1 } : { load: 40 },
      ),
      workers: W.map((worker) => ({ worker, utilization: worker === 'w3' ? 0.95 : 0.5 })),
    });
    const r = run(4, cold, ROOMY);
    expect(r.events.flat().filter((e) => e.kind === 'merge' && e.range === 2)).toEqual([]);
  });

  it('moves nothing off a hot worker when every other worker is hot too', () => {
    const r = run(
      6,
      (t) => ({ ranges: loads(t), workers: W.map((worker) => ({ worker, utilization: 0.97 })) }),
      ROOMY,
    );
    expect(r.events.flat().filter((e) => e.kind === 'move')).toEqual([]);
  });

  it('moves a range off a worker saturated with a growing queue, to one with room', () => {
    const r = run(
      3,
      (t, c) => ({
        // w3 (ranges 3 and 7) has room.
        ranges: loads(t, (id) => (id % 4 === 3 ? { load: 2 } : {})),
        workers: W.map((worker) => ({
          worker,
          utilization: worker === 'w2' ? 1 : 0.4,
          backlogMs: worker === 'w2' ? 600 + 400 * c : 0,
        })),
      }),
      ROOMY,
    );
    const e = r.events[1]!.find((x) => x.kind === 'move');
    expect(e).toMatchObject({ from: 'w2', to: 'w3' });
    expect(r.table.ranges.filter((x) => x.replicas.includes('w2' as WorkerId)).length).toBe(1);
  });

  it('leaves a worker alone that is draining its queue', () => {
    const r = run(
      4,
      (t, c) => ({
        ranges: loads(t),
        workers: W.map((worker) => ({
          worker,
          utilization: worker === 'w2' ? 1 : 0.4,
          backlogMs: worker === 'w2' ? 3000 - 500 * c : 0,
        })),
      }),
      ROOMY,
    );
    expect(r.events.flat()).toEqual([]);
  });
});
