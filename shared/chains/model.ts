/**
 * The chain model (issue 15, item 1): what a finished invocation's timeline teaches about the
 * next one. Per workflow: per switch node and context bucket, how often each branch was taken;
 * per node, the distribution of its start offset from the invocation start; per function, its
 * measured cold-start time and memory. Across workflows: the successor relation (B started
 * within Δ after A, matched by the caller's session id when both carry one, else by time
 * adjacency), from which `predict.ts` derives the chain score.
 *
 * Pure: `observe(model, dag, invocation)` returns a new model and touches no I/O; the caller
 * (the master, off the request path) loads and stores it. Everything forgets at the same rate:
 * each observation of a thing decays what was known of it by 2^(−1/halfLife), so after a branch
 * shift the new branch dominates within a few half-lives.
 *
 * Size is bounded whatever the traffic: digests hold ~`digestSize` centroids, a switch keeps at
 * most `maxBuckets` context buckets (the lightest is dropped, never `*`), a workflow at most
 * `maxSuccessors` successors, and the list of recent invocations for adjacency `recentLimit`.
 * The JSON document is versioned (`CHAIN_MODEL_FORMAT`, `CHAIN_MODEL_FORMAT_VERSION`).
 */
import { AppError } from '../errors.js';
import type { WorkflowDag } from '../dag/types.js';
import {
  decayFactor,
  digestAdd,
  digestDecay,
  digestMerge,
  meanAdd,
  meanMerge,
  newDigest,
  newMean,
  DIGEST_SIZE,
  type Digest,
  type Mean,
} from './digest.js';

export const CHAIN_MODEL_FORMAT = 'faasflow-chains';
export const CHAIN_MODEL_FORMAT_VERSION = 1;

/** The bucket every observation also lands in: the fallback when a context has few samples. */
export const ALL_CONTEXTS = '*';

export interface ChainParams {
  /** Observations after which what was learned counts half. Default 50. */
  halfLife: number;
  /** Δ: a workflow started within this many ms after another may be its successor. Default 60 s. */
  successorWindowMs: number;
  /** Context buckets kept per switch (plus `*`). Default 16. */
  maxBuckets: number;
  /** Successors kept per workflow (the lightest is dropped). Default 16. */
  maxSuccessors: number;
  /** Recent invocations kept for successor matching. Default 64. */
  recentLimit: number;
  /** Centroids per digest. Default 24. */
  digestSize: number;
}

export const CHAIN_DEFAULTS: ChainParams = {
  halfLife: 50,
  successorWindowMs: 60_000,
  maxBuckets: 16,
  maxSuccessors: 16,
  recentLimit: 64,
  digestSize: DIGEST_SIZE,
};

export interface NodeChains {
  /** Start offset from the invocation start, ms, of the runs of this node. */
  startMs: Digest;
  /** Duration of its warm runs (queue excluded), ms. */
  warmMs: Mean;
  /** Foreach nodes: how many items ran (absent for tasks, and in models before it was kept). */
  width?: Mean;
}

export interface FunctionChains {
  /** Duration of warm runs, ms (queue excluded). */
  warmMs: Mean;
  /** Duration of cold runs, ms (queue excluded): cold start ≈ this − warmMs. */
  coldRunMs: Mean;
  /** Sandbox start time when the worker measured it (`initMs` on the step). */
  initMs: Mean;
  /**
   * The distribution of those start times (absent in models from before it was kept): a prepare
   * is timed by its high quantile, since a start that runs late is a cold start after all.
   */
  initQ?: Digest;
  /** Peak memory, else the allocation, MB. */
  memoryMb: Mean;
  runs: number;
  colds: number;
}

export interface WorkflowChains {
  /** Decayed count of invocations observed. */
  seen: number;
  /** Invocations ever observed. */
  observed: number;
  lastAt: number;
  /** Switch node → context bucket → branch index (as a string) → decayed count. */
  switches: Record<string, Record<string, Record<string, number>>>;
  nodes: Record<string, NodeChains>;
  functions: Record<string, FunctionChains>;
}

export interface SuccessorStats {
  /** Decayed count of invocations of the predecessor this workflow followed. */
  weight: number;
  /** Of them, matched by session id. */
  bySession: number;
  lastAt: number;
  /** Start of the successor − start of the predecessor, ms. */
  gapMs: Digest;
}

export interface SuccessorsOf {
  /** Decayed count of the predecessor's invocations (the denominator of P(B | A)). */
  seen: number;
  to: Record<string, SuccessorStats>;
}

export interface RecentInvocation {
  workflow: string;
  startedAt: number;
  session?: string;
  /** Successors already counted for this invocation (each at most once). */
  followedBy: string[];
  /** Set once this invocation was counted as some predecessor's successor (at most once). */
  preceded?: boolean;
}

