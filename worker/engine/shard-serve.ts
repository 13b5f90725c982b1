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

/**
 * The slots of one shard on this worker, shared by the batches of it that are here at once (the
 * owner sends the next batch before the last one is done): FIFO, so items start in order.
 */
export class ShardLanes {
  private readonly waiting: (() => void)[] = [];
  /** Batches using these lanes now. */
  users = 0;

  constructor(private free: number) {}

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((r) => this.waiting.push(r));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

/** Runs the batch; `env` is this worker's environment for the invocation (steps collected). */
export async function runShardBatch(
  req: ShardRunRequest,
  node: ForeachNode,
  env: Omit<ExecEnv, 'onStep' | 'workflowInput'>,
  lanes: ShardLanes = new ShardLanes(req.slots),
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
  let cold = false;
  let failure: unknown;
  const item = async (k: number): Promise<void> => {
    await lanes.acquire();
    try {
      if (failure !== undefined) return;
      const r = await runLocalDag(
        node.body,
        Val.fromValue(req.items[k]),
        full,
        `${req.label}[${req.start + k}]`,
      );
      outputs[k] = r.output.decodedValue;
      cold ||= r.cold;
    } catch (err) {
      failure ??= err;
    } finally {
      lanes.release();
    }
  };
  await Promise.all(req.items.map((_, k) => item(k)));
  if (failure !== undefined) return { ok: false, error: AppError.from(failure).toWire(), steps };
  return { ok: true, outputs, steps, cold };
}
