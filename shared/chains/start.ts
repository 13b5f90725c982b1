/**
 * What an invocation's start plans for prepares ahead, wherever it starts (docs/guides/chains.md):
 * on the master, from its own chain model, and on an ingress worker, from a `ChainKit` — the part
 * of the master's model and budget prices that one workflow's plans read, fetched off the path.
 * Pure: the model, the DAG, who owns each node, where likely successors would run and the prices
 * go in; the prepare messages per worker URL and the record's `prewarm` part come out.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { WorkflowDag } from '../dag/types.js';
import type { InvocationPrewarm } from '../invocation/record.js';
import type { Placement } from '../schema/wire.js';
import {
  CHAIN_MODEL_FORMAT,
  CHAIN_MODEL_FORMAT_VERSION,
  contextBucket,
  type ChainModel,
} from './model.js';
import { planPrepares, type PlannedWorkflow, type PrepareAction } from './planner.js';
import { branchProbabilities, runProbabilities, startOffsetMs } from './predict.js';

/** One `prepare` message: warm `function` of `workflow` for `node`, `atMs` after `startedAt`. */
export const PrepareMessage = Type.Object({
  workflow: Type.String({ maxLength: 200 }),
  version: Type.Integer({ minimum: 1 }),
  function: Type.String({ maxLength: 200 }),
  node: Type.String({ maxLength: 400 }),
  /** Epoch ms of the invocation start `atMs` counts from (absent: when the message arrived). */
  startedAt: Type.Optional(Type.Number()),
  atMs: Type.Number({ minimum: 0 }),
  /**
   * When the node is predicted to start, ms after `startedAt` (absent: `atMs`): the worker starts
   * waiting prepares earliest-needed first.
   */
  needMs: Type.Optional(Type.Number({ minimum: 0 })),
  ttlMs: Type.Number({ minimum: 1 }),
  /** Sandboxes to have ready for it (a foreach body's function: its predicted width); default 1. */
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
});
export type PrepareMessage = Static<typeof PrepareMessage>;

export const PrepareBatch = Type.Object({
  prepares: Type.Array(PrepareMessage, { maxItems: 4096 }),
});

/**
 * What an ingress plans one workflow's starts with: the master's model restricted to that
 * workflow and the workflows that follow it, and the budget controllers' prices
 * (`GET /v1/internal/chains/:workflow`).
 */
export interface ChainKit {
  workflow: string;
  model: ChainModel;
  /** ms saved per MB·s held, by workflow (this one and its successors). */
  prices: Record<string, number>;
  /** Epoch ms when the master made it. */
  at: number;
}

/** The kit for `workflow`: its part of `model` and its successors' parts, with their prices. */
export function chainKit(
  model: ChainModel,
  workflow: string,
  price: (workflow: string) => number,
  now: number,
): ChainKit {
  const next = model.successors[workflow];
  const names = [workflow, ...Object.keys(next?.to ?? {})];
  const workflows: ChainModel['workflows'] = {};
  const prices: Record<string, number> = {};
  for (const w of names) {
    const part = model.workflows[w];
    if (part !== undefined) workflows[w] = part;
    prices[w] = price(w);
  }
  return {
    workflow,
    model: {
      format: CHAIN_MODEL_FORMAT,
      formatVersion: CHAIN_MODEL_FORMAT_VERSION,
      params: model.params,
      workflows,
      successors: next === undefined ? {} : { [workflow]: next },
      recent: [],
    },
    prices,
    at: now,
  };
}

/** One workflow as it runs (or would run now): its DAG, version and placement. */
export interface PlacedRun {
  dag: WorkflowDag;
  version: number;
  placement: Placement;
  /** Node id → group index (the partition's `groupOf`). */
  groupOf: Readonly<Record<string, number>>;
}

export interface StartPlan {
  actions: PrepareAction[];
  /** The messages to send, by worker URL. */
  messages: Map<string, PrepareMessage[]>;
  /** The record's `prewarm` part; undefined when nothing was planned. */
  prewarm?: InvocationPrewarm;
}

/**
 * The prepares for an invocation of `run` starting at `startedAt`: its own by its `prewarm` mode,
 * and its likely successors' first nodes (`successors`: where each would run now) where their
 * own mode is predictive.
 */