export interface ChainModel {
  format: typeof CHAIN_MODEL_FORMAT;
  formatVersion: typeof CHAIN_MODEL_FORMAT_VERSION;
  params: ChainParams;
  workflows: Record<string, WorkflowChains>;
  successors: Record<string, SuccessorsOf>;
  /** Sorted by `startedAt`. */
  recent: RecentInvocation[];
}

/** What `observe` reads of a step: a `StepRecord` of the timeline fits, `initMs` is optional. */
export interface ObservedStep {
  node: string;
  status: 'succeeded' | 'skipped' | 'failed';
  startedAt: number;
  finishedAt: number;
  queueMs: number;
  cold: boolean;
  /** Sandbox start time, ms, when the worker measured it. */
  initMs?: number;
  peakMemoryMb?: number | null;
  allocation?: { memoryMb: number };
  /** Foreach: how many items ran. */
  items?: number;
}

/** What `observe` reads of a finished invocation: an `InvocationRecord` fits. */
export interface ObservedInvocation {
  workflow: string;
  startedAt: number;
  steps: readonly ObservedStep[];
  /** A session id the caller passed: successors are matched within a session when present. */
  session?: string;
  /** The context bucket (see `contextBucket`); default `*`. */
  context?: string;
}

export function newChainModel(params: Partial<ChainParams> = {}): ChainModel {
  return {
    format: CHAIN_MODEL_FORMAT,
    formatVersion: CHAIN_MODEL_FORMAT_VERSION,
    params: { ...CHAIN_DEFAULTS, ...params },
    workflows: {},
    successors: {},
    recent: [],
  };
}

/** A context bucket from the invocation's input size: powers of 4 bytes (`s0`, `s1`, …). */
export function contextBucket(inputBytes: number): string {
  const b = inputBytes > 0 ? Math.floor(Math.log(inputBytes) / Math.log(4)) : 0;
  return `s${Math.max(0, b)}`;
}

function newWorkflow(): WorkflowChains {
  return { seen: 0, observed: 0, lastAt: 0, switches: {}, nodes: {}, functions: {} };
}

function newFunction(): FunctionChains {
  return {
    warmMs: newMean(),
    coldRunMs: newMean(),
    initMs: newMean(),
    memoryMb: newMean(),
    runs: 0,
    colds: 0,
  };
}

/**
 * Learns from one finished invocation of `dag`: returns the new model, `model` is unchanged.
 * Steps of nodes the DAG does not have at top level (foreach bodies) are ignored.
 */
export function observe(model: ChainModel, dag: WorkflowDag, inv: ObservedInvocation): ChainModel {
  const m = structuredClone(model);
  const p = m.params;
  const d = decayFactor(p.halfLife);
  const wf = (m.workflows[inv.workflow] ??= newWorkflow());
  wf.seen = wf.seen * d + 1;
  wf.observed += 1;
  wf.lastAt = Math.max(wf.lastAt, inv.startedAt);
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  const stepOf = new Map<string, ObservedStep>();
  for (const s of inv.steps) if (byId.has(s.node) && !stepOf.has(s.node)) stepOf.set(s.node, s);
  const buckets = [...new Set([ALL_CONTEXTS, inv.context ?? ALL_CONTEXTS])];

  for (const [id, s] of stepOf) {
    const node = byId.get(id)!;
    if (s.status === 'skipped') continue;
    if (node.kind === 'switch') {
      const taken = takenBranch(dag, id, stepOf);
      if (taken !== null) observeBranch(wf, id, buckets, taken, d, p.maxBuckets);
    }
    if (node.kind === 'foreach') {
      // How wide it runs, and when it starts: its body's sandboxes are prepared for that.
      const n = (wf.nodes[id] ??= { startMs: newDigest(p.digestSize), warmMs: newMean() });
      digestDecay(n.startMs, d);
      digestAdd(n.startMs, Math.max(0, s.startedAt - inv.startedAt));
      if (typeof s.items === 'number') meanAdd((n.width ??= newMean()), s.items, d);
      continue;
    }
    if (node.kind !== 'task') continue;
    const runMs = Math.max(0, s.finishedAt - s.startedAt - s.queueMs);
    const n = (wf.nodes[id] ??= { startMs: newDigest(p.digestSize), warmMs: newMean() });
    digestDecay(n.startMs, d);
    digestAdd(n.startMs, Math.max(0, s.startedAt - inv.startedAt));
    const f = (wf.functions[node.fn] ??= newFunction());
    f.runs += 1;
    if (s.cold) {
      f.colds += 1;
      if (s.initMs !== undefined) {
        meanAdd(f.initMs, s.initMs, d);
        const q = (f.initQ ??= newDigest(p.digestSize));
        digestDecay(q, d);
        digestAdd(q, s.initMs);
      }
      meanAdd(f.coldRunMs, runMs, d);
    } else {
      meanAdd(f.warmMs, runMs, d);
      meanAdd(n.warmMs, runMs, d);
    }
    const mem = s.peakMemoryMb ?? s.allocation?.memoryMb;
    if (typeof mem === 'number') meanAdd(f.memoryMb, mem, d);
  }
  observeSuccession(m, inv, d);
  return m;
}

