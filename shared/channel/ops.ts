/**
 * What a process answers on its channels: a table of operations, each with the TypeBox schema
 * its body is checked against on arrival (as the HTTP routes check theirs) and a handler. An
 * unknown op is answered NOT_FOUND with `details.unknownOp`, which tells the caller to use HTTP for
 * that operation (a peer of another version). Also the receiving side of trigger batches, with
 * its per-connection context cache.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { AppError } from '../errors.js';
import { crashPoint } from '../crash.js';
import { ChannelTriggerBatch, type ChannelTriggerAck, type Trigger } from '../schema/wire.js';
import type { Channel, ChannelHandlers, Incoming, Reply } from './channel.js';
import { ContextReceiver } from './contexts.js';

/** Operation names on the channel (docs/design.md §4, "Channels"). */
export const OPS = {
  triggers: 'triggers',
  reports: 'reports',
  heartbeat: 'heartbeat',
  objectGet: 'object.get',
  objectFetch: 'object.fetch',
  release: 'release',
  /** A batch of a sharded foreach (shared/schema/shard.ts). */
  shardRun: 'shard.run',
  /** A keyed function's call on the replica its routing table names (shared/schema/keyed.ts). */
  keyedRun: 'keyed.run',
  /** Prepares ahead for a worker's sandboxes (shared/chains/start.ts `PrepareBatch`). */
  prepares: 'prepares',
} as const;

export interface Op {
  check: TypeCheck<TSchema>;
  handle(body: unknown, data: Buffer | null, channel: Channel): Promise<Reply> | Reply;
}

/** An operation whose body is checked against `schema` before `handle` sees it. */
export function op<S extends TSchema>(
  schema: S,
  handle: (body: Static<S>, data: Buffer | null, channel: Channel) => Promise<Reply> | Reply,
): Op {
  return {
    check: TypeCompiler.Compile(schema),
    handle: (body, data, channel) => handle(body, data, channel),
  };
}

/** What a process's channels served, for its /metrics. */
export class ChannelStats {
  /** Channels accepted and open now. */
  open = 0;
  /** Requests answered per operation. */
  readonly served = new Map<string, number>();

  /** Prometheus lines (`faasflow_<who>_channels`, `faasflow_<who>_channel_requests_total`). */
  metrics(who: string): string[] {
    const lines = [
      `# TYPE faasflow_${who}_channels gauge`,
      `faasflow_${who}_channels ${this.open}`,
      `# TYPE faasflow_${who}_channel_requests_total counter`,
    ];
    for (const [op, n] of this.served)
      lines.push(`faasflow_${who}_channel_requests_total{op="${op}"} ${n}`);
    return lines;
  }
}

export function serveOps(ops: Readonly<Record<string, Op>>, stats?: ChannelStats): ChannelHandlers {
  return {
    request(m: Incoming): Promise<Reply> | Reply {
      if (stats) stats.served.set(m.op, (stats.served.get(m.op) ?? 0) + 1);
      const o = Object.hasOwn(ops, m.op) ? ops[m.op] : undefined;
      if (o === undefined)
        throw new AppError('NOT_FOUND', `no channel operation ${m.op}; use HTTP`, {
          details: { unknownOp: m.op },
        });
      if (!o.check.Check(m.body)) {
        const first = o.check.Errors(m.body).First();
        throw new AppError(
          'BAD_REQUEST',
          `invalid ${m.op} body${first ? ` at ${first.path || '/'}: ${first.message}` : ''}`,
          { details: { op: m.op } },
        );
      }
      return o.handle(m.body, m.data, m.channel);
    },
  };
}

/**
 * The `triggers` operation: restores full triggers from each connection's context cache and
 * hands them to `accept` (which records them before the answer leaves, as `POST /v1/trigger`).
 */
export class TriggerReceiver {
  private readonly caches = new Map<Channel, ContextReceiver>();

  constructor(private readonly accept: (triggers: Trigger[]) => void) {}

  readonly op: Op = op(ChannelTriggerBatch, (batch, _data, channel): Reply => {
    const { triggers, missing } = this.cacheOf(channel).restore(batch);
    if (triggers.length > 0) this.accept(triggers);
    crashPoint('worker:after-receive');
    const ack: ChannelTriggerAck =
      missing.length > 0 ? { accepted: triggers.length, missing } : { accepted: triggers.length };
    return { body: ack };
  });

  /** The invocation ended here: its contexts are not needed on any connection. */
  forget(invocationId: string): void {
    for (const c of this.caches.values()) c.forget(invocationId);
  }

  private cacheOf(channel: Channel): ContextReceiver {
    let c = this.caches.get(channel);
    if (!c) {
      c = new ContextReceiver();
      this.caches.set(channel, c);
      channel.onClose(() => this.caches.delete(channel));
    }
    return c;
  }
}
