/**
 * Runs one node of any kind on this worker: a task in a sandbox (with retries, backoff and the
 * invocation deadline), a pass node, a switch (which branch is taken), or a foreach (its body
 * DAG once per item, at most `concurrency` at a time, entirely on this worker).
 * Input and output reshaping (JSONata) happen here, around the node's own work.
 *
 * Harvesting: a task runs with the allocation the master decided for it (`ctx.harvest`, applied
 * by the sandbox to the warm child it gets) or else its function's declared one, and tells the
 * invocation's stage hooks when it starts and ends so live rebalancing can move CPU between it
 * and its running siblings.
 */
import { topologicalOrder } from '../../shared/dag/graph.js';
import { assemble, type Arrival } from '../../shared/dag/template.js';
import type {
  DagEdge,
  DagNode,
  ForeachNode,
  FunctionSpec,
  Isolation,
  SwitchNode,
  TaskNode,
  WorkflowDag,
} from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { NodeAllocation, ShardPlanRecord, StepRecord } from '../../shared/schema/wire.js';
import { harvestedRun } from '../harvest/limits.js';
import type { InvocationStages } from '../harvest/stage-tracker.js';
import type { Sandbox } from '../sandbox/types.js';
import type { Expressions } from '../../shared/expressions.js';
import { functionKey } from './deployments.js';
import type { ShardPort } from './ports.js';
import { keyedResult, keyString, routedWorkflow, type KeyedPort } from './keyed.js';
import { keyHash, routeHash } from '../../shared/shard/routing.js';
import type { RunRequest, RunResult } from '../sandbox/types.js';
import { runShardedForeach } from './shard.js';
import { Val } from './value.js';
import type { InvocationId } from '../../shared/ids.js';

export interface ExecEnv {
  invocationId: InvocationId;
  workflow: string;
  version: number;
  functions: Record<string, FunctionSpec>;
  /** The invocation's input, or null when nothing of the node reads it (not fetched). */
  workflowInput: Val | null;
  /** Epoch ms. */
  deadline: number;
  signal: AbortSignal;
  sandbox: Sandbox;
  exprs: Expressions;
  workerId: string;
  now: () => number;
  /** Timeline records of nodes inside foreach bodies. */
  onStep(step: StepRecord): void;
  /** Harvesting's decisions for this invocation (`ctx.harvest`), by node id; absent when off. */
  harvest?: Record<string, NodeAllocation>;
  /** Live rebalancing of this invocation's parallel stages on this worker; absent when off. */
  stages?: InvocationStages;
  /** Other workers for a sharded foreach (docs/guides/sharding.md); absent: never sharded. */
  shards?: ShardPort;
  /** Keyed functions' routing tables and their replicas; absent: keyed functions run here. */
  keyed?: KeyedPort;
}

export interface NodeOutcome {
  output: Val;
  /** Bytes the node ran on: its input after its own `input:` expression (set by executeNode). */
  inputBytes?: number;
  /** Switch: the case taken, -1 for the implicit default. */
  branch?: number;
  items?: number;
  attempts: number;
  cold: boolean;
  queueMs: number;
  startedAt: number;
  /** Tasks: what the sandbox applied when the successful attempt started. */
  allocation?: { cpu: number; memoryMb: number };
  /** Tasks under harvesting: the master's decision for the node. */
  harvest?: NodeAllocation;
  peakMemoryMb?: number | null;
  peakCpuCores?: number | null;
  cpuTimeMs?: number | null;
  throttledMs?: number | null;
  pressureMs?: number | null;
  safeguardAtMs?: number | null;
  /** Tasks: the successful attempt's handler run, request sent → result received. */
  runMs?: number;
  /** Tasks: the run found a sandbox prepared ahead for it (docs/guides/chains.md). */
  prepared?: boolean;
  /** Tasks: the sandbox start of a cold run, ms. */
  initMs?: number;
  /** Tasks: the tier that ran the function. */
  isolation?: Isolation;
  /** Sharded foreach: its plan and what each shard ran. */
  shardPlan?: ShardPlanRecord;
  /** Keyed function: where its key's range sent it. */
  keyed?: StepRecord['keyed'];
}

