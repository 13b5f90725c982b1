import type { InvocationId } from '../../shared/ids.js';
import { describe, expect, it } from 'vitest';
import { ContextReceiver, ContextSender } from '../../shared/channel/contexts.js';
import {
  ChannelTriggerBatch,
  type InvocationContext,
  type Placement,
  type Trigger,
} from '../../shared/schema/wire.js';
import { TypeCompiler } from '@sinclair/typebox/compiler';

const ctx = (inv: string): InvocationContext => ({
  tenant: 'default',
  deadline: 1_000,
  input: {
    tier: 'inline',
    data: Buffer.from(`{"inv":"${inv}"}`).toString('base64'),
    sizeBytes: 12,
  },
  master: 'http://m',
  mode: 'worker',
});
const placement: Placement = { groups: ['w1', 'w2'], workers: { w1: 'http://a', w2: 'http://b' } };

function trigger(inv: string, node: string, c = ctx(inv), p = placement): Trigger {
  return {
    invocationId: inv as InvocationId,
    workflow: 'wf',
    version: 1,
    node,
    from: 'a',
    skip: true,
    placement: p,
    ctx: c,
  };
}

const checkBatch = TypeCompiler.Compile(ChannelTriggerBatch);

describe('context sent once per connection', () => {
  it('sends an invocation context with its first trigger only, and the receiver restores full triggers', () => {
    const sender = new ContextSender();
    const receiver = new ContextReceiver();
    const c1 = ctx('i1');
    const first = sender.encode([trigger('i1', 'b', c1), trigger('i1', 'c', c1)]);
    expect(first.contexts).toHaveLength(1);
    expect(first.triggers.every((t) => !('ctx' in t) && !('placement' in t))).toBe(true);
    expect(checkBatch.Check(first)).toBe(true);
    // A later batch on the same connection: no context at all, by reference or by content.
    const later = sender.encode([trigger('i1', 'd', c1), trigger('i1', 'e', ctx('i1'))]);
    expect(later.contexts).toBeUndefined();
    const a = receiver.restore(first);
    const b = receiver.restore(later);
    expect(a.missing).toEqual([]);
    expect(b.missing).toEqual([]);
    expect(b.triggers).toEqual([trigger('i1', 'd'), trigger('i1', 'e')]);
  });

  it('sends the context again when it changed (a re-placement), and the receiver uses the new one', () => {
    const sender = new ContextSender();
    const receiver = new ContextReceiver();
    receiver.restore(sender.encode([trigger('i1', 'b')]));
    const moved: Placement = { groups: ['w1', 'w3'], workers: { w1: 'http://a', w3: 'http://c' } };
    const again = sender.encode([trigger('i1', 'c', ctx('i1'), moved)]);
    expect(again.contexts?.[0]?.placement).toEqual(moved);
    expect(receiver.restore(again).triggers[0]!.placement).toEqual(moved);
  });

  it('reports the invocations whose context the receiver does not hold, and forgets on release', () => {
    const sender = new ContextSender();
    const receiver = new ContextReceiver();
    receiver.restore(sender.encode([trigger('i1', 'b'), trigger('i2', 'b')]));
    receiver.forget('i1');
    const r = receiver.restore(sender.encode([trigger('i1', 'c'), trigger('i2', 'c')]));
    expect(r.missing).toEqual(['i1']);
    expect(r.triggers.map((t) => t.invocationId)).toEqual(['i2']);
    // The sender is told (the `missing` answer): it forgets and sends the context again.
    sender.forget('i1');
    const resent = sender.encode([trigger('i1', 'c')]);
    expect(resent.contexts?.map((c) => c.invocationId)).toEqual(['i1']);
    expect(receiver.restore(resent).missing).toEqual([]);
  });

  it('holds at most its limit of contexts, oldest out, on both sides', () => {
    const sender = new ContextSender(2);
    const receiver = new ContextReceiver(2);
    for (const inv of ['i1', 'i2', 'i3']) receiver.restore(sender.encode([trigger(inv, 'b')]));
    expect(sender.size).toBe(2);
    expect(receiver.size).toBe(2);
    expect(sender.encode([trigger('i1', 'c')]).contexts).toHaveLength(1);
    expect(
      receiver.restore({ triggers: [sender.encode([trigger('i3', 'c')]).triggers[0]!] }).missing,
    ).toEqual([]);
  });
});
