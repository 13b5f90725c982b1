/**
 * The pure recovery planner: re-placing the groups of gone workers (epoch raised, live groups
 * kept), and the triggers that resume from the journal — committed parents' edges into or out of
 * moved groups, starts for uncommitted sources, skips where a parent skipped or took another
 * case, nothing towards committed nodes.
 */
import { describe, expect, it } from 'vitest';
import type { NodeCommit } from '../../shared/journal.js';
import type { StoredRef } from '../../shared/schema/wire.js';
import { arrivalOf, recoveryTriggers, replaceGroups } from '../../shared/invocation/recovery.js';
import { dagOf } from '../helpers/engine-harness.js';

const INPUT: StoredRef = { tier: 'inline', data: '', sizeBytes: 0 };
const ref = (key: string): StoredRef => ({ tier: 'redis', key, sizeBytes: 1 });
const commit = (node: string, extra: Partial<NodeCommit> = {}): NodeCommit => ({
  node,
  worker: 'w1',
  ref: ref(node),
  ...extra,
});

const DIAMOND = dagOf(`name: diamond
functions:
  f: { code: "export default async (x) => x" }
dag:
  a: { task: f }
  b: { task: f, after: [a] }
  c: { task: f, after: [a] }
  d: { task: f, after: [b, c] }
`);

describe('replaceGroups', () => {
  it('moves only the groups of gone workers and raises the epoch', () => {
    const r = replaceGroups({
      placement: {
        groups: ['w1', 'w2', 'w1'],
        workers: { w1: 'http://1', w2: 'http://2' },
        epoch: 2,
      },
      gone: new Set(['w1']),
      assign: (g) => (g === 0 ? { id: 'w3', url: 'http://3' } : { id: 'w2', url: 'http://2' }),
    });
    expect(r).toEqual({
      placement: {
        groups: ['w3', 'w2', 'w2'],
        workers: { w3: 'http://3', w2: 'http://2' },
        epoch: 3,
      },
      moved: [0, 2],
    });
  });

  it('gives up when a group has nowhere to go', () => {
    expect(
      replaceGroups({
        placement: { groups: ['w1'], workers: { w1: 'http://1' } },
        gone: new Set(['w1']),
        assign: () => undefined,
      }),
    ).toBeNull();
  });
});

describe('recoveryTriggers', () => {
  const groupOf = { a: 0, b: 1, c: 2, d: 2 };

  it('starts an uncommitted source of a moved group', () => {
    expect(recoveryTriggers(DIAMOND, groupOf, [0], { nodes: new Map() }, INPUT)).toEqual([
      { node: 'a', from: null, ref: INPUT },
    ]);
  });

  it('resends committed edges into and out of moved groups, never to committed nodes', () => {
    const nodes = new Map([
      ['a', commit('a')],
      ['b', commit('b')],
    ]);
    // group 2 (c, d) moved: a → c is resent; b → d too (b is committed, d is not).
    expect(recoveryTriggers(DIAMOND, groupOf, [2], { nodes }, INPUT)).toEqual([
      { node: 'c', from: 'a', ref: ref('a') },
      { node: 'd', from: 'b', ref: ref('b') },
    ]);
    // group 1 (b) moved, but b is committed: its edge to d is resent, nothing goes to b.
    expect(recoveryTriggers(DIAMOND, groupOf, [1], { nodes }, INPUT)).toEqual([
      { node: 'd', from: 'b', ref: ref('b') },
    ]);
  });

  it('sends nothing for groups that did not move', () => {
    const nodes = new Map([['a', commit('a')]]);
    expect(recoveryTriggers(DIAMOND, { a: 0, b: 0, c: 0, d: 0 }, [], { nodes }, INPUT)).toEqual([]);
  });
});

describe('arrivalOf', () => {
  it('is a skip when the parent skipped or took another case', () => {
    expect(arrivalOf(commit('s', { ref: undefined, skip: true }), undefined)).toEqual({
      skip: true,
    });
    expect(arrivalOf(commit('s', { branch: 1 }), 0)).toEqual({ skip: true });
    expect(arrivalOf(commit('s', { branch: 0 }), 0)).toEqual({ ref: ref('s') });
    expect(arrivalOf(commit('a'), undefined)).toEqual({ ref: ref('a') });
  });
});