/** The branch of switch `id` whose edge led to a node that ran; null when none did. */
function takenBranch(
  dag: WorkflowDag,
  id: string,
  stepOf: ReadonlyMap<string, ObservedStep>,
): number | null {
  for (const e of dag.edges) {
    if (e.from !== id || e.branch === undefined) continue;
    const child = stepOf.get(e.to);
    if (child && child.status !== 'skipped') return e.branch;
  }
  return null;
}

function observeBranch(
  wf: WorkflowChains,
  id: string,
  buckets: readonly string[],
  branch: number,
  d: number,
  maxBuckets: number,
): void {
  const sw = (wf.switches[id] ??= {});
  for (const b of buckets) {
    const counts = (sw[b] ??= {});
    for (const k of Object.keys(counts)) counts[k] = counts[k]! * d;
    counts[String(branch)] = (counts[String(branch)] ?? 0) + 1;
  }
  const keys = Object.keys(sw).filter((k) => k !== ALL_CONTEXTS);
  if (keys.length > maxBuckets) {
    const total = (k: string): number => Object.values(sw[k]!).reduce((a, c) => a + c, 0);
    const lightest = keys.sort((a, b) => total(a) - total(b) || (a < b ? -1 : 1))[0]!;
    delete sw[lightest];
  }
}

/**
 * Successor matching. The invocation is the successor of the nearest earlier recent one within Δ
 * (of the same session when it has one; time adjacency among session-less ones otherwise), and
 * the predecessor of the nearest later one likewise (records are observed as they finish, so a
 * successor may be observed first). A workflow is never its own successor: arrivals of one
 * workflow are its load, not a chain.
 */
function observeSuccession(m: ChainModel, inv: ObservedInvocation, d: number): void {
  const p = m.params;
  const from = (m.successors[inv.workflow] ??= { seen: 0, to: {} });
  from.seen = from.seen * d + 1;
  for (const s of Object.values(from.to)) {
    s.weight *= d;
    s.bySession *= d;
    digestDecay(s.gapMs, d);
  }
  const entry: RecentInvocation = {
    workflow: inv.workflow,
    startedAt: inv.startedAt,
    ...(inv.session !== undefined ? { session: inv.session } : {}),
    followedBy: [],
  };
  const matches = (r: RecentInvocation): boolean =>
    r.workflow !== inv.workflow && (r.session ?? null) === (inv.session ?? null);
  let before: RecentInvocation | undefined;
  let after: RecentInvocation | undefined;
  for (const r of m.recent) {
    if (!matches(r)) continue;
    const gap = inv.startedAt - r.startedAt;
    if (gap >= 0 && gap <= p.successorWindowMs && (!before || r.startedAt > before.startedAt))
      before = r;
    if (gap < 0 && -gap <= p.successorWindowMs && (!after || r.startedAt < after.startedAt))
      after = r;
  }
  if (before) link(m, before, entry);
  if (after) link(m, entry, after);
  m.recent.push(entry);
  m.recent.sort((a, b) => a.startedAt - b.startedAt);
  if (m.recent.length > p.recentLimit) m.recent.splice(0, m.recent.length - p.recentLimit);
}

function link(m: ChainModel, a: RecentInvocation, b: RecentInvocation): void {
  if (a.followedBy.includes(b.workflow) || b.preceded === true) return;
  a.followedBy.push(b.workflow);
  b.preceded = true;
  const from = (m.successors[a.workflow] ??= { seen: 1, to: {} });
  const s = (from.to[b.workflow] ??= {
    weight: 0,
    bySession: 0,
    lastAt: 0,
    gapMs: newDigest(m.params.digestSize),
  });
  s.weight = Math.min(from.seen, s.weight + 1);
  if (a.session !== undefined) s.bySession = Math.min(s.weight, s.bySession + 1);
  s.lastAt = Math.max(s.lastAt, b.startedAt);
  digestAdd(s.gapMs, b.startedAt - a.startedAt);
  const names = Object.keys(from.to);
  if (names.length > m.params.maxSuccessors) {
    const lightest = names
      .filter((n) => n !== b.workflow)
      .sort((x, y) => from.to[x]!.weight - from.to[y]!.weight || (x < y ? -1 : 1))[0]!;
    delete from.to[lightest];
  }
}