/** Runs `node` on an already assembled input (before its own `inputExpr`). */
export async function executeNode(
  node: DagNode,
  input: Val,
  env: ExecEnv,
  label: string = node.id,
): Promise<NodeOutcome> {
  const where = `node ${label}`;
  let current = input;
  if (node.inputExpr !== undefined) {
    current = Val.fromValue(
      await env.exprs.evaluate(node.inputExpr, current.decodedValue, `${where} input`),
    );
  }
  const startedAt = env.now();
  let outcome: NodeOutcome;
  switch (node.kind) {
    case 'pass':
      outcome = { output: current, attempts: 0, cold: false, queueMs: 0, startedAt };
      break;
    case 'switch':
      outcome = {
        output: current,
        branch: await chooseBranch(node, current, env, where),
        attempts: 0,
        cold: false,
        queueMs: 0,
        startedAt,
      };
      break;
    case 'task':
      outcome = await runTask(node, current, env, label);
      break;
    case 'foreach':
      outcome = await runForeach(node, current, env, label, startedAt);
      break;
  }
  if (node.outputExpr !== undefined) {
    outcome.output = Val.fromValue(
      await env.exprs.evaluate(node.outputExpr, outcome.output.decodedValue, `${where} output`),
    );
  }
  outcome.inputBytes = current.sizeBytes;
  return outcome;
}

async function chooseBranch(
  node: SwitchNode,
  input: Val,
  env: ExecEnv,
  where: string,
): Promise<number> {
  for (const [i, c] of node.cases.entries()) {
    if (c.when === null) return i;
    if (await env.exprs.test(c.when, input.decodedValue, `${where} case ${i}`)) return i;
  }
  return -1;
}

async function runTask(
  node: TaskNode,
  input: Val,
  env: ExecEnv,
  label: string,
): Promise<NodeOutcome> {
  const fn = env.functions[node.fn];
  if (!fn)
    throw new AppError('FUNCTION_FAILED', `node ${label}: function ${node.fn} is not deployed`, {
      retryable: false,
    });
  const decision = env.harvest === undefined ? undefined : decisionOf(env.harvest, label);
  const applied = decision?.applied ?? { cpu: fn.cpu, memoryMb: fn.memoryMb };
  const live = decision === undefined ? undefined : env.stages?.start(label, decision);
  const task: Task = {
    key: functionKey(env.workflow, env.version, fn.name),
    fn,
    label,
    decision,
    allocation: live === undefined ? () => applied : () => live.allocation(),
  };
  try {
    await live?.turn();
    if (fn.shard !== undefined && env.keyed !== undefined)
      return await runKeyed(task, fn.shard.key, env.keyed, input, env);
    return await runAttempts(task, input, env);
  } finally {
    live?.finish();
  }
}

/**
 * A keyed function's call: routed by its key to the replica its routing table names; every
 * attempt on that replica, or here once it cannot be reached (the step says `fallback`).
 * Without a table yet (just deployed) it runs here.
 */
async function runKeyed(
  task: Task,
  keyExpr: string,
  port: KeyedPort,
  input: Val,
  env: ExecEnv,
): Promise<NodeOutcome> {
  const workflow = routedWorkflow(env.workflow);
  const table = port.table(workflow, task.fn.name);
  if (table === undefined) return runAttempts(task, input, env);
  const key = keyString(
    await env.exprs.evaluate(keyExpr, input.decodedValue, `node ${task.label} shard key`),
  );
  const hash = keyHash(key);
  const { range, worker } = routeHash(table, hash, (w) => port.load(w));
  const keyed: NonNullable<NodeOutcome['keyed']> = {
    range: range.id,
    version: table.version,
    worker,
  };
  const meter = (ms: number): void =>
    port.meter.record(workflow, task.fn.name, table.version, range.id, hash, ms);
  if (worker === env.workerId) {
    const out = await runAttempts(task, input, env);
    meter(out.runMs ?? 0);
    return { ...out, keyed };
  }
  let reachable = true;
  const remote = async (req: RunRequest): Promise<RunResult> => {
    if (reachable) {
      const answer = await port
        .run(worker, {
          invocationId: req.invocationId,
          workflow: env.workflow,
          version: env.version,
          fn: task.fn.name,
          node: req.node,
          attempt: req.attempt,
          input: req.input.toString('base64'),
          ...(req.workflowInput ? { workflowInput: req.workflowInput.toString('base64') } : {}),
          timeoutMs: Math.max(1, Math.ceil(req.timeoutMs)),
          tableVersion: table.version,
          range: range.id,
          keyHash: hash,
          allocation: { cpu: req.allocation.cpu, memoryMb: req.allocation.memoryMb },
        })
        .catch(() => undefined);
      if (answer?.ok === true) return keyedResult(answer, req.allocation, worker);
      if (answer?.ok === false) throw AppError.fromWire(answer.error);
      // Lost on the way (the replica died, left or is unreachable): this worker runs it.
      reachable = false;
      keyed.fallback = true;
      keyed.worker = env.workerId;
    }
    const r = await env.sandbox.run(task.key, req);
    meter(r.durationMs);
    return r;
  };
  return { ...(await runAttempts(task, input, env, remote)), keyed };
}

