import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.js';
import {
  AFFINITY_SLACK,
  place,
  type PlacementInput,
  type PlacementWorker,
} from '../../shared/placement.js';

const w = (id: string, load = 0, cpu = 1): PlacementWorker => ({ id, load, cpu });

function input(
  partial: Partial<PlacementInput> & Pick<PlacementInput, 'strategy' | 'workers'>,
): PlacementInput {
  return { groups: 1, key: 'inv_1', cursor: 0, ...partial };
}

function counts(ids: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const i of ids) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}

const STRATEGIES = ['greedy-jsq', 'jsq', 'round-robin', 'hash'] as const;

describe('place', () => {
  it.each(STRATEGIES)('%s throws NO_WORKERS when no worker is ready', (strategy) => {
    let thrown: unknown;
    try {
      place(input({ strategy, workers: [], groups: 2 }));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AppError);
    expect(thrown).toMatchObject({ code: 'NO_WORKERS', retryable: true, statusCode: 503 });
    expect((thrown as AppError).message).toContain('faasflow worker --master');
  });

  it.each(STRATEGIES)('%s returns one worker id per group', (strategy) => {
    const out = place(input({ strategy, workers: [w('a'), w('b')], groups: 5 }));
    expect(out).toHaveLength(5);
    for (const id of out) expect(['a', 'b']).toContain(id);
  });

  it.each(STRATEGIES)(
    '%s gives the same answer whatever order the workers are listed in',
    (strategy) => {
      const workers = [w('w1', 3, 2), w('w2', 1, 1), w('w3', 0, 4), w('w4', 2, 1)];
      const base = {
        strategy,
        groups: 7,
        key: 'inv_abc',
        cursor: 5,
        weights: [1, 3, 1, 2, 1, 1, 1],
      };
      const forward = place(input({ ...base, workers }));
      expect(place(input({ ...base, workers: [...workers].reverse() }))).toEqual(forward);
      expect(
        place(input({ ...base, workers: [workers[2]!, workers[0]!, workers[3]!, workers[1]!] })),
      ).toEqual(forward);
    },
  );

  describe('greedy-jsq', () => {
    it('spreads the groups of one invocation across equally loaded workers', () => {
      const out = place(
        input({ strategy: 'greedy-jsq', workers: [w('a'), w('b'), w('c')], groups: 6 }),
      );
      expect([...counts(out).values()]).toEqual([2, 2, 2]);
    });

    it('sends a group to the less loaded worker', () => {
      const out = place(
        input({ strategy: 'greedy-jsq', workers: [w('a', 5), w('b', 1)], groups: 1 }),
      );
      expect(out).toEqual(['b']);
    });

    it('prefers the worker with more cores at equal load', () => {
      const out = place(
        input({ strategy: 'greedy-jsq', workers: [w('a', 4, 1), w('b', 4, 8)], groups: 1 }),
      );
      expect(out).toEqual(['b']);
    });

    it('fills a lightly loaded worker until it catches up with the others', () => {
      const out = place(
        input({ strategy: 'greedy-jsq', workers: [w('a', 3), w('b', 0)], groups: 4 }),
      );
      expect(out).toEqual(['b', 'b', 'b', 'a']);
    });

    it('counts heavier groups by their weight', () => {
      const out = place(
        input({ strategy: 'greedy-jsq', workers: [w('a'), w('b')], groups: 3, weights: [5, 1, 1] }),
      );
      expect(out).toEqual(['a', 'b', 'b']);
    });
  });

  describe('jsq', () => {
    it('sends every group to the least loaded worker, not counting this invocation', () => {
      const out = place(
        input({ strategy: 'jsq', workers: [w('a', 2), w('b', 1), w('c', 3)], groups: 3 }),
      );
      expect(out).toEqual(['b', 'b', 'b']);
    });

    it('weighs load against cores', () => {
      const out = place(
        input({ strategy: 'jsq', workers: [w('a', 2, 1), w('b', 6, 4)], groups: 1 }),
      );
      expect(out).toEqual(['b']);
    });
  });

  describe('round-robin', () => {
    it('deals groups to workers in id order starting at the cursor', () => {
      const workers = [w('c'), w('a'), w('b')];
      expect(place(input({ strategy: 'round-robin', workers, groups: 4, cursor: 0 }))).toEqual([
        'a',
        'b',
        'c',
        'a',
      ]);
      expect(place(input({ strategy: 'round-robin', workers, groups: 2, cursor: 1 }))).toEqual([
        'b',
        'c',
      ]);
    });

    it('continues across invocations when the caller advances the cursor by the groups placed', () => {
      const workers = [w('a'), w('b'), w('c')];
      const first = place(input({ strategy: 'round-robin', workers, groups: 2, cursor: 0 }));
      const second = place(input({ strategy: 'round-robin', workers, groups: 2, cursor: 2 }));
      expect([...first, ...second]).toEqual(['a', 'b', 'c', 'a']);
    });

    it('ignores load', () => {
      const out = place(
        input({ strategy: 'round-robin', workers: [w('a', 100), w('b', 0)], groups: 2 }),
      );
      expect(out).toEqual(['a', 'b']);
    });
  });

  describe('hash', () => {
    const workers = ['a', 'b', 'c', 'd'].map((id) => w(id));

    it('is stable for the same invocation key', () => {
      const once = place(input({ strategy: 'hash', workers, groups: 8, key: 'inv_stable' }));
      expect(place(input({ strategy: 'hash', workers, groups: 8, key: 'inv_stable' }))).toEqual(
        once,
      );
    });

    it('ignores load', () => {
      const idle = place(input({ strategy: 'hash', workers, groups: 8, key: 'inv_x' }));
      const loaded = workers.map((x, i) => w(x.id, i * 10, 1 + i));
      expect(place(input({ strategy: 'hash', workers: loaded, groups: 8, key: 'inv_x' }))).toEqual(
        idle,
      );
    });

    it('spreads different keys over every worker', () => {
      const firstGroups = Array.from(
        { length: 200 },
        (_, k) => place(input({ strategy: 'hash', workers, key: `inv_${k}` }))[0]!,
      );
      const seen = counts(firstGroups);
      expect([...seen.keys()].sort()).toEqual(['a', 'b', 'c', 'd']);
      // 200 keys over 4 workers: 50 each on average; any sane hash keeps each well above 20.
      for (const n of seen.values()) expect(n).toBeGreaterThan(20);
    });

    it('spreads the groups of one invocation', () => {
      const out = place(input({ strategy: 'hash', workers, groups: 64, key: 'inv_groups' }));
      expect(counts(out).size).toBe(4);
    });
  });
});

