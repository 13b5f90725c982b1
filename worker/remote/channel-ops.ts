/**
 * What the master and other workers call on a worker's channels (docs/design.md §4,
 * "Channels"): the same operations as the worker's internal HTTP routes (worker/app.ts) —
 * triggers, object reads, shard batches, keyed calls, prepares ahead and releases — with the same
 * checks and answers.
 */
import { Type } from '@sinclair/typebox';
import type { TriggerReceiver } from '../../shared/channel/ops.js';
import { op, OPS, type Op } from '../../shared/channel/ops.js';
import type { InvocationId } from '../../shared/ids.js';
import { InvocationIdField, StoredRef } from '../../shared/schema/wire.js';
import { ShardRunRequest } from '../../shared/schema/shard.js';
import { KeyedRunRequest } from '../../shared/schema/keyed.js';
import type { FaaStore } from '../../faastore/index.js';
import type { Engine } from '../engine/engine.js';
import { PrepareBatch, type PrepareScheduler } from '../sandbox/ahead.js';

export function workerChannelOps(d: {
  engine: Engine;
  store: () => FaaStore;
  /** An invocation ended here (every release path calls it). */
  release: (invocationId: InvocationId) => Promise<void>;
  triggers: TriggerReceiver;
  /** Prepares ahead (absent: the op answers that none are scheduled here). */
  ahead?: Pick<PrepareScheduler, 'schedule'>;
}): Record<string, Op> {
  return {
    [OPS.triggers]: d.triggers.op,
    [OPS.objectGet]: op(Type.Object({ key: Type.String() }), async (b) => ({
      data: await d.store().serveLocal(b.key),
    })),
    [OPS.objectFetch]: op(Type.Object({ ref: StoredRef }), async (b) => ({
      data: await d.store().serveRef(b.ref),
    })),
    [OPS.shardRun]: op(ShardRunRequest, async (b) => ({
      body: await d.engine.runShardBatch(b),
    })),
    [OPS.keyedRun]: op(KeyedRunRequest, async (b) => ({
      body: await d.engine.runKeyed(b),
    })),
    [OPS.prepares]: op(PrepareBatch, (b) => {
      d.ahead?.schedule(b.prepares);
      return { body: { scheduled: d.ahead ? b.prepares.length : 0 } };
    }),
    [OPS.release]: op(
      Type.Object({
        invocationIds: Type.Array(InvocationIdField, { minItems: 1, maxItems: 10_000 }),
      }),
      async (b) => {
        await Promise.all(b.invocationIds.map((id) => d.release(id)));
        return {};
      },
    ),
  };
}
