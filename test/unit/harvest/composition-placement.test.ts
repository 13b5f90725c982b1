import { describe, expect, it } from 'vitest';
import { place, type PlacementWorker } from '../../../shared/placement.js';

const w = (id: string, load: number, cpu = 1, memoryMb?: number): PlacementWorker => ({
  id,
  load,
  cpu,
  ...(memoryMb !== undefined ? { memoryMb } : {}),
});

describe('composition-jsq (the thesis’s GreedyJSQ)', () => {
  it('puts every group of an invocation on the worker JSQ picks for the first', () => {
    const out = place({
      strategy: 'composition-jsq',
      workers: [w('a', 4, 2), w('b', 1, 1), w('c', 3, 4)],
      groups: 4,
      key: 'inv',
      cursor: 0,
    });
    expect(out).toEqual(['c', 'c', 'c', 'c']);
  });

  it('skips workers without room for the whole invocation, and spreads when none has it', () => {
    const roomy = place({
      strategy: 'composition-jsq',
      workers: [w('a', 0, 1, 512), w('b', 5, 1, 4096)],
      groups: 2,
      memoryMb: [512, 512],
      key: 'inv',
      cursor: 0,
    });
    expect(roomy).toEqual(['b', 'b']);
    const spread = place({
      strategy: 'composition-jsq',
      workers: [w('a', 0, 1, 512), w('b', 0, 1, 512)],
      groups: 2,
      memoryMb: [512, 512],
      key: 'inv',
      cursor: 0,
    });
    expect(new Set(spread)).toEqual(new Set(['a', 'b']));
  });
});
