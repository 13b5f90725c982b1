/** An invocation as the master keeps it, and its public shape (docs/design.md §9). */
import type { WireError } from '../errors.js';
import type {
  Durability,
  InvocationContext,
  Placement,
  StepRecord,
  StoredRef,
} from '../schema/wire.js';
import type { InvocationHarvest } from '../harvest/types.js';
import type { InvocationId } from '../ids.js';
import { splitQualified } from '../tenancy.js';
import type { CompositionDecision } from '../compose/types.js';

export type InvocationStatus = 'running' | 'succeeded' | 'failed' | 'timed_out' | 'cancelled';

export interface InvocationRecord {
  id: InvocationId;
  workflow: string;
  version: number;
  status: InvocationStatus;
  startedAt: number;
  finishedAt?: number;
  deadline: number;
  placement: Placement;
  /** What every worker of the invocation is told (input, deadline, harvesting, durability). */
  ctx: InvocationContext;
  durability: Durability;
  /** The caller's idempotency key, when it gave one. */
  idempotencyKey?: string;
  /** How many times groups were re-placed after a worker was lost. */
  recoveries: number;
  /** The ingress worker whose death made the master adopt this invocation (its coordinator). */
  adoptedFrom?: string;
  /** A recovery in progress (they run one at a time per invocation). */
  recovering?: Promise<void>;
  /** Epoch ms of the last report or recovery: the reconcile sweep looks at quiet ones. */
  lastActivityAt: number;
  pendingSinks: Set<string>;
  sinkOutputs: Map<string, StoredRef | null>;
  steps: StepRecord[];
  stepsDropped: number;
  /** `node|worker|startedAt` of every step kept: a step delivered twice is kept once. */
  stepKeys: Set<string>;
  /** Top-level nodes with a step so far (the timeline is complete when all have one). */
  stepped: Set<string>;
  /** Set once every sink has reported; the output is assembled when the timeline is complete too. */
  sinksDone: boolean;
  completeTimer?: NodeJS.Timeout;
  /** An ingress worker has sent the ended record to the master. */
  shipped?: boolean;
  /** The output is being assembled. */
  completing?: boolean;
  output?: unknown;
  error?: WireError;
  /** Resolves when the invocation leaves `running`. */
  done: Promise<void>;
  settle: () => void;
  timer?: NodeJS.Timeout;
  /** Key of the input object the master serves, when the input was too large to inline. */
  inputKey?: string;
  /** Harvesting's decision, made at start (absent when harvesting is off). */
  harvest?: InvocationHarvest;
  /** The caller's sub-tenant (`subTenant` in the request), when it gave one. */
  subTenant?: string;
  /** Composition (docs/guides/composition.md): the variant that runs and why. */
  composition?: RecordComposition;
  /** The caller's session (`session` in the request): chains learn successors within it. */
  session?: string;
  /** Adaptive chains (docs/guides/chains.md): what was predicted at start and prepared. */
  prewarm?: InvocationPrewarm;
}

/** What the chain model predicted at an invocation's start, and the prepares sent for it. */
export interface InvocationPrewarm {
  /** This workflow's mode (`off` when only a successor's prepares were sent). */
  mode: 'off' | 'eager' | 'predictive';
  /** The budget controller's price then (ms saved per MB·s). */
  price: number;
  /** Per task node: P(it runs) and its predicted start (median offset, null before any run). */
  nodes: { node: string; probability: number; startMs: number | null }[];
  /** Per switch: the branch probabilities it was planned with; `heads`: the nodes each leads to. */
  switches: { node: string; branches: Record<string, number>; heads: Record<string, string[]> }[];
  /** The prepares sent, this workflow's and its likely successors'. */
  prepares: {
    workflow: string;
    node: string;
    worker: string;
    atMs: number;
    reason: string;
    probability: number;
    /** Sandboxes it asked for (a foreach body's function); absent: 1. */
    count?: number;
  }[];
}

/** The public decision plus the variant's index (which deployment `<name>~<i>` runs). */
export interface RecordComposition extends CompositionDecision {
  index: number;
  /** Shadow mode: the variant the model would have run. */
  wouldRun?: string;
}

/** The composition as answers show it (the index is internal). */
export function compositionView(c: RecordComposition): Record<string, unknown> {
  const { index: _index, ...rest } = c;
  return rest;
}

/** Largest number of steps kept per invocation; the rest are counted, not kept. */
export const MAX_STEPS = 20_000;

/** What both the list rows and the full view of an invocation start with. */
export interface InvocationHead {
  invocationId: InvocationId;
  workflow: string;
  version: number;
  tenant: string;
  subTenant?: string;
  status: InvocationStatus;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number;
}

