/**
 * An invocation's context sent once per connection (docs/design.md §4, "Channels"). The sender
 * keeps, per connection, the context (ctx and placement) it last sent for each invocation and
 * leaves it out of later triggers; the receiver keeps what arrived on that connection and
 * restores full Triggers. Both caches are per connection, so a new connection starts empty on
 * both ends; both forget an invocation when it is released, and both are bounded (oldest out).
 * A receiver that does not hold a context (evicted, or never seen) answers `missing` and the
 * sender sends those triggers again with their context: delivery stays at-least-once.
 * Pure: no I/O.
 */
import type { InvocationId } from '../ids.js';
import type {
  ChannelContext,
  ChannelTrigger,
  ChannelTriggerBatch,
  InvocationContext,
  Placement,
  Trigger,
} from '../schema/wire.js';

/** Contexts held per connection and side. */
export const MAX_CONTEXTS_PER_CONNECTION = 10_000;

interface Sent {
  ctx: InvocationContext;
  placement: Placement;
  json: string;
}

export class ContextSender {
  private readonly sent = new Map<string, Sent>();

  constructor(private readonly limit: number = MAX_CONTEXTS_PER_CONNECTION) {}

  /** The batch to send: contexts this connection has not carried yet, and the bare triggers. */
  encode(triggers: readonly Trigger[]): ChannelTriggerBatch {
    const contexts: ChannelContext[] = [];
    const bare: ChannelTrigger[] = [];
    const inBatch = new Set<string>();
    for (const t of triggers) {
      const { ctx, placement, ...rest } = t;
      bare.push(rest);
      if (inBatch.has(t.invocationId)) continue;
      const known = this.sent.get(t.invocationId);
      // The engine hands the same objects for every trigger of an invocation: compare by
      // reference first, and by content only when they differ (a re-placement changes it).
      if (known && known.ctx === ctx && known.placement === placement) continue;
      const json = JSON.stringify([ctx, placement]);
      if (known && known.json === json) {
        known.ctx = ctx;
        known.placement = placement;
        continue;
      }
      inBatch.add(t.invocationId);
      contexts.push({ invocationId: t.invocationId, ctx, placement });
      this.sent.delete(t.invocationId);
      this.sent.set(t.invocationId, { ctx, placement, json });
      if (this.sent.size > this.limit) this.sent.delete(this.sent.keys().next().value!);
    }
    return contexts.length > 0 ? { contexts, triggers: bare } : { triggers: bare };
  }

  forget(invocationId: string): void {
    this.sent.delete(invocationId);
  }

  get size(): number {
    return this.sent.size;
  }
}

export class ContextReceiver {
  private readonly known = new Map<string, { ctx: InvocationContext; placement: Placement }>();

  constructor(private readonly limit: number = MAX_CONTEXTS_PER_CONNECTION) {}

  /** Full triggers for what can be restored, and the invocations whose context is unknown. */
  restore(batch: ChannelTriggerBatch): { triggers: Trigger[]; missing: InvocationId[] } {
    for (const c of batch.contexts ?? []) {
      this.known.delete(c.invocationId);
      this.known.set(c.invocationId, { ctx: c.ctx, placement: c.placement });
      if (this.known.size > this.limit) this.known.delete(this.known.keys().next().value!);
    }
    const triggers: Trigger[] = [];
    const missing = new Set<InvocationId>();
    for (const t of batch.triggers) {
      const k = this.known.get(t.invocationId);
      if (k === undefined) missing.add(t.invocationId);
      else triggers.push({ ...t, ctx: k.ctx, placement: k.placement });
    }
    return { triggers, missing: [...missing] };
  }

  forget(invocationId: string): void {
    this.known.delete(invocationId);
  }

  get size(): number {
    return this.known.size;
  }
}
