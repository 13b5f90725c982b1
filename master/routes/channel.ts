/**
 * What workers call on the master's channels (docs/design.md §4, "Channels"): the same
 * operations as the internal HTTP routes in ./cluster.ts — reports, heartbeats, the MasterSP
 * trigger relay and the invocation inputs — with the same checks and answers.
 */
import { Type } from '@sinclair/typebox';
import { AppError } from '../../shared/errors.js';
import { op, OPS, TriggerReceiver, type Op } from '../../shared/channel/ops.js';
import { ReportBatch, WorkerLoad } from '../../shared/schema/wire.js';
import type { MasterContext } from './context.js';

export function masterChannelOps(c: MasterContext): {
  ops: Record<string, Op>;
  triggers: TriggerReceiver;
} {
  const triggers = new TriggerReceiver((t) => c.invocations.relay(t));
  const ops: Record<string, Op> = {
    [OPS.reports]: op(ReportBatch, (b) => {
      c.invocations.accept(b.reports);
      return { body: { accepted: b.reports.length } };
    }),
    [OPS.heartbeat]: op(Type.Object({ id: Type.String(), load: WorkerLoad }), (b) => {
      if (!c.registry.heartbeat(b.id, b.load))
        throw new AppError(
          'NOT_FOUND',
          `worker ${b.id} is not registered (or was marked dead); register again`,
        );
      return { body: { ok: true } };
    }),
    [OPS.triggers]: triggers.op,
    [OPS.objectGet]: op(Type.Object({ key: Type.String() }), (b) => ({
      data: c.invocations.inputObject(b.key),
    })),
  };
  return { ops, triggers };
}