/**
 * Two models learned apart (e.g. before and after a master failover, or per shard) as one:
 * counts and weights add, digests and means merge, the recent lists interleave. `a`'s params win.
 */
export function mergeChainModels(a: ChainModel, b: ChainModel): ChainModel {
  const out = structuredClone(a);
  for (const [name, wb] of Object.entries(b.workflows)) {
    const wa = out.workflows[name];
    if (!wa) {
      out.workflows[name] = structuredClone(wb);
      continue;
    }
    wa.seen += wb.seen;
    wa.observed += wb.observed;
    wa.lastAt = Math.max(wa.lastAt, wb.lastAt);
    for (const [sw, buckets] of Object.entries(wb.switches)) {
      const into = (wa.switches[sw] ??= {});
      for (const [bk, counts] of Object.entries(buckets)) {
        const c = (into[bk] ??= {});
        for (const [br, w] of Object.entries(counts)) c[br] = (c[br] ?? 0) + w;
      }
    }
    for (const [id, nb] of Object.entries(wb.nodes)) {
      const na = wa.nodes[id];
      const width = na?.width && nb.width ? meanMerge(na.width, nb.width) : (na?.width ?? nb.width);
      wa.nodes[id] = na
        ? {
            startMs: digestMerge(na.startMs, nb.startMs),
            warmMs: meanMerge(na.warmMs, nb.warmMs),
            ...(width ? { width: structuredClone(width) } : {}),
          }
        : structuredClone(nb);
    }
    for (const [fn, fb] of Object.entries(wb.functions)) {
      const fa = wa.functions[fn];
      wa.functions[fn] = fa
        ? {
            warmMs: meanMerge(fa.warmMs, fb.warmMs),
            coldRunMs: meanMerge(fa.coldRunMs, fb.coldRunMs),
            initMs: meanMerge(fa.initMs, fb.initMs),
            ...mergedInitQ(fa.initQ, fb.initQ),
            memoryMb: meanMerge(fa.memoryMb, fb.memoryMb),
            runs: fa.runs + fb.runs,
            colds: fa.colds + fb.colds,
          }
        : structuredClone(fb);
    }
  }
  for (const [name, sb] of Object.entries(b.successors)) {
    const sa = (out.successors[name] ??= { seen: 0, to: {} });
    sa.seen += sb.seen;
    for (const [to, tb] of Object.entries(sb.to)) {
      const ta = sa.to[to];
      sa.to[to] = ta
        ? {
            weight: ta.weight + tb.weight,
            bySession: ta.bySession + tb.bySession,
            lastAt: Math.max(ta.lastAt, tb.lastAt),
            gapMs: digestMerge(ta.gapMs, tb.gapMs),
          }
        : structuredClone(tb);
    }
  }
  out.recent = [...out.recent, ...structuredClone(b.recent)]
    .sort((x, y) => x.startedAt - y.startedAt)
    .slice(-out.params.recentLimit);
  return out;
}

/** The versioned JSON document (fractions rounded to 6 significant digits: it stays small). */
export function chainModelToJson(model: ChainModel): string {
  return JSON.stringify(model, (_k, v: unknown) =>
    typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(6)) : v,
  );
}

/** Reads a stored document; a clear error when it is not one this version understands. */
export function parseChainModel(text: string): ChainModel {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new AppError('BAD_REQUEST', 'chain model: the stored document is not JSON', {
      cause: err,
    });
  }
  const o = doc as Partial<ChainModel> | null;
  if (typeof o !== 'object' || o === null || o.format !== CHAIN_MODEL_FORMAT)
    throw new AppError(
      'BAD_REQUEST',
      `chain model: format must be ${JSON.stringify(CHAIN_MODEL_FORMAT)}, got ${JSON.stringify(o?.format)}`,
    );
  if (o.formatVersion !== CHAIN_MODEL_FORMAT_VERSION)
    throw new AppError(
      'BAD_REQUEST',
      `chain model: formatVersion ${JSON.stringify(o.formatVersion)} is not supported; this build reads ${CHAIN_MODEL_FORMAT_VERSION}`,
    );
  if (
    typeof o.workflows !== 'object' ||
    typeof o.successors !== 'object' ||
    !Array.isArray(o.recent)
  )
    throw new AppError(
      'BAD_REQUEST',
      'chain model: workflows, successors (objects) and recent (array) are required',
    );
  return { ...(o as ChainModel), params: { ...CHAIN_DEFAULTS, ...o.params } };
}

function mergedInitQ(a: Digest | undefined, b: Digest | undefined): { initQ?: Digest } {
  if (a && b) return { initQ: digestMerge(a, b) };
  const one = a ?? b;
  return one ? { initQ: structuredClone(one) } : {};
}
