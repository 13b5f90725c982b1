import { describe, expect, it } from 'vitest';
import { buildGantt, pack, segments, ticks, type Bar } from '../../dashboard/lib/gantt.js';
import type { StepRecord } from '../../shared/schema/wire.js';

function step(p: Partial<StepRecord> & Pick<StepRecord, 'node' | 'worker'>): StepRecord {
  return {
    status: 'succeeded',
    kind: 'task',
    attempts: 1,
    readyAt: 1000,
    startedAt: 1000,
    finishedAt: 1000,
    queueMs: 0,
    cold: false,
    inputBytes: 0,
    outputBytes: 0,
    tier: 'inline',
    ...p,
  };
}

describe('Gantt segments', () => {
  it('splits a task into queue, get, start, run and put that add up to its span', () => {
    const s = step({
      node: 'a',
      worker: 'w1',
      readyAt: 1000,
      startedAt: 1010,
      finishedAt: 1100,
      getMs: 5,
      runMs: 50,
      putMs: 15,
      cold: true,
    });
    const segs = segments(s, 1000);
    expect(segs).toEqual([
      { kind: 'queue', from: 0, to: 10 },
      { kind: 'get', from: 10, to: 15 },
      { kind: 'start', from: 15, to: 35 },
      { kind: 'run', from: 35, to: 85 },
      { kind: 'put', from: 85, to: 100 },
    ]);
  });

  it('gives nodes without a handler an engine segment instead of start and run', () => {
    const segs = segments(
      step({
        node: 'sw',
        worker: 'w1',
        kind: 'switch',
        startedAt: 1000,
        finishedAt: 1004,
        getMs: 1,
        putMs: 1,
      }),
      1000,
    );
    expect(segs.map((x) => x.kind)).toEqual(['get', 'engine', 'put']);
    expect(segs[1]).toEqual({ kind: 'engine', from: 1, to: 3 });
  });

  it('draws a task without a measured run (it failed first) as run, not engine', () => {
    const segs = segments(
      step({ node: 'a', worker: 'w1', status: 'failed', finishedAt: 1003 }),
      1000,
    );
    expect(segs).toEqual([{ kind: 'run', from: 0, to: 3 }]);
  });

  it('clips measured parts that exceed the span instead of drawing past the step', () => {
    const segs = segments(
      step({
        node: 'a',
        worker: 'w1',
        startedAt: 1000,
        finishedAt: 1010,
        getMs: 8,
        runMs: 30,
        putMs: 8,
      }),
      1000,
    );
    expect(segs.at(-1)!.to).toBe(10);
    for (const x of segs) expect(x.to).toBeGreaterThan(x.from);
    expect(segs.reduce((n, x) => n + x.to - x.from, 0)).toBeCloseTo(10);
  });

  it('draws a skipped step only as its wait, never as work', () => {
    const segs = segments(
      step({
        node: 'k',
        worker: 'w1',
        status: 'skipped',
        readyAt: 1000,
        startedAt: 1000,
        finishedAt: 1001,
      }),
      1000,
    );
    expect(segs).toEqual([]);
  });
});

describe('Gantt lanes', () => {
  it('has one lane per worker, in numeric id order, with every step as a bar', () => {
    const steps = [
      step({ node: 'a', worker: 'w10', readyAt: 0, finishedAt: 10 }),
      step({ node: 'b', worker: 'w2', readyAt: 5, finishedAt: 20 }),
      step({ node: 'c', worker: 'w2', readyAt: 20, finishedAt: 30 }),
    ];
    const g = buildGantt(steps);
    expect(g.lanes.map((l) => l.worker)).toEqual(['w2', 'w10']);
    expect(g.origin).toBe(0);
    expect(g.spanMs).toBe(30);
    expect(g.lanes.flatMap((l) => l.rows.flat()).length).toBe(3);
    // b ends when c becomes ready: one row suffices.
    expect(g.lanes[0]!.rows.length).toBe(1);
  });

  it('puts overlapping bars in separate rows and reuses a row once it is free', () => {
    const bar = (node: string, from: number, to: number): Bar => ({
      node,
      worker: 'w1',
      status: 'succeeded',
      kind: 'task',
      cold: false,
      attempts: 1,
      from,
      to,
      segments: [],
      step: step({ node, worker: 'w1' }),
    });
    const rows = pack([bar('a', 0, 10), bar('b', 2, 8), bar('c', 9, 12), bar('d', 10, 11)]);
    expect(rows.map((r) => r.map((b) => b.node))).toEqual([
      ['a', 'd'],
      ['b', 'c'],
    ]);
    // With labels reserving room after each bar, d no longer fits behind a.
    const wide = pack([bar('a', 0, 10), bar('d', 10, 11)], (b) => b.to + 5);
    expect(wide.length).toBe(2);
  });

  it('is empty without steps', () => {
    expect(buildGantt([]).lanes).toEqual([]);
  });
});

describe('Gantt ticks', () => {
  it('steps by 1, 2 or 5 × 10^k and covers the span', () => {
    expect(ticks(430)).toEqual([0, 100, 200, 300, 400]);
    expect(ticks(430, 10)).toEqual([0, 50, 100, 150, 200, 250, 300, 350, 400]);
    expect(ticks(9, 4)).toEqual([0, 5]);
    const t = ticks(12_345);
    expect(t.at(-1)!).toBeLessThanOrEqual(12_345);
    expect(t[1]! - t[0]!).toBe(2000);
  });
});
