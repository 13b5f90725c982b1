/**
 * The worker's workflow engine: the per-invocation state table and the trigger rules (docs/design.md §4).
 *
 * - A trigger records one parent edge of one node: the *set* of arrived edges makes redelivery
 *   harmless. A node runs once all its parent edges have arrived; if every one is a skip, the node
 *   is skipped and sends skips on. Sources start from a `from: null` trigger.
 * - When a node finishes, its output goes to FaaStore once, with the count of local and remote
 *   consumers, and each child edge is triggered: locally by a direct call, remotely through the
 *   transport (batched per peer). Edges of a switch's untaken cases carry skips.
 * - Sinks, failures and every step are reported to the master; nothing waits on downstream work.
 * - State is plain data per invocation and is dropped on release/cancel or, as a safety net, a
 *   minute after the invocation's deadline.
 * - Harvesting: tasks run with the master's decisions (`ctx.harvest`); the stage tracker moves
 *   CPU between running siblings of a parallel stage on this worker (live rebalancing).
 * - Tracing: every node this worker runs becomes a span under the invocation's root span
 *   (`ctx.traceparent`, worker/engine/trace.ts), drawn from its step; nothing without one.
 * - Durability (`ctx.durability`, docs/durability.md): before a node's outcome leaves this worker
 *   (a child elsewhere, a sink) it is committed to the journal; the commit that won is what
 *   travels, and a newer placement the master made while re-placing a dead worker's groups comes
 *   back with the commit. An undeliverable trigger then fails nothing: the master's recovery
 *   sends it again from the journal.
 */
import { setMaxListeners } from 'node:events';
import { trace, type Tracer } from '@opentelemetry/api';
import { availableParallelism } from 'node:os';
import { assemble, type Arrival } from '../../shared/dag/template.js';
import { AppError } from '../../shared/errors.js';
import { crashPoint } from '../../shared/crash.js';
import type { Journal, NodeCommit } from '../../shared/journal.js';
import { journalTtlMs } from '../../shared/journal.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationId } from '../../shared/ids.js';
import { MAX_PIGGYBACK_STEPS } from '../../shared/schema/wire.js';
import type {
  Deployment,
  Report,
  InvocationContext,
  Placement,
  StepRecord,
  StoredRef,
  Trigger,
} from '../../shared/schema/wire.js';
import type { Sandbox } from '../sandbox/types.js';
import { StageTracker } from '../harvest/stage-tracker.js';
import {
  deploymentKey,
  functionKey,
  type IndexedDeployment,
  type IndexedNode,
} from './deployments.js';
import type { DagNode } from '../../shared/dag/types.js';
import { commitNode, mustCommit } from './commit.js';
import { baseStep, executeNode, stepOf, type ExecEnv, type NodeOutcome } from './execute.js';
import { Expressions } from '../../shared/expressions.js';
import { backoffMs, delay } from '../../shared/retry.js';
import { preciseNow } from '../../shared/time.js';
import { WORKER_TRACER } from '../../shared/tracing.js';
import type { DataPlane, ShardPort, Transport } from './ports.js';
import type { ShardRunAnswer, ShardRunRequest } from '../../shared/schema/shard.js';
import { foreachAt, runShardBatch, ShardLanes } from './shard-serve.js';
import { Val } from './value.js';
import { traceStep } from './trace.js';
import { keyedAnswer, routedWorkflow, type KeyedPort } from './keyed.js';
import type { KeyedRunAnswer, KeyedRunRequest } from '../../shared/schema/keyed.js';

type EdgeArrival = StoredRef | 'skip';

interface NodeState {
  arrivals: Map<string, EdgeArrival>;
  status: 'waiting' | 'running' | 'done';
  readyAt: number;
  /**
   * A join's inputs held on other workers, fetched as their edges arrive while it waits for
   * the last one (undefined when the fetch failed: it is read again when the node runs).
   */
  ahead?: Map<string, { read: Promise<Buffer | undefined>; done: boolean }>;
}

interface InvocationState {
  id: InvocationId;
  dep: IndexedDeployment;
  ctx: InvocationContext;
  placement: Placement;
  nodes: Map<string, NodeState>;
  abort: AbortController;
  workflowInput?: Promise<Val>;
  failed: boolean;
  /** Steps not yet sent to the master (see `report`). */
  steps: StepRecord[];
  stepTimer?: NodeJS.Timeout;
}