describe('greedy-jsq and memory', () => {
  it('keeps an invocation’s groups within each worker’s memory when another worker has room', () => {
    const workers = [
      { id: 'a', cpu: 2, load: 0, memoryMb: 3072 },
      { id: 'b', cpu: 2, load: 0, memoryMb: 3072 },
    ];
    const out = place({
      strategy: 'greedy-jsq',
      workers,
      groups: 2,
      memoryMb: [2048, 2048],
      weights: [1, 1],
      key: 'k',
      cursor: 0,
    });
    expect(new Set(out).size).toBe(2);
  });

  it('still places a group when no worker has room, on the least loaded', () => {
    const workers = [
      { id: 'a', cpu: 2, load: 5, memoryMb: 1024 },
      { id: 'b', cpu: 2, load: 1, memoryMb: 1024 },
    ];
    expect(
      place({ strategy: 'greedy-jsq', workers, groups: 1, memoryMb: [4096], key: 'k', cursor: 0 }),
    ).toEqual(['b']);
  });
});

describe('greedy-jsq warm affinity', () => {
  it('keeps a group on the worker it ran on while that worker is within the slack', () => {
    const workers = [w('w1', 0, 2), w('w2', 1, 2), w('w3', 0, 2)];
    // w2 scores 0.5 against 0 for w1: within AFFINITY_SLACK, so the warm worker wins.
    expect(place(input({ strategy: 'greedy-jsq', workers, groups: 1, affinity: ['w2'] }))).toEqual([
      'w2',
    ]);
  });

  it('moves a group when its worker is busier than the shortest queue by more than the slack', () => {
    const workers = [w('w1', 0, 1), w('w2', 1 + AFFINITY_SLACK + 0.5, 1)];
    expect(place(input({ strategy: 'greedy-jsq', workers, groups: 1, affinity: ['w2'] }))).toEqual([
      'w1',
    ]);
  });

  it('ignores a worker that is gone or lacks room, and affinity under other strategies', () => {
    const workers = [w('w1', 0, 1), { ...w('w2', 0, 1), memoryMb: 100 }];
    const memoryMb = [512];
    expect(
      place(input({ strategy: 'greedy-jsq', workers, groups: 1, memoryMb, affinity: ['w2'] })),
    ).toEqual(['w1']);
    expect(place(input({ strategy: 'greedy-jsq', workers, groups: 1, affinity: ['w9'] }))).toEqual([
      'w1',
    ]);
    expect(place(input({ strategy: 'jsq', workers, groups: 1, affinity: ['w2'] }))).toEqual(['w1']);
  });

  it('counts what the invocation already placed on the warm worker', () => {
    // Three groups all warm on w1 (cpu 1): after two land there, w1 is 2 behind w2, beyond the slack.
    const workers = [w('w1', 0, 1), w('w2', 0, 1)];
    expect(
      place(input({ strategy: 'greedy-jsq', workers, groups: 3, affinity: ['w1', 'w1', 'w1'] })),
    ).toEqual(['w1', 'w1', 'w2']);
  });
});

describe('placement in millicores', () => {
  it('counts a fractional worker by its millicores: 1.5 cores is neither 1 nor 2', () => {
    // Queue per core: a has 3 / 1.5 = 2, b has 2.1 / 1 = 2.1 — a is shorter.
    const workers = [
      { id: 'a', cpu: 1.5, load: 3 },
      { id: 'b', cpu: 1, load: 2.1 },
    ];
    expect(place({ strategy: 'jsq', workers, groups: 1, key: 'k', cursor: 0 })).toEqual(['a']);
    const tighter = [
      { id: 'a', cpu: 1.5, load: 3.2 },
      { id: 'b', cpu: 1, load: 2.1 },
    ];
    expect(place({ strategy: 'jsq', workers: tighter, groups: 1, key: 'k', cursor: 0 })).toEqual([
      'b',
    ]);
  });
});