export function invocationHead(r: InvocationRecord, now: number = Date.now()): InvocationHead {
  const { tenant, name } = splitQualified(r.workflow);
  return {
    invocationId: r.id,
    workflow: name,
    version: r.version,
    tenant,
    ...(r.ctx.subTenant === undefined ? {} : { subTenant: r.ctx.subTenant }),
    status: r.status,
    startedAt: new Date(r.startedAt).toISOString(),
    finishedAt: r.finishedAt === undefined ? null : new Date(r.finishedAt).toISOString(),
    durationMs: (r.finishedAt ?? now) - r.startedAt,
  };
}

export function publicView(r: InvocationRecord, withSteps = true): Record<string, unknown> {
  const view: Record<string, unknown> = { ...invocationHead(r) };
  if (r.composition) view['composition'] = compositionView(r.composition);
  if (r.status === 'succeeded') view['output'] = r.output ?? null;
  if (r.error) view['error'] = r.error;
  view['durability'] = {
    mode: r.durability,
    recoveries: r.recoveries,
    ...(r.adoptedFrom === undefined ? {} : { adoptedFrom: r.adoptedFrom }),
  };
  if (withSteps) {
    view['steps'] = [...r.steps].sort(
      (a, b) => a.readyAt - b.readyAt || (a.node < b.node ? -1 : 1),
    );
    if (r.stepsDropped > 0) view['stepsDropped'] = r.stepsDropped;
    if (r.harvest) view['harvest'] = harvestView(r.harvest, r.steps);
    if (r.prewarm) view['prewarm'] = prewarmView(r.prewarm, r.steps, r.startedAt);
  }
  return view;
}

/**
 * The timeline's harvest part: per task node, what the user allocated, what the models
 * predicted (raw demand and its grid allocation), what was applied and why, and the peaks the
 * worker measured (null until the node's step arrives, or without cgroup measurements).
 */
function harvestView(h: InvocationHarvest, steps: readonly StepRecord[]): Record<string, unknown> {
  const byNode = new Map<string, StepRecord>();
  for (const s of steps) if (!byNode.has(s.node)) byNode.set(s.node, s);
  return {
    mode: h.mode,
    ...(h.subTenant === undefined ? {} : { subTenant: h.subTenant }),
    modelVersion: h.modelVersion,
    dagInputBytes: h.dagInputBytes,
    max: h.max,
    nodes: h.nodes.map((n) => {
      const s = byNode.get(n.node);
      const measured =
        s && (typeof s.peakCpuCores === 'number' || typeof s.peakMemoryMb === 'number')
          ? { cpuCores: s.peakCpuCores ?? null, memoryMb: s.peakMemoryMb ?? null }
          : null;
      return { ...n, measured, ...(s?.runMs !== undefined ? { runMs: s.runMs } : {}) };
    }),
  };
}

/**
 * The timeline's prewarm part (docs/guides/chains.md): per task node what was predicted at
 * start (P(runs), median start offset) beside what happened (whether it ran, its start offset,
 * cold or warm, whether a prepared sandbox took it); per switch the predicted branch
 * probabilities beside the branch taken; and the prepares sent. `actual` is null until the
 * node's step arrives (or for a node that did not run).
 */
export function prewarmView(
  p: InvocationPrewarm,
  steps: readonly StepRecord[],
  startedAt: number,
): Record<string, unknown> {
  const byNode = new Map<string, StepRecord>();
  for (const s of steps) if (!byNode.has(s.node)) byNode.set(s.node, s);
  const ran = (id: string): boolean => {
    const s = byNode.get(id);
    return s !== undefined && s.status !== 'skipped';
  };
  return {
    mode: p.mode,
    price: p.price,
    nodes: p.nodes.map((n) => {
      const s = byNode.get(n.node);
      const actual =
        s && s.status !== 'skipped'
          ? {
              startMs: Math.max(0, Math.round(s.startedAt - startedAt)),
              cold: s.cold,
              prepared: s.prepared === true,
            }
          : null;
      return {
        node: n.node,
        predicted: { probability: n.probability, startMs: n.startMs },
        ran: s === undefined ? null : s.status !== 'skipped',
        actual,
      };
    }),
    switches: p.switches.map((w) => {
      const heads = w.heads ?? {}; // a record stored without them shows no taken branch
      const taken = Object.keys(heads).find((b) => heads[b]?.some(ran) === true) ?? null;
      return { node: w.node, predicted: w.branches, taken };
    }),
    prepares: p.prepares,
  };
}

/** Buffers inside an output become `{ "$base64": "..." }` in JSON answers. */
export function toJsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array)
    return {
      $base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'),
    };
  if (Array.isArray(value)) return value.map(toJsonSafe);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonSafe(v);
    return out;
  }
  return value;
}
