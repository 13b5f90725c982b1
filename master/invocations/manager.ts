/**
 * Runs invocations from the master's side: accepts them (idempotently, persisted before anything
 * runs), places the groups, sends the start triggers, collects the workers' reports (steps,
 * sinks, failures), assembles the output, enforces the deadline, and ends each invocation with
 * exactly one result, persisted before its callers hear it (docs/durability.md).
 *
 * When a worker is lost, a durable invocation (`checkpoint`, `strict`) has the groups it had
 * re-placed on live workers and resumes from its journal (recovery.ts); a `none` one fails with
 * WORKER_UNREACHABLE. A restarted master restores its records and reconciles the running ones
 * with their journals, so results that arrived while it was down are not lost.
 *
 * The master is never on the path between two functions in WorkerSP mode; in MasterSP mode it
 * relays every trigger itself.
 */
import { randomBytes } from 'node:crypto';
import { encodeValue } from '../../shared/codec.js';
import { Expressions } from '../../shared/expressions.js';
import { IDEMPOTENCY_TTL_MS } from '../../shared/schema/invocation-api.js';
import { crashPoint } from '../../shared/crash.js';
import { AppError } from '../../shared/errors.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import { newInvocationId, type InvocationId } from '../../shared/ids.js';
import { journalTtlMs, type Journal, type JournalState } from '../../shared/journal.js';
import type { Logger } from '../../shared/logger.js';
import type {
  DispatchMode,
  Durability,
  InvocationContext,
  NodeAllocation,
  Placement,
  Report,
  StoredRef,
  Trigger,
} from '../../shared/schema/wire.js';
import { tenantOfWorkflow } from '../../shared/tenancy.js';
import type { TriggerSender } from '../../shared/trigger-sender.js';
import { variantName, variantView } from '../compose/variants.js';
import {
  recordedHarvest,
  type GivenDemand,
  type InvocationHarvest,
} from '../../shared/harvest/invocation.js';
import { resolveDurability } from '../../shared/placement-view.js';
import { groupMemoryMb, groupUses, place, type PlacementStrategy } from '../../shared/placement.js';
import type { DeploymentTracker } from '../registry/deployments.js';
import type { WorkerRegistry, WorkerView } from '../registry/workers.js';
import { assertInput } from '../../shared/input-schema.js';
import type { WorkflowCatalog, WorkflowVersion } from '../workflow/catalog.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { listInvocations, type InvocationFilter, type InvocationPage } from './list.js';
import { assembleOutput } from '../../shared/invocation/output.js';
import {
  fromDoc,
  MemoryRecordStore,
  toDoc,
  type InvocationDoc,
  type RecordStore,
} from './persist.js';
import type { InvocationRecord, RecordComposition } from '../../shared/invocation/record.js';
import {
  applyReport,
  newRecord,
  sinkArrived,
  timelineComplete,
  type NewRecordFields,
} from '../../shared/invocation/collect.js';
import { recoveryTriggers, type RecoveryTrigger } from '../../shared/invocation/recovery.js';
import {
  armDeadline,
  completeOnce,
  endRecord,
  recoverInTurn,
  replaceOnLive,
  sendFailure,
  workersLostError,
  type EndInvocation,
  type EndStatus,
} from '../../shared/invocation/finish.js';
import { ReleaseBatcher } from '../../shared/invocation/releases.js';
import type { HotWorkers } from '../shard/hot.js';
import { InvocationSpans } from './trace.js';

export interface InvocationManagerOptions {
  catalog: WorkflowCatalog;
  registry: WorkerRegistry;
  deployments: DeploymentTracker;
  peers: PeerClient;
  sender: TriggerSender;
  logger: Logger;
  masterUrl: () => string;
  mode: DispatchMode;
  placement: PlacementStrategy;
  inlineMaxBytes: number;
  retain: number;
  /** Resource harvesting (absent when it is off: no decision, no profile, no cost). */
  harvest?: HarvestHooks;
  /** Composition (docs/guides/composition.md); without it a composed workflow runs its default. */
  compose?: ComposeHooks;
  /** Adaptive task chains (docs/guides/chains.md): learning after, prepares at start. */
  chains?: ChainHooks;
  /** Hot workers (master/shard/hot.ts): placed around, and a group moved off one is an event. */
  hot?: Pick<HotWorkers, 'isHot' | 'groupMoved'>;
  /** Where records persist; default: this process's memory (nothing survives a restart). */
  records?: RecordStore;
  /** The invocation journal (with Redis); without it every invocation runs as `none`. */
  journal?: Journal;
  /** The cluster's default durability; `auto`: `checkpoint` with a journal, else `none`. */
  durability?: Durability | 'auto';
  /** How long after its start a worker absent from the registry counts as lost. */
  workerTimeoutMs?: number;
  now?: () => number;
}