export interface EngineOptions {
  workerId: string;
  sandbox: Sandbox;
  store: DataPlane;
  transport: Transport;
  logger: Logger;
  now?: () => number;
  /** How long after its deadline an abandoned invocation's state is kept. Default 60 s. */
  gcGraceMs?: number;
  /** Live rebalancing of harvested parallel stages (see stage-tracker.ts). Default true. */
  rebalance?: boolean;
  /** A join reads its remote inputs as their edges arrive (default true). */
  fetchAhead?: boolean;
  /** Largest CPU quota live rebalancing gives one sandbox, cores. Default: the machine's. */
  maxCpu?: number;
  /** The invocation journal (with Redis); without it every invocation runs as `none`. */
  journal?: Journal;
  /**
   * The master reports go to now (after a failover, the new leader); default: the one the
   * invocation's context names.
   */
  masterUrl?: () => string | undefined;
  /**
   * A sink's output up to this size travels inside its sink report (an inline ref) instead of
   * being stored for the coordinator to fetch back. Default 64 KiB; 0 turns it off.
   */
  sinkInlineMaxBytes?: number;
  /** Where node spans go; default the global tracer (a no-op without an OpenTelemetry SDK). */
  tracer?: Tracer;
  /** The other workers a sharded foreach spreads over; absent: foreach runs here only. */
  shards?: ShardPort;
  /** Keyed functions' routing (docs/guides/sharding.md); absent: keyed functions run here. */
  keyed?: KeyedPort;
}

/** Default of `sinkInlineMaxBytes`. */
export const SINK_INLINE_MAX_BYTES = 64 * 1024;

/** A node's outcome as it travels on: the output (null: skipped) and the case a switch took. */
interface Travelling {
  ref: StoredRef | null;
  branch?: number;
  /** It went through the journal. */
  committed?: boolean;
}

const START = '$start';
/** Longest a finished node's step waits before it is sent to the master. */
const STEP_FLUSH_MS = 50;
/** Abort reason of released invocations (one instance: releases are on the hot path). */
const RELEASED = new AppError('CANCELLED', 'the invocation ended');

export class Engine {
  private readonly deployments = new Map<string, IndexedDeployment>();
  private readonly invocations = new Map<InvocationId, InvocationState>();
  /** Invocations already released or cancelled: late triggers for them are ignored. */
  private readonly ended = new Map<string, number>();
  private readonly exprs = new Expressions();
  private readonly now: () => number;
  private readonly gc = new AbortController();
  private readonly stages: StageTracker;
  private running = 0;
  private readonly tracer: Tracer;
  /** The lanes of each remote shard running here, shared by its batches in flight. */
  private readonly shardLanes = new Map<string, ShardLanes>();

  constructor(private readonly o: EngineOptions) {
    this.now = o.now ?? preciseNow;
    this.tracer = o.tracer ?? trace.getTracer(WORKER_TRACER);
    this.stages = new StageTracker({
      resizer: o.sandbox,
      maxCpu: o.maxCpu ?? availableParallelism(),
      enabled: o.rebalance ?? true,
      logger: o.logger,
    });
  }

