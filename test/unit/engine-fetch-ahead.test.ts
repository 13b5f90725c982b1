/**
 * A join fetches the inputs that have arrived from other workers while it waits for its last
 * parent (docs/guides/chains.md): the remote read starts when the edge arrives, the join's step
 * counts it as `prefetched`, the value it runs with is the same, and a fetch that failed ahead
 * is read again when the join runs. A node that reads an input held elsewhere has its sandbox
 * started while it reads.
 */
import { describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import type { StoredRef } from '../../shared/schema/wire.js';
import { cluster, dagOf, until } from '../helpers/engine-harness.js';

const DAG = dagOf(`name: join-ahead
functions:
  fast: { code: "export default async (x) => x" }
  slow: { code: "export default async (x) => x" }
  join: { code: "export default async (x) => x" }
dag:
  a: { task: fast }
  b: { task: slow }
  j: { task: join, after: [a, b] }
`);

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function setup() {
  const gate = deferred();
  const c = cluster({
    dag: DAG,
    // a on w1; b and the join on w2: a's output is remote to the join.
    groupOf: { a: 0, b: 1, j: 1 },
    groups: ['w1', 'w2'],
    workers: ['w1', 'w2'],
    fns: {
      fast: (x) => ({ from: 'a', x }),
      slow: async (x) => {
        await gate.promise;
        return { from: 'b', x };
      },
      join: (x) => x,
    },
  });
  const reads: string[] = [];
  const get = c.store.getBuffer.bind(c.store);
  let failNext = false;
  c.store.getBuffer = (ref: StoredRef) => {
    if (ref.tier !== 'inline') reads.push(ref.key);
    if (failNext && ref.tier !== 'inline') {
      failNext = false;
      return Promise.reject(new AppError('STORE_UNAVAILABLE', 'blip'));
    }
    return get(ref);
  };
  return { c, gate, reads, failOnce: () => (failNext = true) };
}

const steps = (c: ReturnType<typeof setup>['c']) =>
  c.net.reports.flatMap((r) => (r.kind === 'step' ? [r.step] : []));

describe('a join fetches its remote inputs while it waits', () => {
  it('reads the arrived input before the last parent is done and counts it', async () => {
    const { c, gate, reads } = setup();
    c.start('inv_1', { n: 1 }, undefined);
    // a ran on w1 and its edge reached the join on w2, which read a's output at once.
    await until(() => reads.some((k) => k.includes('/a')));
    expect(steps(c).some((s) => s.node === 'j')).toBe(false);
    gate.resolve();
    await until(() => c.net.sinks().length === 1);
    const j = steps(c).find((s) => s.node === 'j')!;
    expect(j.prefetched).toBe(1);
    // a's output was read once, ahead; b's is local (same worker) and not prefetched.
    expect(reads.filter((k) => k.includes('/a')).length).toBe(1);
    const ref = c.net.sinks()[0]!.output!;
    const out =
      ref.tier === 'inline' ? Buffer.from(ref.data, 'base64') : c.store.objects.get(ref.key)!;
    expect(decodeValue(out)).toEqual({
      a: { from: 'a', x: { n: 1 } },
      b: { from: 'b', x: { n: 1 } },
    });
  });

  it('reads again when the read ahead failed', async () => {
    const { c, gate, reads, failOnce } = setup();
    failOnce();
    c.start('inv_2', { n: 2 }, undefined);
    await until(() => reads.some((k) => k.includes('/a')));
    gate.resolve();
    await until(() => c.net.sinks().length === 1);
    expect(c.net.failures()).toEqual([]);
    expect(reads.filter((k) => k.includes('/a')).length).toBe(2);
  });

  it('starts the join’s sandbox while it reads its remote input, and no other node’s', async () => {
    const { c, gate } = setup();
    const expected: string[] = [];
    for (const [worker, sandbox] of c.sandboxes)
      (sandbox as { expectRun?: (key: string) => void }).expectRun = (key) =>
        expected.push(`${worker} ${key}`);
    c.start('inv_3', { n: 3 }, undefined);
    gate.resolve();
    await until(() => c.net.sinks().length === 1);
    // a and b read the (inline) workflow input; only the join reads an input held elsewhere.
    expect(expected).toEqual(['w2 join-ahead@1/join']);
  });
});