interface Task {
  key: string;
  fn: FunctionSpec;
  label: string;
  decision: NodeAllocation | undefined;
  /** Per attempt: live rebalancing may have changed the CPU quota since the task started. */
  allocation: () => { cpu: number; memoryMb: number };
}

/**
 * The harvest decision of a task by its label: top-level nodes and anything the master decided
 * per run-time label by that label; a foreach body instance (`fe[3]/node`, nested
 * `outer[0]/inner[2]/node`) by its scoped node id with the item indices dropped (`fe/node`,
 * `outer/inner/node`: the names master/harvest/stages.ts gives body nodes, one decision for all
 * the items). Not by the bare body id: a body node may share it with a top-level node.
 */
function decisionOf(
  harvest: Record<string, NodeAllocation>,
  label: string,
): NodeAllocation | undefined {
  const exact = harvest[label];
  if (exact !== undefined || !label.includes('[')) return exact;
  return harvest[label.replace(/\[\d+\]/g, '')];
}

/** Runs a task in the sandbox, with retries, backoff and the invocation deadline. */
async function runAttempts(
  task: Task,
  input: Val,
  env: ExecEnv,
  run: (req: RunRequest) => Promise<RunResult> = (req) => env.sandbox.run(task.key, req),
): Promise<NodeOutcome> {
  const { fn, label, decision } = task;
  const startedAt = env.now();
  // Set when a harvested (smaller) allocation ran out: the remaining attempts get the user's.
  let fallback: NodeAllocation | undefined;
  for (let attempt = 1; ; attempt++) {
    const remainingMs = env.deadline - env.now();
    if (remainingMs <= 0) {
      throw new AppError(
        'INVOCATION_TIMEOUT',
        `node ${label}: the invocation deadline passed before function ${fn.name} could run`,
      );
    }
    try {
      const r = await run({
        invocationId: env.invocationId,
        node: label,
        attempt,
        input: input.encoded,
        ...(env.workflowInput === null ? {} : { workflowInput: env.workflowInput.encoded }),
        timeoutMs: Math.min(fn.timeoutMs, remainingMs),
        ...harvestedRun(fallback ?? decision, fallback ? fallback.applied : task.allocation()),
        signal: env.signal,
      });
      return {
        output: Val.fromBuffer(r.output),
        attempts: attempt,
        cold: r.cold,
        queueMs: r.queueMs,
        startedAt,
        allocation: { cpu: r.allocation.cpu, memoryMb: r.allocation.memoryMb },
        ...(decision === undefined ? {} : { harvest: fallback ?? decision }),
        peakMemoryMb: r.peakMemoryMb,
        peakCpuCores: r.peakCpuCores,
        cpuTimeMs: r.cpuTimeMs,
        throttledMs: r.throttledMs,
        pressureMs: r.pressureMs,
        safeguardAtMs: r.safeguardAtMs,
        runMs: r.durationMs,
        isolation: r.isolation,
        ...(r.prepared === true ? { prepared: true } : {}),
        ...(r.cold ? { initMs: r.initMs } : {}),
      };
    } catch (err) {
      const e = AppError.from(err, 'FUNCTION_FAILED');
      // Harvesting must not fail what the user's allocation would run: one more attempt with it,
      // whatever the retry budget, when a smaller harvested allocation ran out of memory or time.
      if (
        decision !== undefined &&
        fallback === undefined &&
        (e.code === 'FUNCTION_OOM' || e.code === 'FUNCTION_TIMEOUT') &&
        below(task.allocation(), decision.user) &&
        !env.signal.aborted
      ) {
        fallback = {
          ...decision,
          applied: decision.user,
          reason: e.code === 'FUNCTION_OOM' ? 'fallback-oom' : 'fallback-timeout',
        };
        continue;
      }
      const last = !e.retryable || attempt > fn.retries || env.signal.aborted;
      if (last) {
        const tries = attempt === 1 ? '' : ` after ${attempt} attempts`;
        throw new AppError(
          e.code,
          `function ${fn.name} (node ${label}) failed${tries}: ${e.message}`,
          {
            details: {
              function: fn.name,
              node: label,
              attempts: attempt,
              ...(isRecord(e.details) ? e.details : {}),
            },
            retryable: false,
            cause: e,
          },
        );
      }
      const wait = Math.min(backoffMs(attempt), Math.max(0, env.deadline - env.now()));
      await delay(wait, env.signal);
    }
  }
}

