/**
 * The worker engine's durability rules, deterministically: real engines over fake ports
 * (in-process sandbox, shared byte map, a network of engines by URL) and the in-memory journal.
 *
 * Covers: which outcomes are committed in each mode (boundaries and sinks in `checkpoint`, all in
 * `strict`, none in `none`); a redelivered trigger runs nothing twice; a lost commit race makes
 * the winner's output travel; a newer placement from the journal re-routes triggers; an
 * undeliverable trigger fails a `none` invocation but not a journaled one; a journal outage is
 * ridden out; skips behind a switch are committed and reach the join; failures are journaled.
 */
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { MemoryJournal } from '../../shared/journal-memory.js';
import type { StoredRef } from '../../shared/schema/wire.js';
import { cluster, dagOf, until, type Fn } from '../helpers/engine-harness.js';
import { invId } from '../helpers/ids.js';

const CHAIN = dagOf(`name: chain
functions:
  a: { code: "export default async (x) => x" }
  b: { code: "export default async (x) => x" }
  c: { code: "export default async (x) => x" }
flow:
  sequence:
    - task: a
    - task: b
    - task: c
`);

const SWITCH = dagOf(`name: sw
functions:
  a: { code: "export default async (x) => x" }
  b: { code: "export default async (x) => x" }
  c: { code: "export default async (x) => x" }
  d: { code: "export default async (x) => x" }
flow:
  sequence:
    - task: a
    - switch:
        - when: "$.go = 'b'"
          do: { task: b }
        - default: { task: c }
    - task: d
`);

const tag =
  (name: string): Fn =>
  (x) => ({
    ...(x as Record<string, unknown>),
    path: [...((x as { path?: string[] }).path ?? []), name],
  });

const FNS = { a: tag('a'), b: tag('b'), c: tag('c'), d: tag('d') };

/** a on w1; b and c on w2: one boundary (a → b) and one sink (c). */
function chain(journal?: MemoryJournal) {
  return cluster({
    dag: CHAIN,
    groupOf: { a: 0, b: 1, c: 1 },
    groups: ['w1', 'w2'],
    workers: ['w1', 'w2', 'w3'],
    fns: FNS,
    ...(journal ? { journal } : {}),
  });
}

function value(ref: StoredRef | undefined, c: ReturnType<typeof chain>): unknown {
  if (!ref) return undefined;
  if (ref.tier === 'inline') return decodeValue(Buffer.from(ref.data, 'base64'));
  return decodeValue(c.store.objects.get((ref as { key: string }).key)!);
}

