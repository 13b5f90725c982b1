/**
 * The owner's side of a sharded foreach (docs/guides/sharding.md §sharded foreach): the plan
 * from the placement view (`planShardRun`), the ledger of items (`ShardLedger`), shard 0 run
 * here item by item on the foreach's lanes, and every remote shard fed one batch at a time
 * through the `ShardPort` — a remote shard's answer with a batch's outputs is its request for
 * the next, so batches shrink as the queue drains (guided self-scheduling). A shard that cannot
 * answer is lost: its batch goes back to the front of the queue and the others run it. An item
 * that failed after its function's retries fails the foreach, as it does unsharded.
 */
import type { ForeachNode, FunctionSpec } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { InvocationId } from '../../shared/ids.js';
import type { ShardRunRequest } from '../../shared/schema/shard.js';
import type { ShardPlanRecord, ShardRunRecord, StepRecord } from '../../shared/schema/wire.js';
import { evenSplit } from '../../shared/shard/foreach-plan.js';
import { ShardLedger } from '../../shared/shard/ledger.js';
import { planShardRun, type PlannedShard } from '../../shared/shard/runtime-plan.js';
import type { ShardPort } from './ports.js';
import type { Val } from './value.js';

/** What of the node's execution environment a sharded foreach uses (ExecEnv has it all). */
export interface ShardEnv {
  invocationId: InvocationId;
  workflow: string;
  version: number;
  functions: Record<string, FunctionSpec>;
  workflowInput: Val | null;
  deadline: number;
  workerId: string;
  now: () => number;
  onStep(step: StepRecord): void;
  shards?: ShardPort;
}

export interface ShardedOutcome {
  /** null: the plan kept it on one worker; run it unsharded. */
  outputs: unknown[] | null;
  cold: boolean;
  plan: ShardPlanRecord;
}

/** The foreach node ids from the top of the DAG down to the node labelled `label`. */
export function foreachPath(label: string): string[] {
  return label.split('/').map((part) => part.replace(/\[\d+\]$/, ''));
}

/**
 * Runs the items of a sharded foreach; `runLocal(i)` runs item i here (the body, its steps
 * recorded by the caller's env). Outputs come back in item order.
 */