async function runForeach(
  node: ForeachNode,
  input: Val,
  env: ExecEnv,
  label: string,
  startedAt: number,
): Promise<NodeOutcome> {
  const items = await env.exprs.evaluate(node.items, input.decodedValue, `node ${label} items`);
  if (!Array.isArray(items)) {
    throw new AppError(
      'FUNCTION_FAILED',
      `node ${label}: items expression ${JSON.stringify(node.items)} gave ${typeof items}, expected an array`,
      {
        retryable: false,
      },
    );
  }
  const runItem = async (i: number): Promise<{ output: unknown; cold: boolean }> => {
    const r = await runLocalDag(node.body, Val.fromValue(items[i]), env, `${label}[${i}]`);
    return { output: r.output.decodedValue, cold: r.cold };
  };
  let shardPlan: ShardPlanRecord | undefined;
  if (node.shard !== undefined) {
    const sharded = await runShardedForeach(node, items, env, label, runItem);
    shardPlan = sharded.plan;
    if (sharded.outputs !== null)
      return {
        output: Val.fromValue(sharded.outputs),
        items: items.length,
        attempts: 1,
        cold: sharded.cold,
        queueMs: 0,
        startedAt,
        shardPlan,
      };
  }
  const results: unknown[] = new Array<unknown>(items.length);
  let next = 0;
  let cold = false;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      const r = await runItem(i);
      results[i] = r.output;
      cold ||= r.cold;
    }
  };
  await Promise.all(Array.from({ length: Math.min(node.concurrency, items.length) }, worker));
  if (shardPlan !== undefined) {
    shardPlan.actualMs = env.now() - startedAt;
    shardPlan.shards = [{ shard: 0, worker: env.workerId, items: items.length, batches: 1 }];
  }
  return {
    ...(shardPlan === undefined ? {} : { shardPlan }),
    output: Val.fromValue(results),
    items: items.length,
    attempts: 1,
    cold,
    queueMs: 0,
    startedAt,
  };
}

interface LocalResult {
  arrival: Arrival;
  branch?: number;
}

const ORDER = new WeakMap<WorkflowDag, { order: NodeId[]; parents: Map<NodeId, DagEdge[]> }>();

function plan(dag: WorkflowDag): { order: NodeId[]; parents: Map<NodeId, DagEdge[]> } {
  let p = ORDER.get(dag);
  if (!p) {
    const topo = topologicalOrder(dag.nodes, dag.edges);
    if (!topo.order) throw new AppError('WORKFLOW_INVALID', 'foreach body has a cycle');
    const parents = new Map<NodeId, DagEdge[]>();
    for (const e of dag.edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e]);
    p = { order: topo.order, parents };
    ORDER.set(dag, p);
  }
  return p;
}