/** What the manager asks of harvesting: a decision at start, the finished invocation after. */
export interface HarvestHooks {
  decide(
    v: WorkflowVersion,
    req: {
      dagInputBytes: number;
      profile: boolean;
      demand?: Readonly<Record<string, GivenDemand>>;
    },
    capacities: readonly { cpu: number; memoryMb: number }[],
  ): { decision: InvocationHarvest; ctx: Record<string, NodeAllocation> };
  /** Called once a succeeded invocation has settled, off its caller's path. */
  finished(r: InvocationRecord, v: WorkflowVersion): void;
}

/** What the manager asks of composition: a variant at start, the finished invocation after. */
export interface ComposeHooks {
  decide(
    v: WorkflowVersion,
    input: unknown,
    subTenant: string,
    id: string,
  ): Promise<RecordComposition>;
  /** Called once a composed invocation has ended (any status), off its caller's path. */
  finished(r: InvocationRecord, run: WorkflowVersion): void;
}

/** What the manager asks of chains: prepares at start, the finished invocation after. */
export interface ChainHooks {
  /** Called once an invocation has ended (any status), off its caller's path. */
  finished(r: InvocationRecord, dag: WorkflowDag): void;
  /**
   * Called after an invocation was accepted: sends its prepares (never throws, never waits).
   * `predict` tells where an invocation of another workflow starting now would run (for the
   * prepares of a likely successor workflow).
   */
  started?(
    r: InvocationRecord,
    v: WorkflowVersion,
    inputBytes: number,
    predict: (workflow: string) => PredictedRun | undefined,
  ): void;
}

/** Where an invocation of a workflow starting now would most likely run. */
export interface PredictedRun {
  v: WorkflowVersion;
  placement: Placement;
}

/** Longest wait for the last steps of a finished invocation before answering without them. */
const TIMELINE_GRACE_MS = 1_000;
/** Running durable invocations quiet for this long are reconciled with their journal. */
const RECONCILE_QUIET_MS = 3_000;
/** Finished invocations between two trims of the store. */
const TRIM_EVERY = 200;

export interface StartRequest {
  input: unknown;
  timeoutMs: number;
  /** The same key (per workflow) returns the same invocation, never a second run. */
  idempotencyKey?: string;
  /** Harvesting: run every task node at the maximum allocation to profile it. */
  profile?: boolean;
  /** Harvesting: the size the models see for this input (default: its encoded size). */
  dataBytes?: number;
  /** The tenant's end user: recorded on the invocation, its decisions and its profiles; composition's models and policies are per sub-tenant. */
  subTenant?: string;
  /** Adaptive chains: the caller's session (successors are learned within it). */
  session?: string;
  /**
   * Harvesting: the demand of task nodes, known beforehand (e.g. measured by an earlier run of
   * the same input), decided from instead of the models' predictions.
   */
  demand?: Readonly<Record<string, GivenDemand>>;
  /** Tracing: the client's W3C `traceparent` header, the parent of the invocation's span. */
  traceparent?: string;
}

export class InvocationManager {
  private readonly records = new Map<InvocationId, InvocationRecord>();
  private readonly exprs = new Expressions();
  private readonly inputs = new Map<string, Buffer>();
  private readonly store: RecordStore;
  private readonly releases: ReleaseBatcher;
  private readonly now: () => number;
  private readonly startedAt: number;
  private cursor = 0;
  private finishedSinceTrim = 0;
  private reconciling = false;
  private readonly sweepTimer: NodeJS.Timeout;
  /** Per workflow version, where each group ran last (greedy-jsq keeps groups warm there). */
  private readonly lastPlacement = new Map<string, string[]>();
  /** Each invocation's root span (a no-op without an OpenTelemetry SDK). */
  private readonly spans = new InvocationSpans();
  private readonly end: EndInvocation = (r, status, output, error) =>
    this.finish(r, status, output, error);