export async function runShardedForeach(
  node: ForeachNode,
  items: readonly unknown[],
  env: ShardEnv,
  label: string,
  runLocal: (i: number) => Promise<{ output: unknown; cold: boolean }>,
): Promise<ShardedOutcome> {
  const began = env.now();
  const workers = env.shards?.workers(env.workflow, env.version) ?? [];
  const planned = planShardRun({
    node,
    functions: env.functions,
    items: items.length,
    owner: env.workerId,
    workers,
  });
  const e = planned.estimate;
  const plan: ShardPlanRecord = {
    items: items.length,
    planned: planned.shards.length,
    predictedMs: e.curve[planned.shards.length - 1]?.makespanMs ?? 0,
    predictedSpeedup: e.speedup,
    demandSource: e.demandSource,
    reason: e.reason,
    actualMs: 0,
    shards: [],
  };
  if (planned.shards.length <= 1 || env.shards === undefined)
    return { outputs: null, cold: false, plan };
  const port = env.shards;
  const shards = planned.shards;
  const steal = node.shard?.steal ?? true;
  // Without stealing every shard takes one even block up front and nothing after.
  const ledger = new ShardLedger<unknown>(
    items.length,
    shards.length,
    steal ? {} : { minBatch: Math.max(1, evenSplit(items.length, shards.length)[0]?.count ?? 1) },
  );
  const runs: ShardRunRecord[] = shards.map((s) => ({
    shard: s.shard,
    worker: s.worker,
    items: 0,
    batches: 0,
  }));
  let failure: AppError | undefined;
  let cold = false;
  let waiters: (() => void)[] = [];
  const changed = (): void => {
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const wait = (): Promise<void> => new Promise((r) => waiters.push(r));

  // Shard 0, here: the foreach's lanes take items from the batches shard 0 holds, and a lane
  // that finds none left takes the next batch.
  const open: { start: number; count: number; next: number; left: number; outputs: unknown[] }[] =
    [];
  const lane = async (): Promise<void> => {
    for (;;) {
      if (failure !== undefined || ledger.done) return;
      const b = open.find((o) => o.next < o.count);
      if (b === undefined) {
        // (Without stealing, every block is taken up front; later takes are lost shards' blocks.)
        const got = ledger.take(0);
        if (got !== null) {
          runs[0]!.batches++;
          open.push({ ...got, next: 0, left: got.count, outputs: new Array<unknown>(got.count) });
          continue;
        }
        // Nothing to hand out: wait for a lost shard's batch, or for the end.
        await wait();
        continue;
      }
      const k = b.next++;
      try {
        const r = await runLocal(b.start + k);
        b.outputs[k] = r.output;
        cold ||= r.cold;
      } catch (err) {
        failure ??= AppError.from(err);
        changed();
        return;
      }
      if (--b.left === 0) {
        open.splice(open.indexOf(b), 1);
        ledger.complete(0, b.start, b.outputs);
        changed();
      }
    }
  };

  const remote = async (s: PlannedShard, second: boolean): Promise<void> => {
    const run = runs[s.shard]!;
    // (Read through a function: the other batch in flight may have lost the shard meanwhile.)
    const lost = (): boolean => run.lost === true;
    // The second batch in flight waits for the shard's first to come back, so its size is
    // weighed by the shard's measured speed: a slowed shard does not hoard two first batches.
    if (second)
      while (steal && !ledger.returned(s.shard) && failure === undefined && !ledger.done && !lost())
        await wait();
    for (;;) {
      if (failure !== undefined || ledger.done || lost()) return;
      if (!steal && run.batches > 0) return;
      const b = ledger.take(s.shard);
      if (b === null) return;
      run.batches++;
      const req: ShardRunRequest = {
        invocationId: env.invocationId,
        workflow: env.workflow,
        version: env.version,
        path: foreachPath(label),
        label,
        shard: s.shard,
        start: b.start,
        items: items.slice(b.start, b.start + b.count),
        slots: s.slots,
        deadline: env.deadline,
        ...(env.workflowInput === null
          ? {}
          : { workflowInput: env.workflowInput.encoded.toString('base64') }),
      };
      let answer;
      try {
        answer = await port.run(s.url, req);
      } catch (err) {
        // Lost: its batches go back to the queue; the others (shard 0 at least) run them.
        if (lost()) return;
        ledger.lose(s.shard);
        run.lost = true;
        run.error = AppError.from(err).message;
        changed();
        return;
      }
      // A late answer of a shard already declared lost: its batch went back, nothing of it
      // is merged or reported.
      if (lost()) return;
      for (const step of answer.steps) env.onStep(step);
      if (!answer.ok) {
        failure ??= AppError.fromWire(answer.error);
        changed();
        return;
      }
      cold ||= answer.cold;
      ledger.complete(s.shard, b.start, answer.outputs);
      changed();
    }
  };

  const lanes = Math.max(1, Math.min(node.concurrency, shards[0]!.slots, items.length));
  await Promise.all([
    ...Array.from({ length: lanes }, lane),
    // Two batches in flight per remote shard (from its first return on): the next is there
    // when a lane of the last frees (the shard's lanes are shared by both, ShardLanes), so no
    // lane idles over a hop.
    ...shards.slice(1).flatMap((s) => [remote(s, false), remote(s, true)]),
  ]);
  if (failure !== undefined) throw failure;
  for (const [shard, n] of ledger.itemsByShard()) runs[shard]!.items = n;
  plan.shards = runs;
  plan.actualMs = env.now() - began;
  return { outputs: ledger.result(), cold, plan };
}
