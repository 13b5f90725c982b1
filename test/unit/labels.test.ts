/**
 * Worker labels and `uses:` (shared/labels.ts, placement, the workflow compiler): labels parse
 * with a message that names a bad one; a selector matches by key and value, or by key alone;
 * placement prefers the workers matching the most of a group's uses and falls back to all when
 * none matches; the compiler checks `uses:` with its path.
 */
import { describe, expect, it } from 'vitest';
import { labelScore, matches, parseLabels, preferLabelled } from '../../shared/labels.js';
import { groupUses, place } from '../../shared/placement.js';
import { loadWorkflow } from '../../master/workflow/index.js';

describe('labels', () => {
  it('parses key and key=value, and names a bad label with what would be valid', () => {
    expect(parseLabels('zone=eu-1, near=db,gpu')).toEqual({
      zone: 'eu-1',
      near: 'db',
      gpu: 'true',
    });
    expect(parseLabels('')).toEqual({});
    expect(() => parseLabels('Zone=a', '--labels')).toThrow(
      /--labels: "Zone=a" is not a label; write key or key=value/,
    );
    expect(() => parseLabels('zone=a,zone=b')).toThrow(/label zone is given twice/);
  });

  it('matches by key and value, or by key alone', () => {
    const l = { zone: 'eu-1', gpu: 'true' };
    expect(matches(l, 'zone=eu-1')).toBe(true);
    expect(matches(l, 'zone=us-2')).toBe(false);
    expect(matches(l, 'gpu')).toBe(true);
    expect(matches(undefined, 'gpu')).toBe(false);
    expect(labelScore(l, ['gpu', 'zone=eu-1', 'near=db'])).toBe(2);
  });

  it('prefers the best-matching workers, and all of them when none matches', () => {
    const ws: { id: string; labels?: Record<string, string> }[] = [
      { id: 'a', labels: { near: 'db' } },
      { id: 'b' },
      { id: 'c', labels: { near: 'db', gpu: 'true' } },
    ];
    expect(preferLabelled(ws, ['near=db']).map((w) => w.id)).toEqual(['a', 'c']);
    expect(preferLabelled(ws, ['near=db', 'gpu']).map((w) => w.id)).toEqual(['c']);
    expect(preferLabelled(ws, ['near=cache']).map((w) => w.id)).toEqual(['a', 'b', 'c']);
    expect(preferLabelled(ws, undefined)).toBe(ws);
  });
});

describe('placement near what a group uses', () => {
  const workers = [
    { id: 'w1', cpu: 2, load: 0 },
    { id: 'w2', cpu: 2, load: 5, labels: { near: 'db' } },
    { id: 'w3', cpu: 2, load: 9, labels: { near: 'db' } },
  ];
  const base = { workers, groups: 2, key: 'k', cursor: 0 };

  it('puts a group that uses near=db on the least loaded worker near db, the other anywhere', () => {
    for (const strategy of ['greedy-jsq', 'jsq'] as const)
      expect(place({ ...base, strategy, uses: [['near=db'], []] })).toEqual(['w2', 'w1']);
    expect(place({ ...base, strategy: 'composition-jsq', uses: [['near=db'], []] })).toEqual([
      'w2',
      'w2',
    ]);
  });

  it('never overfills a labelled worker: memory comes first', () => {
    const small = [
      { id: 'w1', cpu: 2, load: 0, memoryMb: 512 },
      { id: 'w2', cpu: 2, load: 0, memoryMb: 512, labels: { near: 'db' } },
    ];
    // Both groups use near=db; only one fits on w2, the other goes where there is room.
    expect(
      place({
        ...base,
        workers: small,
        strategy: 'greedy-jsq',
        memoryMb: [384, 384],
        uses: [['near=db'], ['near=db']],
      }),
    ).toEqual(['w2', 'w1']);
    // The whole invocation does not fit near db: composition-jsq takes a worker with room.
    const big = [
      { id: 'w1', cpu: 2, load: 0, memoryMb: 2048 },
      { id: 'w2', cpu: 2, load: 0, memoryMb: 512, labels: { near: 'db' } },
    ];
    expect(
      place({
        ...base,
        workers: big,
        strategy: 'composition-jsq',
        memoryMb: [384, 384],
        uses: [['near=db'], []],
      }),
    ).toEqual(['w1', 'w1']);
  });

  it('deals load-blind groups that use something among the workers near it', () => {
    const three = [
      { id: 'w1', cpu: 2, load: 0 },
      { id: 'w2', cpu: 2, load: 0, labels: { near: 'db' } },
      { id: 'w3', cpu: 2, load: 0, labels: { near: 'db' } },
    ];
    const rr = (cursor: number) =>
      place({ ...base, workers: three, strategy: 'round-robin', cursor, uses: [['near=db'], []] });
    // Group 0 goes to w2 and w3 in turn; group 1 (no uses) to every worker in turn.
    expect([0, 1, 2].map((c) => rr(c))).toEqual([
      ['w2', 'w2'],
      ['w3', 'w3'],
      ['w2', 'w1'],
    ]);
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      const [g0] = place({ ...base, workers: three, strategy: 'hash', key, uses: [['near=db']] });
      expect(['w2', 'w3']).toContain(g0);
    }
    // No worker near it: as before.
    expect(place({ ...base, strategy: 'round-robin', uses: [['gpu'], []] })).toEqual(['w1', 'w2']);
  });

  it('reads uses: with its path and gathers each group’s', () => {
    const yaml = (uses: string) => `name: near
functions:
  q: { code: "export default async (x) => x", uses: ${uses} }
  r: { code: "export default async (x) => x" }
flow:
  sequence: [q, r]
`;
    const ok = loadWorkflow(yaml('[near=db, gpu]'));
    expect(ok.dag?.functions['q']?.uses).toEqual(['near=db', 'gpu']);
    expect(groupUses(ok.dag!, [ok.dag!.nodes.map((n) => n.id)])).toEqual([['near=db', 'gpu']]);
    const bad = loadWorkflow(yaml('[Near=db]'));
    expect(bad.issues).toContainEqual(
      expect.objectContaining({
        path: 'functions.q.uses[0]',
        message: expect.stringContaining('must be a worker label, key or key=value'),
      }),
    );
    expect(loadWorkflow(yaml('near=db')).issues[0]?.message).toMatch(
      /must be a list of worker labels/,
    );
  });
});