describe('engine durability', () => {
  it('commits only the outcomes that cross a boundary, and the sink, in checkpoint mode', async () => {
    const journal = new MemoryJournal();
    const c = chain(journal);
    c.start('inv_1', { n: 1 }, 'checkpoint');
    await until(() => c.net.sinks().length === 1);
    expect(journal.history.map((h) => [h.node, h.won])).toEqual([
      ['a', true],
      ['c', true],
    ]);
    expect(value(c.net.sinks()[0]!.output, c)).toEqual({ n: 1, path: ['a', 'b', 'c'] });
  });

  it('commits every node in strict mode and nothing in none', async () => {
    const strict = new MemoryJournal();
    const s = chain(strict);
    s.start('inv_1', {}, 'strict');
    await until(() => s.net.sinks().length === 1);
    expect(strict.history.map((h) => h.node).sort()).toEqual(['a', 'b', 'c']);

    const none = new MemoryJournal();
    const n = chain(none);
    n.start('inv_2', {}, 'none');
    await until(() => n.net.sinks().length === 1);
    expect(none.history).toEqual([]);
  });

  it('runs nothing twice when a trigger is delivered again', async () => {
    const journal = new MemoryJournal();
    const c = chain(journal);
    c.start('inv_1', {}, 'checkpoint');
    await until(() => c.net.sinks().length === 1);
    const toB = c.net.sent.find((s) => s.trigger.node === 'b')!;
    await c.net.sendTriggers(toB.url, [toB.trigger]);
    c.start('inv_1', {}, 'checkpoint');
    await new Promise((r) => setTimeout(r, 20));
    const runs = [...c.sandboxes.values()].flatMap((s) => s.runs.map((r) => r.node));
    expect(runs.sort()).toEqual(['a', 'b', 'c']);
    expect(c.net.sinks()).toHaveLength(1);
  });

  it('sends the earlier winner of a commit race on, not its own output', async () => {
    const journal = new MemoryJournal();
    const c = chain(journal);
    const ref = await c.store.put('inv_1', 'a-earlier', encodeValue({ from: 'earlier run' }));
    await journal.commit(invId('inv_1'), [{ node: 'a', ref, worker: 'w9' }], 60_000);
    c.start('inv_1', {}, 'checkpoint');
    await until(() => c.net.sinks().length === 1);
    expect(journal.history.find((h) => h.node === 'a' && h.won === false)).toBeDefined();
    const toB = c.net.sent.find((s) => s.trigger.node === 'b')!;
    expect(toB.trigger.ref).toEqual(ref);
    expect(value(c.net.sinks()[0]!.output, c)).toEqual({ from: 'earlier run', path: ['b', 'c'] });
  });

  it('routes by a newer placement the commit returns', async () => {
    const journal = new MemoryJournal();
    const c = chain(journal);
    await journal.replace(
      invId('inv_1'),
      { groups: ['w1', 'w3'], workers: { w1: 'http://w1', w3: 'http://w3' }, epoch: 1 },
      60_000,
    );
    c.start('inv_1', {}, 'checkpoint');
    await until(() => c.net.sinks().length === 1);
    expect(c.net.sent.find((s) => s.trigger.node === 'b')!.url).toBe('http://w3');
    expect(c.sandboxes.get('w3')!.runs.map((r) => r.node)).toEqual(['b', 'c']);
    expect(c.sandboxes.get('w2')!.runs).toEqual([]);
  });

  it('fails a none invocation on an undeliverable trigger, but leaves a journaled one to recovery', async () => {
    const n = chain(new MemoryJournal());
    n.net.down.add('http://w2');
    n.start('inv_1', {}, 'none');
    await until(() => n.net.failures().length === 1);
    expect(n.net.failures()[0]!.error.code).toBe('WORKER_UNREACHABLE');

    const journal = new MemoryJournal();
    const c = chain(journal);
    c.net.down.add('http://w2');
    c.start('inv_2', {}, 'checkpoint');
    await until(() => c.net.sent.some((s) => s.trigger.node === 'b'));
    await new Promise((r) => setTimeout(r, 20));
    expect(c.net.failures()).toEqual([]);
    // What recovery needs is in the journal: a's output, which b's new owner gets.
    const state = await journal.read(invId('inv_2'));
    expect(state.nodes.get('a')?.worker).toBe('w1');
  });

  it('rides out a journal outage by retrying the commit', async () => {
    const journal = new MemoryJournal();
    journal.fail = true;
    const c = chain(journal);
    c.start('inv_1', {}, 'checkpoint');
    await new Promise((r) => setTimeout(r, 60));
    expect(c.net.sent).toEqual([]);
    journal.fail = false;
    await until(() => c.net.sinks().length === 1);
    expect(c.net.failures()).toEqual([]);
  });

  it('commits the skips of an untaken switch case and still runs the join behind it', async () => {
    const journal = new MemoryJournal();
    const c = cluster({
      dag: SWITCH,
      groupOf: { a: 0, switch: 0, b: 1, c: 2, d: 0 },
      groups: ['w1', 'w2', 'w3'],
      workers: ['w1', 'w2', 'w3'],
      fns: FNS,
      journal,
    });
    c.start('inv_1', { go: 'b' }, 'checkpoint');
    await until(() => c.net.sinks().length === 1);
    const state = await journal.read(invId('inv_1'));
    expect(state.nodes.get('c')?.skip).toBe(true);
    expect(state.nodes.get('b')?.ref).toBeDefined();
    expect(state.nodes.get('switch')?.branch).toBe(0);
    expect(c.sandboxes.get('w3')!.runs).toEqual([]);
  });

  it('journals the first failure of a durable invocation', async () => {
    const journal = new MemoryJournal();
    const c = cluster({
      dag: CHAIN,
      groupOf: { a: 0, b: 1, c: 1 },
      groups: ['w1', 'w2'],
      workers: ['w1', 'w2'],
      fns: {
        ...FNS,
        b: () => {
          throw Object.assign(new Error('no'), { retryable: false });
        },
      },
      journal,
    });
    c.start('inv_1', {}, 'checkpoint');
    await until(() => c.net.failures().length === 1);
    await until(() => journal.history.length > 0);
    await new Promise((r) => setTimeout(r, 5));
    expect((await journal.read(invId('inv_1'))).failure?.node).toBe('b');
  });
});
