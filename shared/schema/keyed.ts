/**
 * Keyed sharding between the processes (docs/guides/sharding.md §keyed sharding at run time):
 * the routing tables the master keeps and sends with the placement view, the load each worker
 * reports per range with its heartbeats, and the call a node's worker hands to the replica the
 * table names for the call's key (`keyed.run`, `POST /v1/internal/keyed-run`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { InvocationIdField, WireErrorSchema } from './wire.js';

export { KeyedRangeLoad, RoutingTableSchema, ViewRouting } from './wire.js';

export const KeyedRunRequest = Type.Object({
  invocationId: InvocationIdField,
  workflow: Type.String({ minLength: 1 }),
  version: Type.Integer({ minimum: 1 }),
  fn: Type.String({ minLength: 1 }),
  /** The node's run-time label, for the sandbox's logs. */
  node: Type.String({ minLength: 1 }),
  attempt: Type.Integer({ minimum: 1 }),
  /** The call's input (base64 of its encoding). */
  input: Type.String(),
  workflowInput: Type.Optional(Type.String()),
  timeoutMs: Type.Integer({ minimum: 1 }),
  /** The routing the caller used: counted on the range it names. */
  tableVersion: Type.Integer({ minimum: 1 }),
  range: Type.Integer({ minimum: 0 }),
  keyHash: Type.Integer({ minimum: 0 }),
  allocation: Type.Object({ cpu: Type.Number({ minimum: 0 }), memoryMb: Type.Number() }),
});
export type KeyedRunRequest = Static<typeof KeyedRunRequest>;

const Measured = Type.Union([Type.Number(), Type.Null()]);

export const KeyedRunAnswer = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    output: Type.String(),
    cold: Type.Boolean(),
    queueMs: Type.Number(),
    initMs: Type.Number(),
    durationMs: Type.Number(),
    allocation: Type.Object({ cpu: Type.Number(), memoryMb: Type.Number() }),
    peakMemoryMb: Measured,
    peakCpuCores: Measured,
    cpuTimeMs: Measured,
    isolation: Type.Optional(Type.String()),
  }),
  Type.Object({ ok: Type.Literal(false), error: WireErrorSchema }),
]);
export type KeyedRunAnswer = Static<typeof KeyedRunAnswer>;

export const KEYED_RUN_PATH = '/v1/internal/keyed-run';
