/**
 * A remote shard's side of a sharded foreach (docs/guides/sharding.md §sharded foreach): one
 * batch of items of a foreach body run here, `slots` at a time, with the function's retries;
 * the answer carries the outputs in item order and the body's steps (marked with the shard),
 * which the owner reports with its own.
 */
import type { DagNode, ForeachNode, WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { ShardRunAnswer, ShardRunRequest } from '../../shared/schema/shard.js';
import type { StepRecord } from '../../shared/schema/wire.js';
import { runLocalDag, type ExecEnv } from './execute.js';
import { Val } from './value.js';

/** The foreach node at `path` (foreach ids from the top) of `dag`. */
export function foreachAt(dag: WorkflowDag, path: readonly string[], where: string): ForeachNode {
  let d = dag;
  let node: DagNode | undefined;
  for (const id of path) {
    node = d.nodes.find((n) => n.id === id);
    if (node?.kind !== 'foreach')
      throw new AppError(
        'BAD_REQUEST',
        `${where}: no foreach ${JSON.stringify(id)} on the path ${path.join('/')}`,
      );
    d = node.body;
  }
  return node as ForeachNode;
}

/** Runs the batch; `env` is this worker's environment for the invocation (steps collected). */
export async function runShardBatch(
  req: ShardRunRequest,
  node: ForeachNode,
  env: Omit<ExecEnv, 'onStep' | 'workflowInput'>,
): Promise<ShardRunAnswer> {
  const steps: StepRecord[] = [];
  const full: ExecEnv = {
    ...env,
    workflowInput:
      req.workflowInput === undefined
        ? null
        : Val.fromBuffer(Buffer.from(req.workflowInput, 'base64')),
    onStep: (step) => steps.push({ ...step, shard: req.shard }),
  };
  const outputs = new Array<unknown>(req.items.length);
  let next = 0;
  let cold = false;
  let failure: unknown;
  const lane = async (): Promise<void> => {
    while (next < req.items.length && failure === undefined) {
      const k = next++;
      const i = req.start + k;
      try {
        const r = await runLocalDag(
          node.body,
          Val.fromValue(req.items[k]),
          full,
          `${req.label}[${i}]`,
        );
        outputs[k] = r.output.decodedValue;
        cold ||= r.cold;
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(req.slots, req.items.length)) }, lane),
  );
  if (failure !== undefined) return { ok: false, error: AppError.from(failure).toWire(), steps };
  return { ok: true, outputs, steps, cold };
}