export function planStart(input: {
  model: ChainModel;
  price: (workflow: string) => number;
  run: PlacedRun;
  successors: readonly PlacedRun[];
  inputBytes: number;
  startedAt: number;
  nowMs: number;
}): StartPlan {
  const { model, run } = input;
  const mode = run.dag.prewarm?.mode ?? 'off';
  const successors: Record<string, PlannedWorkflow> = {};
  const runs = new Map<string, PlacedRun>([[run.dag.name, run]]);
  for (const s of input.successors) {
    if (s.dag.name === run.dag.name || s.dag.prewarm?.mode !== 'predictive') continue;
    successors[s.dag.name] = { dag: s.dag, owners: ownersOf(s) };
    runs.set(s.dag.name, s);
  }
  if (mode === 'off' && Object.keys(successors).length === 0)
    return { actions: [], messages: new Map() };
  const actions = planPrepares({
    dag: run.dag,
    owners: ownersOf(run),
    model,
    mode,
    warm: () => 0,
    price: input.price(run.dag.name),
    successorPrice: input.price,
    nowMs: input.nowMs,
    context: contextBucket(input.inputBytes),
    successors,
  });
  const messages = new Map<string, PrepareMessage[]>();
  for (const a of actions) {
    const r = runs.get(a.workflow);
    const url = r?.placement.workers[a.worker];
    if (r === undefined || url === undefined) continue;
    const list = messages.get(url) ?? [];
    list.push({
      workflow: a.workflow,
      version: r.version,
      function: a.function,
      node: a.node,
      startedAt: input.startedAt,
      atMs: a.atMs,
      needMs: a.needMs,
      ttlMs: Math.max(1, Math.round(a.ttlMs ?? 600_000)),
      ...(a.count === undefined ? {} : { count: a.count }),
    });
    messages.set(url, list);
  }
  return {
    actions,
    messages,
    prewarm: {
      mode,
      price: input.price(run.dag.name),
      ...predictionsOf(model, run.dag, input.inputBytes),
      prepares: actions.map((a) => ({
        workflow: a.workflow,
        node: a.node,
        worker: a.worker,
        atMs: Math.round(a.atMs),
        reason: a.reason,
        probability: round3(a.probability),
        ...(a.count === undefined ? {} : { count: a.count }),
      })),
    },
  };
}

/**
 * What the model predicts for an invocation of `dag` (recorded on it as its timeline's `prewarm`
 * part): per task node P(runs) and the median start offset, per switch the branch probabilities.
 */
export function predictionsOf(
  model: ChainModel,
  dag: WorkflowDag,
  inputBytes: number,
): Pick<InvocationPrewarm, 'nodes' | 'switches'> {
  const context = contextBucket(inputBytes);
  const runP = runProbabilities(model, dag, context);
  const nodes: InvocationPrewarm['nodes'] = [];
  const switches: InvocationPrewarm['switches'] = [];
  for (const n of dag.nodes) {
    if (n.kind === 'switch') {
      const heads: Record<string, string[]> = {};
      for (const e of dag.edges)
        if (e.from === n.id && e.branch !== undefined) (heads[String(e.branch)] ??= []).push(e.to);
      const branches = branchProbabilities(model, dag, n.id, context).probabilities;
      for (const b of Object.keys(branches)) branches[b] = round3(branches[b]!);
      switches.push({ node: n.id, branches, heads });
    }
    if (n.kind !== 'task') continue;
    const startMs = startOffsetMs(model, dag.name, n.id, 0.5);
    nodes.push({
      node: n.id,
      probability: round3(runP.get(n.id) ?? 1),
      startMs: startMs === null ? null : Math.round(startMs),
    });
  }
  return { nodes, switches };
}

/** Node id → the worker that owns it under the run's placement. */
function ownersOf(r: PlacedRun): Record<string, string> {
  const owners: Record<string, string> = {};
  for (const [node, group] of Object.entries(r.groupOf)) {
    const worker = r.placement.groups[group];
    if (worker !== undefined) owners[node] = worker;
  }
  return owners;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
