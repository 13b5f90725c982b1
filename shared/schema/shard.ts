/**
 * The sharded foreach between workers (docs/guides/sharding.md §sharded foreach): the owner of
 * a foreach node hands a remote shard one batch of items (`shard.run`, `POST
 * /v1/internal/shard-run`), the shard runs the body on each item and answers with the outputs
 * in item order and the steps of the body nodes; its answer is its request for the next batch.
 * An item that failed after its retries answers `ok: false` (the foreach fails, as unsharded);
 * a shard that cannot answer at all is lost and its batch goes back to the owner's queue.
 */
import { Type, type Static } from '@sinclair/typebox';
import { InvocationIdField, StepRecord, WireErrorSchema } from './wire.js';

export const ShardRunRequest = Type.Object({
  invocationId: InvocationIdField,
  workflow: Type.String({ minLength: 1 }),
  version: Type.Integer({ minimum: 1 }),
  /** Foreach node ids from the top of the DAG to the sharded one (nested foreach bodies). */
  path: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, maxItems: 64 }),
  /** The foreach node's run-time label (`fe`, `outer[2]/inner`): items run as `label[i]`. */
  label: Type.String({ minLength: 1 }),
  shard: Type.Integer({ minimum: 1 }),
  /** Index of the batch's first item in the foreach. */
  start: Type.Integer({ minimum: 0 }),
  items: Type.Array(Type.Unknown(), { minItems: 1 }),
  /** Items run at once on the shard. */
  slots: Type.Integer({ minimum: 1 }),
  /** The invocation's deadline, epoch ms. */
  deadline: Type.Number(),
  /** The invocation's input (base64 of its encoding), when the body reads it. */
  workflowInput: Type.Optional(Type.String()),
});
export type ShardRunRequest = Static<typeof ShardRunRequest>;

export const ShardRunAnswer = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    outputs: Type.Array(Type.Unknown()),
    steps: Type.Array(StepRecord),
    cold: Type.Boolean(),
  }),
  Type.Object({
    ok: Type.Literal(false),
    error: WireErrorSchema,
    steps: Type.Array(StepRecord),
  }),
]);
export type ShardRunAnswer = Static<typeof ShardRunAnswer>;

/** The channel op of a batch (shared/channel/ops.ts), same body as the HTTP route. */
export const SHARD_RUN_OP = 'shard.run';
export const SHARD_RUN_PATH = '/v1/internal/shard-run';
