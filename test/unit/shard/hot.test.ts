/**
 * Hot workers (docs/guides/sharding.md §hot workers): the hysteresis of `hotStep`, placement
 * around a hot worker (its warm groups included), no remote foreach shard on one, and the
 * master's events for flips and group moves — heartbeat by heartbeat, no clock.
 */
import { describe, expect, it } from 'vitest';
import { HotWorkers } from '../../../master/shard/hot.js';
import { loadWorkflow } from '../../../master/workflow/index.js';
import type { ForeachNode } from '../../../shared/dag/types.js';
import { place, type PlacementWorker } from '../../../shared/placement.js';
import { coolState, hotStep, type HotState } from '../../../shared/shard/hot.js';
import { planShardRun } from '../../../shared/shard/runtime-plan.js';

/** Feeds utilisations one heartbeat each; returns the flips, by heartbeat index. */
function flips(series: number[]): { at: number; changed: 'hot' | 'cool' }[] {
  let s: HotState = coolState();
  const out: { at: number; changed: 'hot' | 'cool' }[] = [];
  series.forEach((u, at) => {
    const step = hotStep(s, u);
    s = step.state;
    if (step.changed) out.push({ at, changed: step.changed });
  });
  return out;
}

describe('hotStep', () => {
  it('turns hot after two beats over 90 % and cools after two under 70 %', () => {
    expect(flips([0.5, 0.95, 0.97, 0.99, 0.8, 0.75, 0.6, 0.65, 0.5])).toEqual([
      { at: 2, changed: 'hot' },
      { at: 7, changed: 'cool' },
    ]);
  });

  it('does not flap on utilisation hovering around either threshold', () => {
    expect(flips([0.95, 0.5, 0.95, 0.5, 0.95, 0.5, 0.95])).toEqual([]);
    // Hot, then between the thresholds for long: stays hot.
    expect(flips([0.95, 0.95, 0.8, 0.85, 0.75, 0.8, 0.72, 0.88])).toEqual([
      { at: 1, changed: 'hot' },
    ]);
  });
});

describe('placement around hot workers', () => {
  const workers: PlacementWorker[] = [
    { id: 'w1', cpu: 1, load: 0, hot: true },
    { id: 'w2', cpu: 1, load: 2 },
    { id: 'w3', cpu: 1, load: 1 },
  ];
  const input = { groups: 2, key: 'inv', cursor: 0 };

  it('places no group on a hot worker while a cool one remains, its warm home included', () => {
    for (const strategy of ['greedy-jsq', 'jsq', 'composition-jsq'] as const)
      expect(place({ ...input, strategy, workers, affinity: ['w1', 'w1'] })).not.toContain('w1');
    // Without the flag, w1 (idle, warm) would have taken both.
    expect(
      place({
        ...input,
        strategy: 'greedy-jsq',
        workers: workers.map((w) => ({ ...w, hot: false })),
        affinity: ['w1', 'w1'],
      }),
    ).toEqual(['w1', 'w1']);
  });

  it('uses hot workers when every worker is hot, and leaves the load-blind strategies alone', () => {
    const allHot = workers.map((w) => ({ ...w, hot: true }));
    expect(place({ ...input, strategy: 'greedy-jsq', workers: allHot })).toEqual(['w1', 'w1']);
    expect(place({ ...input, strategy: 'round-robin', workers })).toEqual(['w1', 'w2']);
  });

  it('puts no remote foreach shard on a hot worker', () => {
    const r = loadWorkflow(
      `name: s\nfunctions:\n  f: { code: 'export default async (x) => x', runtime: 50ms }\nflow:\n  foreach:\n    items: '$'\n    concurrency: 4\n    do: { task: f }\n    shard: { size: auto }`,
    );
    expect(r.issues).toEqual([]);
    const node = r.dag!.nodes.find((n) => n.kind === 'foreach') as ForeachNode;
    const view = [
      { id: 'w1', url: 'http://127.0.0.1:1', load: 0 },
      { id: 'w2', url: 'http://127.0.0.1:2', load: 0, hot: true },
      { id: 'w3', url: 'http://127.0.0.1:3', load: 0 },
    ];
    const plan = (ws: typeof view) =>
      planShardRun({ node, functions: r.dag!.functions, items: 48, owner: 'w1', workers: ws })
        .shards.map((s) => s.worker)
        .sort();
    expect(plan(view)).toEqual(['w1', 'w3']);
    expect(plan(view.map(({ hot: _, ...w }) => w))).toEqual(['w1', 'w2', 'w3']);
  });
});

describe('HotWorkers on the master', () => {
  it('records flips and pushes the view, and lists group moves per workflow', () => {
    let pushes = 0;
    let now = 1000;
    const hot = new HotWorkers({ onChange: () => pushes++, now: () => now });
    hot.observe('w1', 0.95);
    hot.observe('w2', 0.2);
    expect(hot.isHot('w1')).toBe(false);
    hot.observe('w1', 1.3);
    expect(hot.isHot('w1')).toBe(true);
    expect(pushes).toBe(1);
    hot.observe('w1', undefined); // a heartbeat without a figure changes nothing
    expect(hot.isHot('w1')).toBe(true);
    now = 2000;
    hot.groupMoved('a', 3, 0, 'w1', 'w2');
    hot.groupMoved('b', 1, 1, 'w1', 'w2');
    const a = hot.snapshot('a');
    expect(a.workers).toEqual([
      { id: 'w1', hot: true, utilization: 1.3 },
      { id: 'w2', hot: false, utilization: 0.2 },
    ]);
    expect(a.events.map((e) => [e.kind, e.worker, e.workflow, e.to])).toEqual([
      ['hot', 'w1', undefined, undefined],
      ['move-group', 'w1', 'a', 'w2'],
    ]);
    expect(a.events[1]).toMatchObject({ version: 3, group: 0, at: 2000 });
    expect(a.events[1]!.reason).toMatch(/warm home w1 runs hot \(130%\)/);
    hot.observe('w1', 0.3);
    hot.observe('w1', 0.3);
    expect(hot.isHot('w1')).toBe(false);
    expect(pushes).toBe(2);
    expect(hot.snapshot().events.at(-1)).toMatchObject({ kind: 'cool', worker: 'w1' });
    hot.forget('w1');
    expect(hot.snapshot().workers.map((w) => w.id)).toEqual(['w2']);
  });
});