  constructor(private readonly o: InvocationManagerOptions) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    this.store = o.records ?? new MemoryRecordStore();
    this.releases = new ReleaseBatcher(o.peers, o.logger, o.journal);
    o.registry.onDeath((w) => this.onWorkerDeath(w));
    this.sweepTimer = setInterval(() => this.sweep(), 1_000);
    this.sweepTimer.unref();
  }

  get(id: InvocationId): InvocationRecord {
    const r = this.records.get(id);
    if (!r)
      throw new AppError(
        'INVOCATION_NOT_FOUND',
        `invocation ${JSON.stringify(id)} is unknown (finished invocations are kept for the last ${this.o.retain})`,
      );
    return r;
  }

  /** Invocation inputs too large to inline, served to workers by GET /v1/objects/:key. */
  inputObject(key: string): Buffer {
    const b = this.inputs.get(key);
    if (!b) throw new AppError('OBJECT_NOT_FOUND', `object ${key} is not held by the master`);
    return b;
  }

  get running(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.status === 'running') n++;
    return n;
  }

  /**
   * Accepts an invocation: once this resolves it is persisted and its sources are being started;
   * whatever crashes next, it ends with one result. With an idempotency key already used for
   * this workflow, resolves to that invocation instead.
   */
  async start(workflow: string, req: StartRequest): Promise<InvocationRecord> {
    let v = this.o.catalog.latest(workflow);
    if (v.dag.inputSchema) assertInput(v.name, v.dag.inputSchema, req.input);
    if (req.profile && !this.o.harvest)
      throw new AppError(
        'CONFLICT',
        'profile: true needs harvesting; start the master with --harvest on --redis-url URL',
      );
    if (req.demand !== undefined) checkDemand(v, req.demand, this.o.harvest !== undefined, req);
    const id = newInvocationId();
    if (req.idempotencyKey !== undefined) {
      const owner = await this.store.claimIdempotencyKey(
        `${v.name}:${req.idempotencyKey}`,
        id,
        IDEMPOTENCY_TTL_MS,
      );
      if (owner !== id) return this.existing(owner, req.idempotencyKey);
    }
    const base = v;
    const composition =
      base.composition && this.o.compose
        ? await this.o.compose.decide(base, req.input, req.subTenant ?? 'default', id)
        : undefined;
    // From here on `v` is what runs: the chosen variant's deployment (docs/guides/composition.md).
    v = variantView(base, composition?.index ?? 0);
    const durability = this.durabilityOf(v);
    const workers = this.o.registry
      .ready()
      .filter((w) => this.o.deployments.holds(w.id, v) && (durability === 'none' || w.journal));
    const placement = this.placement(v, workers, id);
    const encoded = encodeValue(req.input);
    const harvest = this.o.harvest?.decide(
      v,
      {
        dagInputBytes: req.dataBytes ?? encoded.length,
        profile: req.profile === true,
        ...(req.demand === undefined ? {} : { demand: req.demand }),
      },
      workers.filter((w) => placement.groups.includes(w.id)).map((w) => w.capacity),
    );
    const now = this.now();
    const deadline = now + req.timeoutMs;
    const input = this.inputRef(id, encoded);
    const tenant = tenantOfWorkflow(v.name);
    const traceparent = this.spans.start({
      id,
      workflow: v.name,
      version: v.version,
      tenant,
      mode: this.o.mode,
      startedAt: now,
      ...(req.traceparent === undefined ? {} : { traceparent: req.traceparent }),
    });
    this.spans.placed(id, placement, now);
    const ctx: InvocationContext = {
      tenant,
      ...(req.subTenant === undefined ? {} : { subTenant: req.subTenant }),
      deadline,
      input: input.ref,
      master: this.o.masterUrl(),
      mode: this.o.mode,
      ...(harvest ? { harvest: harvest.ctx } : {}),
      ...(durability === 'none' ? {} : { durability }),
      ...(traceparent === undefined ? {} : { traceparent }),
    };
    const r = this.newRecord({
      id,
      workflow: base.name,
      version: v.version,
      startedAt: now,
      deadline,
      placement,
      ctx,
      durability,
      sinks: v.dag.sinks,
      ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
      ...(input.key === undefined ? {} : { inputKey: input.key }),
      ...(harvest ? { harvest: recordedHarvest(harvest.decision, req.subTenant) } : {}),
      ...(req.subTenant === undefined ? {} : { subTenant: req.subTenant }),
      ...(composition ? { composition } : {}),
      ...(req.session === undefined ? {} : { session: req.session }),
    });
    try {
      await this.store.putInvocation(toDoc(r, input.key === undefined ? undefined : encoded));
    } catch (err) {
      if (input.key !== undefined) this.inputs.delete(input.key);
      const e = new AppError(
        'STORE_UNAVAILABLE',
        `invocation not accepted: its record could not be stored: ${AppError.from(err).message}`,
        { cause: err },
      );
      this.spans.end(id, 'failed', this.now(), e);
      throw e;
    }
    this.track(r);
    crashPoint('master:after-accept');
    const starts = v.dag.sources.map((node) => ({ node, from: null, ref: input.ref }));
    this.sendTriggers(r, v, starts);
    // Prepares ahead are an optimisation: whatever goes wrong there, the invocation runs.
    try {
      this.o.chains?.started?.(r, v, req.dataBytes ?? encoded.length, (name) =>
        this.predictRun(name),
      );
    } catch (err) {
      this.o.logger.warn({ err, invocationId: r.id }, 'chains: prepares not planned');
    }
    return r;
  }

  /** The invocation an idempotency key already names (from memory or the store). */
  private async existing(id: InvocationId, key: string): Promise<InvocationRecord> {
    const known = this.records.get(id);
    if (known) return known;
    const doc = await this.store.getInvocation(id);
    const restored = doc ? this.restoreOne(doc) : null;
    if (!restored)
      throw new AppError(
        'CONFLICT',
        `idempotency key ${JSON.stringify(key)} names invocation ${id}, which is no longer kept`,
      );
    return restored;
  }

  private durabilityOf(v: WorkflowVersion): Durability {
    return resolveDurability({
      workflow: v.name,
      asked: v.dag.durability ?? this.o.durability ?? 'auto',
      journal: this.o.journal !== undefined,
      capable: this.o.registry.ready().some((w) => w.journal),
    });
  }

  private newRecord(f: NewRecordFields): InvocationRecord {
    return newRecord(f, this.now());
  }

  /**
   * Where an invocation of `workflow` starting now would most likely run (the successor
   * prepares of adaptive chains): its latest version's default deployment on the groups' last
   * homes when they are all still ready, else what placement proposes from the live view.
   * Changes nothing: no warm affinity, no group-move event, the round-robin cursor put back.
   */
  predictRun(workflow: string): PredictedRun | undefined {
    if (!this.o.catalog.has(workflow)) return undefined;
    const v = this.o.catalog.latest(workflow);
    // A composed workflow's variant is chosen at its start: nothing to predict before.
    if (v.composition) return undefined;
    const durability = this.durabilityOf(v);
    const workers = this.o.registry
      .ready()
      .filter((w) => this.o.deployments.holds(w.id, v) && (durability === 'none' || w.journal));
    if (workers.length === 0) return undefined;
    const homes = this.lastPlacement.get(`${v.name}@${v.version}`);
    const byId = new Map(workers.map((w) => [w.id, w]));
    if (homes && homes.length === v.partition.groups.length && homes.every((h) => byId.has(h))) {
      const urls: Record<string, string> = {};
      for (const h of homes) urls[h] = byId.get(h)!.url;
      return { v, placement: { groups: [...homes], workers: urls } };
    }
    const cursor = this.cursor;
    const placement = this.placement(v, workers, `predict:${v.name}`, false);
    this.cursor = cursor;
    return { v, placement };
  }

  /** Keeps a record in memory and arms its deadline. */
  private track(r: InvocationRecord): void {
    this.records.set(r.id, r);
    this.trim();
    if (r.status !== 'running') return;
    armDeadline(r, this.now(), this.end);
    for (const w of new Set(r.placement.groups)) this.adjustInflight(w, +1);
  }

  /**
   * Places every group of a new invocation (`fresh`), or proposes a placement a recovery takes
   * only the lost groups of: then neither the warm affinity nor the group-move events change.
   */
  private placement(
    v: WorkflowVersion,
    workers: WorkerView[],
    key: string,
    fresh = true,
  ): Placement {
    const groups = place({
      strategy: this.o.placement,
      workers: workers.map((w) => ({
        id: w.id,
        cpu: w.capacity.cpu,
        memoryMb: w.capacity.memoryMb,
        load: w.load.running + w.load.queued + w.inflight,
        ...(this.o.hot?.isHot(w.id) ? { hot: true } : {}),
        ...(w.labels === undefined ? {} : { labels: w.labels }),
      })),
      groups: v.partition.groups.length,
      weights: v.partition.groups.map((g) => g.length),
      memoryMb: groupMemoryMb(v.dag, v.partition.groups),
      uses: groupUses(v.dag, v.partition.groups),
      key,
      cursor: this.cursor,
      affinity: this.lastPlacement.get(`${v.name}@${v.version}`) ?? [],
    });
    if (fresh) {
      const homes = this.lastPlacement.get(`${v.name}@${v.version}`) ?? [];
      groups.forEach((to, g) => {
        const home = homes[g];
        if (home !== undefined && home !== to && this.o.hot?.isHot(home))
          this.o.hot.groupMoved(v.name, v.version, g, home, to);
      });
      this.lastPlacement.set(`${v.name}@${v.version}`, groups);
    }
    this.cursor += v.partition.groups.length;
    const urls: Record<string, string> = {};
    for (const w of workers) if (groups.includes(w.id)) urls[w.id] = w.url;
    return { groups, workers: urls };
  }

  private inputRef(id: InvocationId, buf: Buffer): { ref: StoredRef; key?: string } {
    if (buf.length <= this.o.inlineMaxBytes)
      return { ref: { tier: 'inline', data: buf.toString('base64'), sizeBytes: buf.length } };
    const key = `input:${id}:${randomBytes(4).toString('hex')}`;
    this.inputs.set(key, buf);
    return {
      key,
      ref: { tier: 'peer', key, worker: 'master', url: this.o.masterUrl(), sizeBytes: buf.length },
    };
  }

  /** Sends triggers of `r` to the owners of their nodes under the record's current placement. */
  private sendTriggers(r: InvocationRecord, v: WorkflowVersion, list: RecoveryTrigger[]): void {
    const byUrl = new Map<string, Trigger[]>();
    for (const t of list) {
      const owner = r.placement.groups[v.partition.groupOf[t.node]!]!;
      const url = r.placement.workers[owner]!;
      const trigger: Trigger = {
        invocationId: r.id,
        workflow: variantName(r.workflow, r.composition?.index ?? 0),
        version: r.version,
        node: t.node,
        from: t.from,
        placement: r.placement,
        ctx: r.ctx,
        ...(t.skip ? { skip: true } : { ref: t.ref! }),
      };
      byUrl.set(url, [...(byUrl.get(url) ?? []), trigger]);
    }
    // Not awaited: a worker that dies before taking them is caught by the death sweep (and, for
    // a durable invocation, recovered from the journal) or by the delivery deadline.
    for (const [url, triggers] of byUrl) {
      this.o.sender.send(url, triggers, r.deadline).catch((err: unknown) => {
        const e = sendFailure(r, err);
        if (e) this.finish(r, 'failed', undefined, e);
      });
    }
  }

  /** Worker reports, in any order and possibly repeated. */
  accept(reports: readonly Report[]): void {
    for (const rep of reports) {
      const r = this.records.get(rep.invocationId);
      if (!r) continue;
      const effect = applyReport(r, rep, this.now());
      switch (effect.kind) {
        case 'step':
          if (r.sinksDone) this.maybeComplete(r);
          break;
        case 'sinks-done':
          this.maybeComplete(r);
          break;
        case 'failed':
          this.finish(r, 'failed', undefined, effect.error);
          break;
        case 'none':
          break;
      }
    }
  }

  private sinkArrived(r: InvocationRecord, node: string, ref: StoredRef | null): void {
    if (sinkArrived(r, node, ref)) this.maybeComplete(r);
  }

  /** MasterSP: every trigger comes here and is forwarded to the worker that owns its node. */
  relay(triggers: readonly Trigger[]): void {
    const byUrl = new Map<string, Trigger[]>();
    for (const t of triggers) {
      const r = this.records.get(t.invocationId);
      if (!r || r.status !== 'running') continue;
      const v = this.version(r);
      const group = v?.partition.groupOf[t.node];
      const owner = group === undefined ? undefined : r.placement.groups[group];
      const url = owner === undefined ? undefined : r.placement.workers[owner];
      if (url === undefined)
        throw new AppError(
          'BAD_REQUEST',
          `cannot route node ${t.node} of invocation ${t.invocationId}`,
        );
      byUrl.set(url, [...(byUrl.get(url) ?? []), { ...t, placement: r.placement }]);
    }
    for (const [url, list] of byUrl) {
      this.o.sender.send(url, list, list[0]!.ctx.deadline).catch((err: unknown) => {
        const r = this.records.get(list[0]!.invocationId);
        const e = r && sendFailure(r, err);
        if (e) this.finish(r, 'failed', undefined, e);
      });
    }
  }

  /** The version the record runs: its variant's view when it was composed. */
  private version(
    r: Pick<InvocationRecord, 'workflow' | 'version' | 'composition'>,
  ): WorkflowVersion | undefined {
    try {
      const v = this.o.catalog.versions(r.workflow).find((x) => x.version === r.version);
      return v && variantView(v, r.composition?.index ?? 0);
    } catch {
      return undefined;
    }
  }

  /**
   * Every sink is done. Steps of other workers may still be in flight (reports from different
   * workers are not ordered), so the result waits until every node has its step — at most
   * `TIMELINE_GRACE_MS` — and callers then see a complete timeline.
   */
  private maybeComplete(r: InvocationRecord): void {
    if (r.status !== 'running') return;
    if (timelineComplete(r, this.version(r)?.dag.nodes.length ?? 0)) {
      if (r.completeTimer) clearTimeout(r.completeTimer);
      this.complete(r);
    } else {
      r.completeTimer ??= setTimeout(() => this.complete(r), TIMELINE_GRACE_MS);
    }
  }

  private complete(r: InvocationRecord): void {
    if (r.status !== 'running' || r.completing) return;
    const v = this.version(r);
    if (!v) {
      this.finish(
        r,
        'failed',
        undefined,
        new AppError(
          'WORKFLOW_NOT_FOUND',
          `workflow ${r.workflow} version ${r.version} was deleted while running`,
        ),
      );
      return;
    }
    completeOnce(r, {
      assemble: () =>
        assembleOutput(
          this.o.peers,
          this.exprs,
          { dag: v.dag, groupOf: v.partition.groupOf },
          r.placement,
          r.sinkOutputs,
        ),
      end: this.end,
      now: this.now,
      // Recovery completes it once the sink's worker has been re-placed.
      later: () => undefined,
    });
  }

  /** Ends the invocation once: persists the result, then tells its callers and its workers. */
  private finish(r: InvocationRecord, status: EndStatus, output?: unknown, error?: AppError): void {
    if (!endRecord(r, status, this.now(), output, error)) return;
    this.spans.end(r.id, status, r.finishedAt!, error);
    if (r.inputKey) this.inputs.delete(r.inputKey);
    for (const w of new Set(r.placement.groups)) this.adjustInflight(w, -1);
    this.store
      .putInvocation(toDoc(r))
      .catch((err: unknown) =>
        this.o.logger.warn({ err, invocationId: r.id }, 'invocation result not persisted'),
      )
      .finally(() => {
        r.settle();
        if (++this.finishedSinceTrim >= TRIM_EVERY) {
          this.finishedSinceTrim = 0;
          this.store
            .trimInvocations(this.o.retain)
            .catch((err: unknown) => this.o.logger.warn({ err }, 'trimming records failed'));
        }
      });
    this.releases.release(r.id, Object.values(r.placement.workers));
    const hooks = this.o.harvest;
    if (hooks && status === 'succeeded' && r.harvest) {
      const v = this.version(r);
      if (v) setImmediate(() => hooks.finished(r, v));
    }
    const compose = this.o.compose;
    if (compose && r.composition) {
      const v = this.version(r);
      if (v) setImmediate(() => compose.finished(r, v));
    }
    this.chainsFinished(r);
    this.o.logger.debug({ invocationId: r.id, status }, 'invocation finished');
  }

  private adjustInflight(workerId: string, delta: number): void {
    const w = this.o.registry.get(workerId);
    if (w) w.inflight = Math.max(0, w.inflight + delta);
  }

  /**
   * Records of invocations workers took on their own API, sent in batches once they ended (off
   * their path): kept and stored like the master's own, so GET /v1/invocations and the
   * dashboard list them. A record the master already holds as finished is left as it is.
   */
  async absorbRecords(docs: readonly InvocationDoc[]): Promise<number> {
    let kept = 0;
    for (const d of docs) {
      if (d.status === 'running') continue;
      const known = this.records.get(d.id);
      if (known && known.status !== 'running') continue;
      const f = fromDoc(d);
      if (!f || f.status === 'running') continue;
      if (known) {
        // Adopted after its ingress was thought dead, yet the ingress finished it: its result
        // stands (it is the journal's, like ours would be).
        this.finish(known, f.status, f.output, f.error ? AppError.fromWire(f.error) : undefined);
        continue;
      }
      await this.store.putInvocation(d);
      const r = this.restoreOne(d);
      kept++;
      // Harvesting learns from an ingress's invocations as from the master's own.
      const hooks = this.o.harvest;
      if (hooks && r && r.status === 'succeeded' && r.harvest) {
        const v = this.version(r);
        if (v) setImmediate(() => hooks.finished(r, v));
      }
      if (r) this.chainsFinished(r);
    }
    return kept;
  }

  /** The chain model learns from every ended invocation, the master's and the ingresses'. */
  private chainsFinished(r: InvocationRecord): void {
    const chains = this.o.chains;
    if (!chains) return;
    const v = this.version(r);
    if (v) setImmediate(() => chains.finished(r, v.dag));
  }

  /**
   * A worker that took durable invocations on its own API died: each one it had not finished
   * (its record is in the journal, written before it was accepted) is adopted — the master
   * becomes its coordinator, raises the placement's epoch without the dead coordinator so every
   * worker reports here from its next commit, recovers the groups that were on the dead worker,
   * sends again what may not have left, and collects the sinks already committed.
   */
  private async adoptOrphans(workerId: string): Promise<void> {
    const journal = this.o.journal;
    if (!journal) return;
    const docs = await journal.orphans(workerId);
    for (const text of docs) {
      let doc: InvocationDoc;
      try {
        doc = JSON.parse(text) as InvocationDoc;
      } catch {
        continue;
      }
      if (this.records.has(doc.id)) continue;
      const r = this.restoreOne(doc);
      if (!r || r.status !== 'running') continue;
      const { coordinator: _dead, ...rest } = r.placement;
      const state = await journal.replace(
        r.id,
        { ...rest, epoch: (r.placement.epoch ?? 0) + 1 },
        journalTtlMs(r.deadline),
      );
      r.placement = state.placement ?? { ...rest, epoch: (r.placement.epoch ?? 0) + 1 };
      r.recoveries++;
      r.adoptedFrom = workerId;
      await this.store.putInvocation(toDoc(r));
      this.o.logger.info({ invocationId: r.id, ingress: workerId }, 'invocation adopted');
      const v = this.version(r);
      if (v && this.absorb(r, v, state)) continue;
      if (r.placement.groups.includes(workerId)) this.lost(r, new Set([workerId]));
      const after = r.recovering ?? Promise.resolve();
      await after.then(() => this.redrive(r));
    }
  }

  private onWorkerDeath(w: WorkerView): void {
    if (this.o.journal)
      this.adoptOrphans(w.id).catch((err: unknown) =>
        this.o.logger.warn({ err, worker: w.id }, 'adopting its invocations failed'),
      );
    this.o.deployments.forget(w.id);
    for (const r of this.records.values()) {
      if (r.status === 'running' && r.placement.groups.includes(w.id))
        this.lost(r, new Set([w.id]));
    }
  }

  /** Workers of `r` are gone: re-place a durable invocation, fail any other. */
  private lost(r: InvocationRecord, gone: ReadonlySet<string>): void {
    if (r.durability === 'none' || !this.o.journal) {
      this.finish(r, 'failed', undefined, workersLostError(r, gone));
      return;
    }
    const journal = this.o.journal;
    recoverInTurn(r, () => this.recover(r, gone, journal), {
      end: this.end,
      logger: this.o.logger,
      now: this.now,
    });
  }

  private async recover(
    r: InvocationRecord,
    gone: ReadonlySet<string>,
    journal: Journal,
  ): Promise<void> {
    if (r.status !== 'running') return;
    const stillGone = new Set([...gone].filter((id) => r.placement.groups.includes(id)));
    if (stillGone.size === 0) return;
    const v = this.version(r);
    if (!v) throw new AppError('WORKFLOW_NOT_FOUND', `workflow ${r.workflow}@${r.version} is gone`);
    const live = this.o.registry
      .ready()
      .filter((w) => !stillGone.has(w.id) && w.journal && this.o.deployments.holds(w.id, v));
    const replaced = replaceOnLive(
      r,
      stillGone,
      live,
      () => this.placement(v, live, r.id, false).groups,
    );
    const state = await journal.replace(r.id, replaced.placement, journalTtlMs(r.deadline));
    if (r.status !== 'running') return;
    for (const w of new Set(r.placement.groups)) this.adjustInflight(w, -1);
    r.placement = state.placement ?? replaced.placement;
    this.spans.placed(r.id, r.placement, this.now());
    for (const w of new Set(r.placement.groups)) this.adjustInflight(w, +1);
    r.recoveries++;
    r.lastActivityAt = this.now();
    this.o.logger.info(
      { invocationId: r.id, lost: [...stillGone], moved: replaced.moved, epoch: r.placement.epoch },
      'invocation re-placed',
    );
    await this.store.putInvocation(toDoc(r, r.inputKey ? this.inputs.get(r.inputKey) : undefined));
    if (this.absorb(r, v, state)) return;
    this.sendTriggers(
      r,
      v,
      recoveryTriggers(v.dag, v.partition.groupOf, replaced.moved, state, r.ctx.input),
    );
  }

  /** Takes what the journal knows (a failure, committed sinks); true when that ended `r`. */
  private absorb(r: InvocationRecord, v: WorkflowVersion, state: JournalState): boolean {
    if (state.failure) {
      this.finish(r, 'failed', undefined, AppError.fromWire(state.failure.error));
      return true;
    }
    for (const sink of v.dag.sinks) {
      const c = state.nodes.get(sink);
      if (c) this.sinkArrived(r, sink, c.skip === true || !c.ref ? null : c.ref);
    }
    if (r.sinksDone && r.completeTimer === undefined && !r.completing) {
      // Steps lost with a dead worker or while the master was down never come.
      r.completeTimer = setTimeout(() => this.complete(r), TIMELINE_GRACE_MS);
    }
    return r.status !== 'running';
  }

  /**
   * Once a second: running invocations whose workers left the registry are treated as lost
   * (after a master restart, only once workers have had time to register again), and quiet
   * durable ones are reconciled with their journal (reports lost while the master was down).
   */
  private sweep(): void {
    const now = this.now();
    const grace = this.o.workerTimeoutMs ?? 5_000;
    const settled = now - this.startedAt > grace;
    const quiet: InvocationRecord[] = [];
    for (const r of this.records.values()) {
      if (r.status !== 'running' || r.recovering) continue;
      if (settled) {
        const gone = new Set(
          r.placement.groups.filter((id) => {
            const w = this.o.registry.get(id);
            return !w || w.status === 'dead';
          }),
        );
        if (gone.size > 0) {
          this.lost(r, gone);
          continue;
        }
      }
      if (r.durability !== 'none' && now - r.lastActivityAt > RECONCILE_QUIET_MS) quiet.push(r);
    }
    if (quiet.length > 0) void this.reconcile(quiet);
  }

  private async reconcile(list: readonly InvocationRecord[]): Promise<void> {
    const journal = this.o.journal;
    if (!journal || this.reconciling) return;
    this.reconciling = true;
    try {
      for (const r of list) {
        r.lastActivityAt = this.now();
        const v = this.version(r);
        if (!v || r.status !== 'running') continue;
        try {
          const state = await journal.read(r.id);
          if (state.placement && (state.placement.epoch ?? 0) > (r.placement.epoch ?? 0))
            r.placement = state.placement;
          this.absorb(r, v, state);
        } catch (err) {
          this.o.logger.warn({ err, invocationId: r.id }, 'reconcile failed');
        }
      }
    } finally {
      this.reconciling = false;
    }
  }

  /**
   * A restarted master: takes back the stored records (running ones first), re-arms their
   * deadlines and reconciles the durable ones with their journals at once.
   */
  async restore(): Promise<{ running: number; finished: number }> {
    const docs = await this.store.loadInvocations(this.o.retain);
    let running = 0;
    for (const d of docs) {
      const r = this.restoreOne(d);
      if (r?.status === 'running') running++;
    }
    const quiet = [...this.records.values()].filter(
      (r) => r.status === 'running' && r.durability !== 'none',
    );
    if (quiet.length > 0) await this.reconcile(quiet);
    for (const r of this.records.values()) if (r.status === 'running') await this.redrive(r);
    return { running, finished: docs.length - running };
  }

  /**
   * After a master restart nobody knows which triggers of a running invocation were delivered
   * (the master may have died right after accepting it): send again every start that is not
   * committed and every committed edge whose child is not, all idempotent at the workers.
   */
  private async redrive(r: InvocationRecord): Promise<void> {
    const v = this.version(r);
    if (!v || r.status !== 'running') return;
    let state: Pick<JournalState, 'nodes'> = { nodes: new Map() };
    if (r.durability !== 'none' && this.o.journal) {
      try {
        state = await this.o.journal.read(r.id);
      } catch (err) {
        this.o.logger.warn(
          { err, invocationId: r.id },
          'journal unreadable; restarting sources only',
        );
      }
    }
    const all = v.partition.groups.map((_, g) => g);
    this.sendTriggers(r, v, recoveryTriggers(v.dag, v.partition.groupOf, all, state, r.ctx.input));
  }

  private restoreOne(d: Parameters<typeof fromDoc>[0]): InvocationRecord | null {
    const f = fromDoc(d);
    if (!f) {
      this.o.logger.warn({ invocationId: d.id }, 'stored record unreadable; skipped');
      return null;
    }
    const known = this.records.get(f.id);
    if (known) return known;
    const v = this.version(f);
    const r = this.newRecord({ ...f, sinks: v?.dag.sinks ?? [] });
    r.status = f.status;
    r.recoveries = f.recoveries;
    if (f.adoptedFrom !== undefined) r.adoptedFrom = f.adoptedFrom;
    r.steps = f.steps;
    r.stepsDropped = f.stepsDropped;
    for (const s of f.steps) if (!s.node.includes('[')) r.stepped.add(s.node);
    if (f.finishedAt !== undefined) r.finishedAt = f.finishedAt;
    if (f.output !== undefined) r.output = f.output;
    if (f.error) r.error = f.error;
    if (f.status !== 'running') r.settle();
    if (f.inputKey && f.inputData) this.inputs.set(f.inputKey, f.inputData);
    this.track(r);
    if (f.status === 'running' && !v)
      this.finish(
        r,
        'failed',
        undefined,
        new AppError('WORKFLOW_NOT_FOUND', `workflow ${f.workflow}@${f.version} is not deployed`),
      );
    return r;
  }

  cancel(id: InvocationId): InvocationRecord {
    const r = this.get(id);
    this.finish(
      r,
      'cancelled',
      undefined,
      new AppError('CANCELLED', `invocation ${id} was cancelled`),
    );
    return r;
  }

  private trim(): void {
    if (this.records.size <= this.o.retain) return;
    for (const [id, r] of this.records) {
      if (this.records.size <= this.o.retain) break;
      if (r.status !== 'running') this.records.delete(id);
    }
  }

  /**
   * Stops the sweep. Running invocations stay running: they are persisted, their workers carry
   * on, and a master started again on the same store collects their results.
   */
  close(): void {
    clearInterval(this.sweepTimer);
    this.spans.close(this.now());
    for (const r of this.records.values()) {
      if (r.timer) clearTimeout(r.timer);
      if (r.completeTimer) clearTimeout(r.completeTimer);
    }
  }

  /** The records of `workflow` (qualified name) this master keeps, oldest first. */
  recordsOf(workflow: string): InvocationRecord[] {
    return [...this.records.values()].filter((r) => r.workflow === workflow);
  }

  /** The dashboard's list: newest first, filtered and paged (list.ts). */
  list(f: InvocationFilter): InvocationPage {
    return listInvocations([...this.records.values()], f);
  }
}

/** A stated `demand` names task nodes of the workflow, on a master that harvests, not profiling. */
function checkDemand(
  v: WorkflowVersion,
  demand: Readonly<Record<string, GivenDemand>>,
  harvesting: boolean,
  req: StartRequest,
): void {
  if (!harvesting)
    throw new AppError(
      'CONFLICT',
      'demand needs harvesting; start the master with --harvest on --redis-url URL',
    );
  if (req.profile === true)
    throw new AppError(
      'BAD_REQUEST',
      'demand and profile: true exclude each other: a profiling run is at the maximum allocation',
    );
  const tasks = new Set<string>(v.dag.nodes.filter((n) => n.kind === 'task').map((n) => n.id));
  const unknown = Object.keys(demand).filter((n) => !tasks.has(n));
  if (unknown.length > 0)
    throw new AppError(
      'BAD_REQUEST',
      `demand names ${unknown.map((n) => JSON.stringify(n)).join(', ')}, not task nodes of ${v.name} (its task nodes: ${[...tasks].join(', ')})`,
    );
}