/** Runs a whole DAG on this worker with the values in memory (foreach bodies). */
export async function runLocalDag(
  dag: WorkflowDag,
  input: Val,
  env: ExecEnv,
  prefix: string,
): Promise<{ output: Val; cold: boolean }> {
  const { order, parents } = plan(dag);
  const nodes = new Map(dag.nodes.map((n) => [n.id, n]));
  const results = new Map<NodeId, Promise<LocalResult>>();
  let cold = false;
  for (const id of order) {
    const node = nodes.get(id)!;
    const incoming = parents.get(id) ?? [];
    results.set(
      id,
      (async (): Promise<LocalResult> => {
        const arrived = new Map<NodeId, Arrival>();
        for (const e of incoming) {
          const r = await results.get(e.from)!;
          const skip = r.arrival.skip || (e.branch !== undefined && e.branch !== r.branch);
          arrived.set(e.from, skip ? { skip: true } : r.arrival);
        }
        if (incoming.length > 0 && [...arrived.values()].every((a) => a.skip))
          return { arrival: { skip: true } };
        const value =
          incoming.length === 0 && node.input.kind === 'input'
            ? input
            : Val.fromValue(assemble(node.input, (n) => arrived.get(n), input.decodedValue));
        const label = `${prefix}/${id}`;
        const readyAt = env.now();
        try {
          const out = await executeNode(node, value, env, label);
          cold ||= out.cold;
          env.onStep(stepOf(label, node, env, readyAt, out));
          return {
            arrival: { skip: false, value: out.output.decodedValue },
            ...(out.branch === undefined ? {} : { branch: out.branch }),
          };
        } catch (err) {
          env.onStep({
            ...baseStep(label, node.kind, env.workerId, readyAt, env.now()),
            status: 'failed',
            error: AppError.from(err).toWire(),
          });
          throw err;
        }
      })(),
    );
  }
  // Surface the first failure rather than an unhandled rejection of a later node.
  const settled = await Promise.allSettled(results.values());
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  const finals = new Map<NodeId, Arrival>();
  for (const [id, p] of results) finals.set(id, (await p).arrival);
  return {
    output: Val.fromValue(assemble(dag.output, (n) => finals.get(n), input.decodedValue)),
    cold,
  };
}

/** A step with nothing measured yet: what skipped and failed nodes report. */
export function baseStep(
  label: string,
  kind: DagNode['kind'],
  workerId: string,
  readyAt: number,
  now: number,
): StepRecord {
  return {
    node: label,
    worker: workerId,
    status: 'succeeded',
    kind,
    attempts: 0,
    readyAt,
    startedAt: readyAt,
    finishedAt: now,
    queueMs: 0,
    cold: false,
    inputBytes: 0,
    outputBytes: 0,
    tier: 'none',
  };
}

export function stepOf(
  label: string,
  node: DagNode,
  env: ExecEnv,
  readyAt: number,
  out: NodeOutcome,
): StepRecord {
  const step: StepRecord = {
    ...baseStep(label, node.kind, env.workerId, readyAt, env.now()),
    attempts: out.attempts,
    startedAt: out.startedAt,
    queueMs: out.queueMs,
    cold: out.cold,
    inputBytes: out.inputBytes ?? 0,
    outputBytes: out.output.sizeBytes,
  };
  if (out.items !== undefined) step.items = out.items;
  if (out.allocation) step.allocation = out.allocation;
  if (out.harvest) step.harvest = out.harvest;
  if (out.peakMemoryMb !== undefined) step.peakMemoryMb = out.peakMemoryMb;
  if (out.peakCpuCores !== undefined) step.peakCpuCores = out.peakCpuCores;
  if (out.cpuTimeMs !== undefined) step.cpuTimeMs = out.cpuTimeMs;
  if (out.throttledMs !== undefined) step.throttledMs = out.throttledMs;
  if (out.pressureMs !== undefined) step.pressureMs = out.pressureMs;
  if (typeof out.safeguardAtMs === 'number') step.safeguardAtMs = out.safeguardAtMs;
  if (out.isolation !== undefined) step.isolation = out.isolation;
  if (out.runMs !== undefined) step.runMs = out.runMs;
  if (out.prepared === true) step.prepared = true;
  if (out.initMs !== undefined) step.initMs = out.initMs;
  if (out.shardPlan !== undefined) step.shardPlan = out.shardPlan;
  if (out.keyed !== undefined) step.keyed = out.keyed;
  return step;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Whether `a` is smaller than `b` in CPU or memory. */
function below(
  a: { cpu: number; memoryMb: number },
  b: { cpu: number; memoryMb: number },
): boolean {
  return a.cpu < b.cpu || a.memoryMb < b.memoryMb;
}