  start(): void {
    const every = 5_000;
    const timer = setInterval(() => this.sweep(), every);
    timer.unref();
    this.gc.signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  get load(): { running: number; invocations: number } {
    return { running: this.running, invocations: this.invocations.size };
  }

  /**
   * Resolves true once no node runs and every invocation this worker holds has been released
   * (its objects are no longer needed by anyone), false when `timeoutMs` passes first.
   */
  async idle(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.running > 0 || this.invocations.size > 0) {
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 20));
    }
    return true;
  }

  addDeployment(dep: IndexedDeployment): void {
    this.deployments.set(deploymentKey(dep.workflow, dep.version), dep);
  }

  removeDeployments(workflow: string): IndexedDeployment[] {
    const removed: IndexedDeployment[] = [];
    for (const [key, dep] of this.deployments) {
      if (dep.workflow === workflow) {
        this.deployments.delete(key);
        removed.push(dep);
      }
    }
    return removed;
  }

  /** The newest version of `workflow` this worker holds. */
  latest(workflow: string): IndexedDeployment | undefined {
    let best: IndexedDeployment | undefined;
    for (const dep of this.deployments.values())
      if (dep.workflow === workflow && (!best || dep.version > best.version)) best = dep;
    return best;
  }

  hasDeployment(d: Pick<Deployment, 'workflow' | 'version'>): boolean {
    return this.deployments.has(deploymentKey(d.workflow, d.version));
  }

  /**
   * Records triggers (synchronously, so a 202 means recorded) and starts every node that became
   * ready. Throws WORKFLOW_NOT_FOUND for an unknown deployment and CONFLICT for a node placed on
   * another worker; nothing of the batch is recorded then.
   */
  accept(triggers: readonly Trigger[]): void {
    for (const t of triggers) this.check(t);
    for (const t of triggers) this.record(t);
  }

  private check(t: Trigger): IndexedNode {
    const dep = this.deployments.get(deploymentKey(t.workflow, t.version));
    if (!dep)
      throw new AppError(
        'WORKFLOW_NOT_FOUND',
        `workflow ${t.workflow} version ${t.version} is not deployed on worker ${this.o.workerId}`,
      );
    const node = dep.nodes.get(t.node);
    if (!node)
      throw new AppError(
        'BAD_REQUEST',
        `workflow ${t.workflow}@${t.version} has no node ${JSON.stringify(t.node)}`,
      );
    const owner = t.placement.groups[node.group];
    if (owner !== this.o.workerId) {
      throw new AppError(
        'CONFLICT',
        `node ${t.node} is placed on worker ${owner ?? '(none)'}, not on ${this.o.workerId}`,
      );
    }
    return node;
  }

  private record(t: Trigger): void {
    if (this.ended.has(t.invocationId)) {
      this.adoptSteps(t, undefined);
      return;
    }
    let inv = this.invocations.get(t.invocationId);
    if (!inv) {
      const dep = this.deployments.get(deploymentKey(t.workflow, t.version))!;
      inv = {
        id: t.invocationId,
        dep,
        ctx: t.ctx,
        placement: t.placement,
        nodes: new Map(),
        abort: invocationAbort(),
        failed: false,
        steps: [],
      };
      this.invocations.set(t.invocationId, inv);
    }
    if (inv.failed) {
      this.adoptSteps(t, undefined);
      return;
    }
    this.adoptPlacement(inv, t.placement);
    let ns = inv.nodes.get(t.node);
    if (!ns) {
      ns = { arrivals: new Map(), status: 'waiting', readyAt: 0 };
      inv.nodes.set(t.node, ns);
    }
    const from = t.from ?? START;
    // A redelivered trigger: its steps were adopted with the first delivery.
    if (ns.status !== 'waiting' || ns.arrivals.has(from)) return;
    this.adoptSteps(t, inv);
    ns.arrivals.set(from, t.skip === true || t.ref === undefined ? 'skip' : t.ref);
    const node = inv.dep.nodes.get(t.node)!;
    if (ns.arrivals.size < node.parents && t.ref !== undefined && t.skip !== true)
      this.fetchAhead(node, ns, from, t.ref);
    if (ns.arrivals.size >= Math.max(1, node.parents)) {
      ns.status = 'running';
      ns.readyAt = this.now();
      this.run(inv, node, ns);
    }
  }

  private run(inv: InvocationState, node: IndexedNode, ns: NodeState): void {
    this.running++;
    this.execute(inv, node, ns)
      .catch((err: unknown) => this.fail(inv, node, ns, err))
      .finally(() => {
        this.running--;
      });
  }

  private async execute(inv: InvocationState, node: IndexedNode, ns: NodeState): Promise<void> {
    const id = node.node.id;
    const arrivals = [...ns.arrivals.values()];
    if (node.parents > 0 && arrivals.every((a) => a === 'skip')) {
      ns.status = 'done';
      this.ran(inv, { ...this.emptyStep(node, ns), status: 'skipped' });
      const out = await this.commitIfNeeded(inv, node, { ref: null });
      if (inv.failed || inv.abort.signal.aborted) return;
      this.reportSink(inv, node, out);
      this.dispatch(inv, node, out.ref, out.branch);
      return;
    }
    const prefetched = this.aheadCount(ns);
    this.expectRun(inv, node, arrivals);
    const getStart = performance.now();
    // A durable invocation rides out a store outage (a Redis restart) until its deadline.
    // The invocation's input is fetched only where something reads it: the node's input
    // template (assembleInput), its function (reads-input.ts), or any node that is not a task.
    const wanted = readsWorkflowInput(inv.dep, node.node);
    const read = async (): Promise<[Val, Val | null]> => {
      try {
        return [
          await this.assembleInput(inv, node, ns),
          wanted ? await this.workflowInput(inv) : null,
        ];
      } catch (err) {
        inv.workflowInput = undefined;
        throw err;
      }
    };
    const [input, wf] = this.durable(inv)
      ? await retryWhileRetryable(read, inv.ctx.deadline, inv.abort.signal, this.now)
      : await read();
    ns.ahead = undefined; // read into the input: nothing more to hold
    const env = this.env(inv, wf);
    const getMs = performance.now() - getStart;
    const outcome = await executeNode(node.node, input, env);
    if (inv.failed || inv.abort.signal.aborted) return;
    ns.status = 'done';
    const putStart = performance.now();
    const { ref, tier } = await this.store(inv, node, outcome);
    // The node's work ends with its output stored; the commit is the edge's (engine time).
    const step: StepRecord = {
      ...stepOf(id, node.node, env, ns.readyAt, outcome),
      tier,
      getMs,
      putMs: performance.now() - putStart,
      ...(prefetched > 0 ? { prefetched } : {}),
    };
    const commitStart = performance.now();
    const out = await this.commitIfNeeded(inv, node, {
      ref,
      ...(outcome.branch === undefined ? {} : { branch: outcome.branch }),
    });
    if (inv.failed || inv.abort.signal.aborted) return;
    if (out.committed) step.commitMs = performance.now() - commitStart;
    this.ran(inv, step);
    this.reportSink(inv, node, out);
    this.dispatch(inv, node, out.ref, out.branch);
  }

  private reportSink(inv: InvocationState, node: IndexedNode, out: Travelling): void {
    if (!node.isSink) return;
    this.sendToMaster(inv, {
      kind: 'sink',
      invocationId: inv.id,
      node: node.node.id,
      skipped: out.ref === null,
      ...(out.ref === null ? {} : { output: out.ref }),
    });
  }

  /** Journals the outcome when it crosses a boundary; what travels on is the commit that won. */
  private async commitIfNeeded(
    inv: InvocationState,
    node: IndexedNode,
    out: Travelling,
  ): Promise<Travelling> {
    const journal = this.o.journal;
    if (
      !journal ||
      !mustCommit(
        inv.ctx.durability,
        node,
        (n) => this.ownerOf(inv, n),
        this.o.workerId,
        inv.ctx.mode === 'master',
      )
    )
      return out;
    const commit: NodeCommit = {
      node: node.node.id,
      worker: this.o.workerId,
      ...(out.ref === null ? { skip: true as const } : { ref: out.ref }),
      ...(out.branch === undefined ? {} : { branch: out.branch }),
    };
    crashPoint('worker:before-commit');
    const r = await commitNode(
      journal,
      inv.id,
      commit,
      inv.ctx.deadline,
      inv.abort.signal,
      this.now,
    );
    crashPoint('worker:after-commit');
    if (r.placement) this.adoptPlacement(inv, r.placement);
    const w = r.winner;
    if (w.skip === true || w.ref === undefined) return { ref: null, committed: true };
    return { ref: w.ref, committed: true, ...(w.branch === undefined ? {} : { branch: w.branch }) };
  }

  private masterOf(ctx: InvocationContext): string {
    return this.o.masterUrl?.() ?? ctx.master;
  }

  /** Where an invocation's reports go: the worker that took it, else the master. */
  private coordinatorOf(placement: Placement, ctx: InvocationContext): string {
    return placement.coordinator ?? this.masterOf(ctx);
  }

  private durable(inv: InvocationState): boolean {
    return this.o.journal !== undefined && (inv.ctx.durability ?? 'none') !== 'none';
  }

  /** A placement with a higher epoch than ours: the master re-placed groups; route by it. */
  private adoptPlacement(inv: InvocationState, p: Placement): void {
    if ((p.epoch ?? 0) > (inv.placement.epoch ?? 0)) inv.placement = p;
  }

  /**
   * A join's input that lives on another worker (Redis or its producer's memory) is read as
   * soon as its edge arrives, while the join waits for its other parents (docs/guides/chains.md).
   */
  private fetchAhead(node: IndexedNode, ns: NodeState, from: string, ref: StoredRef): void {
    const remote = (ref.tier === 'redis' || ref.tier === 'peer') && ref.worker !== this.o.workerId;
    if (!remote || this.o.fetchAhead === false) return;
    // Only what the node will read: its input template names one parent, or the workflow
    // input (none), or all of them.
    const t = node.node.input;
    if (t.kind === 'input' || (t.kind === 'node' && t.node !== from)) return;
    const entry = {
      done: false,
      read: this.o.store.getBuffer(ref).then(
        (b: Buffer) => {
          entry.done = true;
          return b;
        },
        () => undefined,
      ),
    };
    (ns.ahead ??= new Map()).set(from, entry);
  }

  /**
   * A task about to read an input held on another worker has its sandbox started now, so a cold
   * start overlaps the read instead of following it (docs/guides/chains.md). Not for a keyed
   * function, whose call may run on another worker.
   */
  private expectRun(inv: InvocationState, node: IndexedNode, arrivals: EdgeArrival[]): void {
    const n = node.node;
    if (n.kind !== 'task' || this.o.fetchAhead === false || !this.o.sandbox.expectRun) return;
    if (inv.dep.dag.functions[n.fn]?.shard !== undefined) return;
    const remote = arrivals.some(
      (a) =>
        a !== 'skip' && (a.tier === 'redis' || a.tier === 'peer') && a.worker !== this.o.workerId,
    );
    if (remote) this.o.sandbox.expectRun(functionKey(inv.dep.workflow, inv.dep.version, n.fn));
  }

  /** The buffer of the input that came over `from`: fetched ahead when it was, else now. */
  private async inputOf(ns: NodeState, from: string, ref: StoredRef): Promise<Buffer> {
    const ahead = ns.ahead?.get(from);
    if (ahead) {
      ns.ahead!.delete(from); // a retry reads again
      const b = await ahead.read;
      if (b !== undefined) return b;
    }
    return this.o.store.getBuffer(ref);
  }

  /** How many of a node's inputs had been fetched ahead by the time it became ready. */
  private aheadCount(ns: NodeState): number {
    let n = 0;
    for (const a of ns.ahead?.values() ?? []) if (a.done) n++;
    return n;
  }

  private async assembleInput(
    inv: InvocationState,
    node: IndexedNode,
    ns: NodeState,
  ): Promise<Val> {
    const t = node.node.input;
    if (t.kind === 'input') return this.workflowInput(inv);
    if (t.kind === 'node') {
      const a = ns.arrivals.get(t.node);
      return a === undefined || a === 'skip'
        ? Val.fromValue(null)
        : Val.fromBuffer(await this.inputOf(ns, t.node, a));
    }
    const values = new Map<string, Arrival>();
    await Promise.all(
      [...ns.arrivals].map(async ([from, a]) => {
        if (from === START) return;
        values.set(
          from,
          a === 'skip'
            ? { skip: true }
            : { skip: false, value: Val.fromBuffer(await this.inputOf(ns, from, a)).decodedValue },
        );
      }),
    );
    const wf = (await this.workflowInput(inv)).decodedValue;
    return Val.fromValue(assemble(t, (n) => values.get(n), wf));
  }

  private workflowInput(inv: InvocationState): Promise<Val> {
    inv.workflowInput ??= this.o.store.getBuffer(inv.ctx.input).then((b) => Val.fromBuffer(b));
    return inv.workflowInput;
  }

  private env(inv: InvocationState, workflowInput: Val | null): ExecEnv {
    const dep = inv.dep;
    return {
      invocationId: inv.id,
      workflow: dep.workflow,
      version: dep.version,
      functions: dep.dag.functions,
      workflowInput,
      deadline: inv.ctx.deadline,
      signal: inv.abort.signal,
      sandbox: this.o.sandbox,
      exprs: this.exprs,
      workerId: this.o.workerId,
      now: this.now,
      onStep: (step) => this.ran(inv, step),
      ...(this.o.shards === undefined ? {} : { shards: this.o.shards }),
      ...(this.o.keyed === undefined ? {} : { keyed: this.o.keyed }),
      ...(inv.ctx.harvest === undefined
        ? {}
        : { harvest: inv.ctx.harvest, stages: this.stages.invocation(inv.id) }),
    };
  }

  private async store(
    inv: InvocationState,
    node: IndexedNode,
    outcome: NodeOutcome,
  ): Promise<{ ref: StoredRef; tier: StepRecord['tier'] }> {
    // A sink's output rides in its report (and in its commit): nothing to store or fetch back.
    const encoded = outcome.output.encoded;
    if (
      inv.ctx.mode === 'worker' &&
      node.isSink &&
      node.children.length === 0 &&
      encoded.length <= (this.o.sinkInlineMaxBytes ?? SINK_INLINE_MAX_BYTES)
    )
      return {
        ref: { tier: 'inline', data: encoded.toString('base64'), sizeBytes: encoded.length },
        tier: 'inline',
      };
    let local = 0;
    // strict: every output is stored where another worker can read it after this one is gone.
    let remote = node.isSink || inv.ctx.durability === 'strict' ? 1 : 0;
    for (const e of node.children) {
      if (e.branch !== undefined && e.branch !== outcome.branch) continue;
      if (inv.ctx.mode === 'worker' && this.ownerOf(inv, e.to) === this.o.workerId) local++;
      else remote++;
    }
    const put = (): Promise<StoredRef> =>
      this.o.store.put(
        inv.id,
        node.node.id,
        outcome.output.encoded,
        { local, remote },
        { tenant: inv.ctx.tenant },
      );
    // A durable invocation rides out a store outage (a Redis restart) until its deadline.
    const ref = this.durable(inv)
      ? await retryWhileRetryable(put, inv.ctx.deadline, inv.abort.signal, this.now)
      : await put();
    return { ref, tier: ref.tier };
  }

  private ownerOf(inv: InvocationState, nodeId: string): string | undefined {
    const group = inv.dep.nodes.get(nodeId)?.group;
    return group === undefined ? undefined : inv.placement.groups[group];
  }

  /** Triggers every child edge: data on taken edges, skips on the rest (all skips when ref is null). */
  private dispatch(
    inv: InvocationState,
    node: IndexedNode,
    ref: StoredRef | null,
    branch: number | undefined,
  ): void {
    if (node.children.length === 0) return;
    const local: Trigger[] = [];
    const remote = new Map<string, Trigger[]>();
    for (const e of node.children) {
      const skip = ref === null || (e.branch !== undefined && e.branch !== branch);
      const t: Trigger = {
        invocationId: inv.id,
        workflow: inv.dep.workflow,
        version: inv.dep.version,
        node: e.to,
        from: node.node.id,
        placement: inv.placement,
        ctx: inv.ctx,
        ...(skip ? { skip: true } : { ref: ref }),
      };
      const owner = this.ownerOf(inv, e.to);
      if (inv.ctx.mode === 'worker' && owner === this.o.workerId) {
        local.push(t);
        continue;
      }
      const url =
        inv.ctx.mode === 'master'
          ? inv.ctx.master
          : owner === undefined
            ? undefined
            : inv.placement.workers[owner];
      if (url === undefined) {
        this.fail(
          inv,
          node,
          undefined,
          new AppError(
            'WORKER_UNREACHABLE',
            `no worker address for node ${e.to} (worker ${owner ?? 'unknown'})`,
          ),
        );
        return;
      }
      const list = remote.get(url) ?? [];
      list.push(t);
      remote.set(url, list);
    }
    // This worker's unreported steps ride with the work to the next worker, which reports them
    // with its own: no report message of ours on the invocation's critical path.
    const first = remote.values().next().value?.[0];
    if (first !== undefined && inv.steps.length > 0 && inv.steps.length <= MAX_PIGGYBACK_STEPS) {
      first.steps = inv.steps;
      inv.steps = [];
      this.clearStepTimer(inv);
    }
    const durable = this.durable(inv);
    for (const [url, triggers] of remote) {
      this.o.transport
        .sendTriggers(url, triggers, inv.ctx.deadline, inv.abort.signal)
        .catch((err: unknown) => {
          // The steps that rode along did not arrive: report them ourselves.
          const carried = triggers[0]?.steps;
          if (carried !== undefined) for (const step of carried) this.report(inv, step);
          // Journaled edges survive their receiver: the master re-places its groups and sends
          // them again from the journal.
          if (durable && AppError.from(err).retryable && !inv.abort.signal.aborted) {
            this.o.logger.warn(
              { invocationId: inv.id, node: node.node.id, peer: url, err },
              'trigger undelivered; recovery resends it from the journal',
            );
            return;
          }
          this.fail(inv, node, undefined, err);
        });
    }
    if (remote.size > 0) crashPoint('worker:after-send');
    for (const t of local) this.record(t);
    if (remote.size > 0 && inv.steps.length > 0) this.flushSteps(inv);
  }

  private fail(
    inv: InvocationState,
    node: IndexedNode,
    ns: NodeState | undefined,
    err: unknown,
  ): void {
    const e = AppError.from(err);
    // Aborted: released (the master has its result) or this worker is stopping (the master
    // re-places or fails its work when it leaves): either way not this node's failure.
    if (inv.failed || this.ended.has(inv.id) || inv.abort.signal.aborted) return;
    inv.failed = true;
    // Reads ahead for joins that will not run now are let go.
    for (const other of inv.nodes.values()) other.ahead = undefined;
    if (ns) {
      ns.status = 'done';
      const tried = (e.details as { attempts?: unknown } | undefined)?.attempts;
      this.ran(inv, {
        ...this.emptyStep(node, ns),
        status: 'failed',
        attempts: typeof tried === 'number' ? tried : 0,
        error: e.toWire(),
      });
    }
    this.o.logger.warn({ invocationId: inv.id, node: node.node.id, err: e }, 'node failed');
    if (this.o.journal && this.durable(inv)) {
      this.o.journal
        .commitFailure(
          inv.id,
          { node: node.node.id, error: e.toWire(), worker: this.o.workerId },
          journalTtlMs(inv.ctx.deadline, this.now()),
        )
        .catch((err: unknown) =>
          this.o.logger.warn({ invocationId: inv.id, err }, 'failure not journaled'),
        );
    }
    this.sendToMaster(inv, {
      kind: 'failed',
      invocationId: inv.id,
      node: node.node.id,
      error: e.toWire(),
    });
  }

  private emptyStep(node: IndexedNode, ns: NodeState): StepRecord {
    return baseStep(node.node.id, node.node.kind, this.o.workerId, ns.readyAt, this.now());
  }

  /** A node this worker ran (or skipped, or failed): its span, then its step for the master. */
  private ran(inv: InvocationState, step: StepRecord): void {
    if (inv.ctx.traceparent !== undefined)
      traceStep(
        this.tracer,
        inv.ctx,
        { id: inv.id, workflow: inv.dep.workflow, version: inv.dep.version },
        step,
      );
    this.report(inv, step);
  }

  /**
   * Steps are held per invocation and sent in one batch: with the invocation's sink or failure
   * report, before its work moves to another worker, or after `STEP_FLUSH_MS` at the latest.
   * That is one report per worker per invocation in the common case instead of one per node.
   */
  private report(inv: InvocationState, step: StepRecord): void {
    inv.steps.push(step);
    if (!inv.stepTimer) {
      inv.stepTimer = setTimeout(() => this.flushSteps(inv), STEP_FLUSH_MS);
      inv.stepTimer.unref();
    }
  }

  /** Steps another worker sent along with a trigger: reported with ours, or at once if we are done. */
  private adoptSteps(t: Trigger, inv: InvocationState | undefined): void {
    if (t.steps === undefined) return;
    const steps = t.steps;
    delete t.steps;
    if (inv === undefined || inv.failed) {
      for (const step of steps)
        this.o.transport.report(this.coordinatorOf(t.placement, t.ctx), {
          kind: 'step',
          invocationId: t.invocationId,
          step,
        });
      return;
    }
    for (const step of steps) this.report(inv, step);
  }

  private clearStepTimer(inv: InvocationState): void {
    if (inv.stepTimer) clearTimeout(inv.stepTimer);
    inv.stepTimer = undefined;
  }

  private flushSteps(inv: InvocationState): void {
    this.clearStepTimer(inv);
    for (const step of inv.steps)
      this.o.transport.report(this.coordinatorOf(inv.placement, inv.ctx), {
        kind: 'step',
        invocationId: inv.id,
        step,
      });
    inv.steps = [];
  }

  /** Sink and failure reports: this worker's pending steps go first, in the same batch. */
  private sendToMaster(inv: InvocationState, report: Report): void {
    this.flushSteps(inv);
    this.o.transport.report(this.coordinatorOf(inv.placement, inv.ctx), report);
  }

  /**
   * Runs one batch of a sharded foreach another worker owns (docs/guides/sharding.md): the
   * body per item here, with the function's retries, until the invocation's deadline.
   */
  async runShardBatch(req: ShardRunRequest): Promise<ShardRunAnswer> {
    const where = `shard ${req.shard} of ${req.label}`;
    const dep = this.deployments.get(deploymentKey(req.workflow, req.version));
    if (!dep)
      throw new AppError(
        'WORKFLOW_NOT_FOUND',
        `${where}: workflow ${req.workflow} version ${req.version} is not deployed on worker ${this.o.workerId}`,
      );
    if (this.ended.has(req.invocationId))
      throw new AppError('CANCELLED', `${where}: invocation ${req.invocationId} already ended`);
    const node = foreachAt(dep.dag, req.path, where);
    crashPoint('worker:shard-run');
    const left = Math.max(1, Math.ceil(req.deadline - this.now()));
    const signal = AbortSignal.any([AbortSignal.timeout(left), this.gc.signal]);
    const key = `${req.invocationId} ${req.label} ${req.shard}`;
    const lanes = this.shardLanes.get(key) ?? new ShardLanes(req.slots);
    this.shardLanes.set(key, lanes);
    lanes.users++;
    this.running++;
    try {
      return await runShardBatch(
        req,
        node,
        {
          invocationId: req.invocationId,
          workflow: dep.workflow,
          version: dep.version,
          functions: dep.dag.functions,
          deadline: req.deadline,
          signal,
          sandbox: this.o.sandbox,
          exprs: this.exprs,
          workerId: this.o.workerId,
          now: this.now,
          ...(this.o.keyed === undefined ? {} : { keyed: this.o.keyed }),
        },
        lanes,
      );
    } finally {
      this.running--;
      if (--lanes.users === 0) this.shardLanes.delete(key);
    }
  }

  /**
   * A keyed function's call routed here by another worker (docs/guides/sharding.md): one attempt
   * in this worker's sandbox, counted on the range the caller routed it by. A failed run answers
   * `ok: false` with its error (the caller retries by the function's rules).
   */
  async runKeyed(req: KeyedRunRequest): Promise<KeyedRunAnswer> {
    const where = `keyed call of ${req.fn} (node ${req.node})`;
    const dep = this.deployments.get(deploymentKey(req.workflow, req.version));
    if (!dep)
      throw new AppError(
        'WORKFLOW_NOT_FOUND',
        `${where}: workflow ${req.workflow} version ${req.version} is not deployed on worker ${this.o.workerId}`,
      );
    const fn = dep.dag.functions[req.fn];
    if (fn?.shard === undefined)
      throw new AppError(
        'BAD_REQUEST',
        `${where}: ${req.workflow} version ${req.version} has no keyed function ${req.fn}`,
        {
          details: {
            keyed: Object.values(dep.dag.functions)
              .filter((f) => f.shard)
              .map((f) => f.name),
          },
        },
      );
    this.running++;
    try {
      const r = await this.o.sandbox.run(functionKey(dep.workflow, dep.version, fn.name), {
        invocationId: req.invocationId,
        node: req.node,
        attempt: req.attempt,
        input: Buffer.from(req.input, 'base64'),
        ...(req.workflowInput === undefined
          ? {}
          : { workflowInput: Buffer.from(req.workflowInput, 'base64') }),
        timeoutMs: req.timeoutMs,
        allocation: req.allocation,
        signal: AbortSignal.any([AbortSignal.timeout(req.timeoutMs + 5_000), this.gc.signal]),
      });
      this.o.keyed?.meter.record(
        routedWorkflow(dep.workflow),
        fn.name,
        req.tableVersion,
        req.range,
        req.keyHash,
        r.durationMs,
      );
      return keyedAnswer(r);
    } catch (err) {
      return { ok: false, error: AppError.from(err, 'FUNCTION_FAILED').toWire() };
    } finally {
      this.running--;
    }
  }

  /** Drops an invocation's state and frees its objects (the master calls this when it ends). */
  async release(invocationId: InvocationId): Promise<void> {
    const inv = this.invocations.get(invocationId);
    this.invocations.delete(invocationId);
    this.ended.set(invocationId, this.now());
    this.stages.dropInvocation(invocationId);
    if (inv) {
      this.flushSteps(inv);
      inv.abort.abort(RELEASED);
    }
    await this.o.store.releaseInvocation(invocationId);
  }

  private sweep(): void {
    const now = this.now();
    const grace = this.o.gcGraceMs ?? 60_000;
    for (const [id, inv] of this.invocations) {
      if (inv.ctx.deadline + grace < now) {
        this.o.logger.warn({ invocationId: id }, 'dropping abandoned invocation');
        this.release(id).catch((err: unknown) =>
          this.o.logger.warn({ err, invocationId: id }, 'release failed'),
        );
      }
    }
    for (const [id, at] of this.ended) if (at + grace < now) this.ended.delete(id);
  }

  close(): void {
    this.gc.abort();
    for (const inv of this.invocations.values())
      inv.abort.abort(new AppError('CANCELLED', 'worker is shutting down'));
  }
}

/** Runs `op` again while it fails with a retryable error, with backoff, until `deadline`. */
async function retryWhileRetryable<T>(
  op: () => Promise<T>,
  deadline: number,
  signal: AbortSignal,
  now: () => number,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      const wait = backoffMs(attempt, { baseMs: 20, maxMs: 1_000 });
      if (!AppError.from(err).retryable || signal.aborted || now() + wait >= deadline) throw err;
      await delay(wait, signal).catch(() => undefined);
    }
  }
}

/**
 * An invocation's abort controller. Every node running in it listens on its signal (sandbox
 * runs, pool waits, retries), and a wide stage has more than events' default of 10 listeners;
 * each removes its own when done, so the count is bounded by the nodes running at once.
 */
function invocationAbort(): AbortController {
  const c = new AbortController();
  setMaxListeners(0, c.signal);
  return c;
}

function readsWorkflowInput(dep: IndexedDeployment, node: DagNode): boolean {
  if (node.kind !== 'task' || dep.readsWorkflowInput === undefined) return true;
  return dep.readsWorkflowInput.has(node.fn);
}
