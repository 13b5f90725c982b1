/**
 * The worker's own invocation API, behind the same contract as the master's (docs/design.md
 * §4, §9): this worker takes an invocation, places its groups from the placement view the
 * master pushes, starts the sources, collects the sink reports (addressed to it through the
 * placement's `coordinator`), assembles the output and answers — the master is not on the path.
 * Its record goes to the master in a batch once it has ended (and its timeline is complete, or
 * after a grace), so the master's list and the dashboard still show it.
 *
 * Invariants, as on the master (docs/durability.md):
 * - accepted means ended with one result: with durability the record is journaled (with this
 *   worker as its owner) before anything starts, and if this worker dies the master adopts it
 *   from the journal; without durability a dead placement worker fails it;
 * - an idempotency key is bound in the master's store (one place for the cluster) before the
 *   invocation starts: the same key never starts a second run;
 * - the answer never waits on telemetry: it goes out as soon as every sink has reported.
 *
 * Harvesting: with it on at the master, an invocation taken here gets the decision the master
 * would make — the same pure core, the master's model set (fetched off the path, `harvest.ts`),
 * grid and policy. `profile: true` and a stated `demand` (profiling and the benchmark's oracle)
 * are the master's: refused here with 409.
 */
import { encodeValue } from '../../shared/codec.js';
import { crashPoint } from '../../shared/crash.js';
import { AppError } from '../../shared/errors.js';
import type { Expressions } from '../../shared/expressions.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import { newInvocationId, type InvocationId } from '../../shared/ids.js';
import { assertInput } from '../../shared/input-schema.js';
import {
  applyReport,
  newRecord,
  sinkArrived,
  timelineComplete,
} from '../../shared/invocation/collect.js';
import { toDoc, type InvocationDoc } from '../../shared/invocation/doc.js';
import { assembleOutput } from '../../shared/invocation/output.js';
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
import type { InvocationRecord } from '../../shared/invocation/record.js';
import { recoveryTriggers, type RecoveryTrigger } from '../../shared/invocation/recovery.js';
import { journalTtlMs, type Journal, type JournalState } from '../../shared/journal.js';
import type { Logger } from '../../shared/logger.js';
import { eligibleWorkers, placeOnView, resolveDurability } from '../../shared/placement-view.js';
import { IDEMPOTENCY_TTL_MS } from '../../shared/schema/invocation-api.js';
import type {
  Placement,
  PlacementView,
  Report,
  StoredRef,
  Trigger,
} from '../../shared/schema/wire.js';
import {
  BUDGET_DEFAULTS,
  PLANNER_DEFAULTS,
  planStart,
  successorChains,
  type PlacedRun,
  type PrepareMessage,
} from '../../shared/chains/index.js';
import type { IngressChains } from './chains.js';
import type { IndexedDeployment } from '../engine/deployments.js';
import { ingressDecision, StagePlans, type IngressModels } from './harvest.js';
import { recordedHarvest } from '../../shared/harvest/invocation.js';
import type { ViewHolder } from './view.js';

/** What the coordinator needs of the rest of the worker (fakes in unit tests). */
export interface IngressPorts {
  /** Triggers for this worker's own groups (the engine, synchronously). */
  local(triggers: Trigger[]): void;
  /** Triggers for another worker; retried until `deadline`. */
  send(url: string, triggers: Trigger[], deadline: number): Promise<void>;
  /** Stores a large invocation input where the invocation's workers can read it. */
  put(
    invocationId: InvocationId,
    key: string,
    value: Buffer,
    consumers: { local: number; remote: number },
  ): Promise<StoredRef>;
  /** Reads an object this worker can read without asking another worker; else undefined. */
  read(ref: StoredRef): Promise<Buffer> | undefined;
  /** Frees the invocation on its workers (and drops its journal). */
  release(invocationId: InvocationId, urls: Iterable<string>): void;
  /** Binds an idempotency key in the master's store; resolves to the invocation it names. */
  claimKey(scopedKey: string, invocationId: InvocationId, ttlMs: number): Promise<InvocationId>;
  /** The master's record of an invocation (public view), or undefined when it has none yet. */
  lookup(invocationId: InvocationId): Promise<Record<string, unknown> | undefined>;
  /** Queues an ended invocation's record for the master. */
  ship(doc: InvocationDoc): void;
  /** Prepares ahead for the worker at `url` (this one's own scheduler when it is this worker). */
  prepare?(url: string, prepares: PrepareMessage[]): void;
}

export interface IngressOptions {
  workerId: string;
  /** This worker's base URL (known after listen). */
  url: () => string;
  view: ViewHolder;
  deployments: { latest(workflow: string): IndexedDeployment | undefined };
  ports: IngressPorts;
  peers: PeerClient;
  exprs: Expressions;
  logger: Logger;
  /** The journal (with Redis); without it every invocation runs as `none`. */
  journal?: Journal;
  inlineMaxBytes: number;
  /** The master's harvesting model sets, as this worker holds them (harvesting on). */
  models?: IngressModels;
  /** Adaptive chains: the kits of the master's chain model this worker plans prepares with. */
  chains?: IngressChains;
  /** Ended invocations kept for GET /v1/invocations/:id here. Default 1,000. */
  retain?: number;
  now?: () => number;
}

export interface IngressStart {
  input: unknown;
  timeoutMs: number;
  idempotencyKey?: string;
  profile?: boolean;
  /** The tenant's end user the invocation is for (recorded on it). */
  subTenant?: string;
  /** Adaptive chains: the caller's session (successors are learned within it). */
  session?: string;
  /** `wait: false`: an idempotency key naming another worker's invocation needs only its id. */
  wait: boolean;
}

/** Longest the record waits for the last steps before it is sent to the master without them. */
const TIMELINE_GRACE_MS = 1_000;
/** How often a key naming an invocation running elsewhere is looked up at the master. */
const LOOKUP_EVERY_MS = 50;
/** A new master's view must have been coming this long before absent workers count as dead. */
const SETTLE_MS = 5_000;

/** An invocation another worker (or the master) runs, named by an idempotency key. */
export interface RemoteInvocation {
  kind: 'remote';
  id: InvocationId;
  /** Its public view once ended (wait: true), else undefined. */
  answer?: Record<string, unknown>;
}

export class IngressCoordinator {
  private readonly records = new Map<InvocationId, InvocationRecord>();
  private readonly deps = new Map<InvocationId, IndexedDeployment>();
  private readonly now: () => number;
  private cursor = 0;
  private readonly plans = new StagePlans();
  /** Groups placed on each worker by this coordinator that are still running. */
  private readonly placed = new Map<string, number>();
  /** Per workflow version, where each group ran last (warm affinity). */
  private readonly lastPlacement = new Map<string, string[]>();
  private readonly end: EndInvocation = (r, status, output, error) =>
    this.finish(r, status, output, error);
  private closed = false;

  constructor(private readonly o: IngressOptions) {
    this.now = o.now ?? Date.now;
    o.view.onView((v, prev) => this.onView(v, prev));
  }

  get running(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.status === 'running') n++;
    return n;
  }

  get(id: InvocationId): InvocationRecord | undefined {
    return this.records.get(id);
  }

  /**
   * The workflow learns its composition (it was deployed with variants `<name>~<i>`): its
   * decisions and their log are the master's.
   */
  composes(workflow: string): boolean {
    return this.o.deployments.latest(`${workflow}~1`) !== undefined;
  }

  /**
   * Accepts an invocation: once this resolves it is journaled (durable) and its sources are
   * being started. With an idempotency key already bound, resolves to what the key names.
   */
  async start(workflow: string, req: IngressStart): Promise<InvocationRecord | RemoteInvocation> {
    const view = this.o.view.current();
    if (view.mode === 'master')
      throw new AppError(
        'CONFLICT',
        'the cluster runs in MasterSP mode (--mode master), where every trigger goes through the master: invoke on the master',
      );
    if (req.profile)
      throw new AppError(
        'CONFLICT',
        'profile: true is decided by the master (harvesting): POST this invocation to the master',
      );
    const dep = this.o.deployments.latest(workflow);
    if (!dep)
      throw new AppError(
        'WORKFLOW_NOT_FOUND',
        `workflow ${JSON.stringify(workflow)} is not deployed (GET /v1/workflows on the master lists the deployed ones)`,
      );
    if (dep.dag.inputSchema) assertInput(dep.workflow, dep.dag.inputSchema, req.input);
    const id = newInvocationId();
    if (req.idempotencyKey !== undefined) {
      const owner = await this.o.ports.claimKey(
        `${dep.workflow}:${req.idempotencyKey}`,
        id,
        IDEMPOTENCY_TTL_MS,
      );
      if (owner !== id) return this.existing(owner, req);
    }
    const { durability, placement } = this.place(dep, view, id);
    this.lastPlacement.set(`${dep.workflow}@${dep.version}`, placement.groups);
    this.cursor += placement.groups.length;
    const encoded = encodeValue(req.input);
    const harvest = view.harvest ? this.decideHarvest(dep, view, placement.groups, encoded) : null;
    const now = this.now();
    const deadline = now + req.timeoutMs;
    const input = await this.inputRef(id, encoded, placement.groups, durability !== 'none');
    const r = newRecord(
      {
        id,
        workflow: dep.workflow,
        version: dep.version,
        startedAt: now,
        deadline,
        placement,
        ctx: {
          tenant: view.tenant,
          ...(req.subTenant === undefined ? {} : { subTenant: req.subTenant }),
          deadline,
          input,
          master: view.master,
          mode: 'worker',
          ...(harvest ? { harvest: harvest.ctx } : {}),
          ...(durability === 'none' ? {} : { durability }),
        },
        durability,
        sinks: dep.dag.sinks,
        ...(req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey }),
        ...(harvest ? { harvest: recordedHarvest(harvest.decision, req.subTenant) } : {}),
        ...(req.subTenant === undefined ? {} : { subTenant: req.subTenant }),
        ...(req.session === undefined ? {} : { session: req.session }),
      },
      now,
    );
    if (durability !== 'none') {
      try {
        await this.o.journal!.accept(
          id,
          this.o.workerId,
          JSON.stringify(toDoc(r)),
          journalTtlMs(deadline, now),
        );
      } catch (err) {
        throw new AppError(
          'STORE_UNAVAILABLE',
          `invocation not accepted: its journal could not be written: ${AppError.from(err).message}`,
          { cause: err },
        );
      }
    }
    this.deps.set(id, dep);
    this.track(r);
    crashPoint('worker:after-accept');
    this.sendTriggers(
      r,
      dep,
      dep.dag.sources.map((node) => ({ node, from: null, ref: input })),
    );
    try {
      this.prepareAhead(r, dep, view, encoded.length);
    } catch (err) {
      // An optimisation: never a reason to fail a started invocation.
      this.o.logger.warn({ err, invocationId: id }, 'prepares ahead not planned');
    }
    return r;
  }

  /** Where an invocation of `dep` goes on `view` now, and with which durability (no change made). */
  private place(
    dep: IndexedDeployment,
    view: PlacementView,
    key: string,
  ): { durability: ReturnType<typeof resolveDurability>; placement: Placement } {
    const durability = resolveDurability({
      workflow: dep.workflow,
      asked: dep.dag.durability ?? view.durability,
      journal: view.journal && this.o.journal !== undefined,
      capable: view.workers.some((w) => w.status === 'ready' && w.journal),
    });
    const placement = placeOnView({
      strategy: view.strategy,
      workers: eligibleWorkers(view, dep.workflow, dep.version, durability),
      dag: dep.dag,
      groupOf: dep.groupOf,
      key,
      cursor: this.cursor,
      affinity: this.lastPlacement.get(`${dep.workflow}@${dep.version}`) ?? [],
      extraLoad: this.placed,
      coordinator: this.o.url(),
    });
    return { durability, placement };
  }

  /**
   * Adaptive chains: the prepares the master would send for this start, planned here from the
   * kit this worker holds (none yet: none this time) and sent to their workers. A likely
   * successor deployed here is planned where it would be placed now.
   */
  private prepareAhead(
    r: InvocationRecord,
    dep: IndexedDeployment,
    view: PlacementView,
    inputBytes: number,
  ): void {
    const ports = this.o.ports;
    const kit = ports.prepare && this.o.chains?.get(dep.workflow, view.master);
    if (!kit) return;
    const now = this.now();
    const successors: PlacedRun[] = [];
    for (const chain of successorChains(kit.model, dep.workflow, now)) {
      if (chain.score < PLANNER_DEFAULTS.minSuccessorScore) break; // best first
      const next = this.o.deployments.latest(chain.workflow);
      if (next?.dag.prewarm?.mode !== 'predictive') continue;
      try {
        const { placement } = this.place(next, view, `${r.id}:${next.workflow}`);
        successors.push({ dag: next.dag, version: next.version, groupOf: next.groupOf, placement });
      } catch (err) {
        // Not placeable here now (no eligible worker, a durability it cannot have): not planned.
        this.o.logger.debug({ err, workflow: next.workflow }, 'successor not planned');
      }
    }
    const plan = planStart({
      model: kit.model,
      price: (w) => kit.prices[w] ?? BUDGET_DEFAULTS.initialPrice,
      run: { dag: dep.dag, version: dep.version, groupOf: dep.groupOf, placement: r.placement },
      successors,
      inputBytes,
      startedAt: r.startedAt,
      nowMs: now,
    });
    if (plan.prewarm) r.prewarm = plan.prewarm;
    for (const [url, prepares] of plan.messages) ports.prepare?.(url, prepares);
  }

  /** The harvest decision for an invocation placed on `groups` (the master's, made here). */
  private decideHarvest(
    dep: IndexedDeployment,
    view: PlacementView,
    groups: readonly string[],
    encoded: Buffer,
  ): ReturnType<typeof ingressDecision> {
    const placed = new Set(groups);
    return ingressDecision({
      workflow: dep.workflow,
      dag: dep.dag,
      plan: this.plans.of(`${dep.workflow}@${dep.version}`, dep.dag),
      dagInputBytes: encoded.length,
      capacities: view.workers.filter((w) => placed.has(w.id)).map((w) => w.capacity),
      view,
      models: this.o.models?.get(dep.workflow, view) ?? {
        set: null,
        why: 'this worker holds no harvesting models',
      },
    });
  }

  /** Inline when small; else stored (Redis when durable, so it outlives this worker). */
  private async inputRef(
    id: InvocationId,
    buf: Buffer,
    groups: readonly string[],
    durable: boolean,
  ): Promise<StoredRef> {
    if (buf.length <= this.o.inlineMaxBytes)
      return { tier: 'inline', data: buf.toString('base64'), sizeBytes: buf.length };
    const mine = groups.some((g) => g === this.o.workerId);
    const others = durable || groups.some((g) => g !== this.o.workerId);
    return this.o.ports.put(id, '$input', buf, {
      local: mine ? 1 : 0,
      remote: others ? 1 : 0,
    });
  }

  /** What an idempotency key names: one of ours, or one the master or another worker runs. */
  private async existing(
    id: InvocationId,
    req: IngressStart,
  ): Promise<InvocationRecord | RemoteInvocation> {
    const mine = this.records.get(id);
    if (mine) return mine;
    if (!req.wait) return { kind: 'remote', id };
    const until = this.now() + req.timeoutMs;
    for (;;) {
      const seen = await this.o.ports.lookup(id);
      if (seen && seen['status'] !== 'running') return { kind: 'remote', id, answer: seen };
      const local = this.records.get(id);
      if (local) return local;
      if (this.now() >= until || this.closed)
        throw new AppError(
          'INVOCATION_TIMEOUT',
          `idempotency key ${JSON.stringify(req.idempotencyKey)} names invocation ${id}, still running after ${req.timeoutMs} ms; read it with GET /v1/invocations/${id}`,
        );
      await new Promise((resolve) => setTimeout(resolve, LOOKUP_EVERY_MS));
    }
  }

  private track(r: InvocationRecord): void {
    this.records.set(r.id, r);
    this.trim();
    armDeadline(r, this.now(), this.end);
    this.count(r, +1);
  }

  private count(r: InvocationRecord, delta: number): void {
    for (const w of new Set(r.placement.groups)) {
      const n = Math.max(0, (this.placed.get(w) ?? 0) + delta);
      if (n === 0) this.placed.delete(w);
      else this.placed.set(w, n);
    }
  }

  /** Sends triggers of `r` to the owners of their nodes (this worker's own directly). */
  private sendTriggers(
    r: InvocationRecord,
    dep: IndexedDeployment,
    list: readonly RecoveryTrigger[],
  ): void {
    const byUrl = new Map<string, Trigger[]>();
    const local: Trigger[] = [];
    for (const t of list) {
      const owner = r.placement.groups[dep.groupOf[t.node]!]!;
      const trigger: Trigger = {
        invocationId: r.id,
        workflow: r.workflow,
        version: r.version,
        node: t.node,
        from: t.from,
        placement: r.placement,
        ctx: r.ctx,
        ...(t.skip ? { skip: true } : { ref: t.ref! }),
      };
      if (owner === this.o.workerId) {
        local.push(trigger);
        continue;
      }
      const url = r.placement.workers[owner]!;
      byUrl.set(url, [...(byUrl.get(url) ?? []), trigger]);
    }
    for (const [url, triggers] of byUrl) {
      this.o.ports.send(url, triggers, r.deadline).catch((err: unknown) => {
        const e = sendFailure(r, err);
        if (e) this.finish(r, 'failed', undefined, e);
      });
    }
    if (local.length > 0) {
      try {
        this.o.ports.local(local);
      } catch (err) {
        this.finish(r, 'failed', undefined, AppError.from(err));
      }
    }
  }

  /** Reports of the invocations this worker coordinates, in any order and possibly repeated. */
  accept(reports: readonly Report[]): void {
    for (const rep of reports) {
      const r = this.records.get(rep.invocationId);
      if (!r) continue;
      const effect = applyReport(r, rep, this.now());
      switch (effect.kind) {
        case 'sinks-done':
          this.complete(r);
          break;
        case 'failed':
          this.finish(r, 'failed', undefined, effect.error);
          break;
        case 'step':
          if (r.status !== 'running') this.maybeShip(r);
          break;
        case 'none':
          break;
      }
    }
  }

  /** Every sink has reported: assemble and answer now (steps still coming do not hold it). */
  private complete(r: InvocationRecord): void {
    const dep = this.deps.get(r.id)!;
    completeOnce(r, {
      assemble: () =>
        assembleOutput(
          this.o.peers,
          this.o.exprs,
          { dag: dep.dag, groupOf: dep.groupOf },
          r.placement,
          r.sinkOutputs,
          (ref) => this.o.ports.read(ref),
        ),
      end: this.end,
      now: this.now,
      // A sink's output may be unreachable while its worker is re-placed: try again shortly.
      later: () => setTimeout(() => this.complete(r), 200).unref(),
    });
  }

  private finish(r: InvocationRecord, status: EndStatus, output?: unknown, error?: AppError): void {
    if (!endRecord(r, status, this.now(), output, error)) return;
    this.count(r, -1);
    r.settle();
    this.o.ports.release(r.id, Object.values(r.placement.workers));
    this.maybeShip(r);
    this.o.logger.debug({ invocationId: r.id, status }, 'invocation finished');
  }

  /** Sends the ended record to the master once its timeline is complete, or after a grace. */
  private maybeShip(r: InvocationRecord): void {
    if (r.shipped) return;
    const nodes = this.deps.get(r.id)?.dag.nodes.length ?? 0;
    if (timelineComplete(r, nodes)) {
      if (r.completeTimer) clearTimeout(r.completeTimer);
      this.ship(r);
      return;
    }
    r.completeTimer ??= setTimeout(() => this.ship(r), TIMELINE_GRACE_MS);
    r.completeTimer.unref();
  }

  private ship(r: InvocationRecord): void {
    if (r.shipped) return;
    r.shipped = true;
    this.o.ports.ship(toDoc(r));
  }

  cancel(id: InvocationId): InvocationRecord | undefined {
    const r = this.records.get(id);
    if (!r) return undefined;
    this.finish(
      r,
      'cancelled',
      undefined,
      new AppError('CANCELLED', `invocation ${id} was cancelled`),
    );
    return r;
  }

  /**
   * A new view: workers of running invocations that left it died (or left). A `none`
   * invocation fails with WORKER_UNREACHABLE; a durable one has those groups re-placed on live
   * workers and resumes from its journal (the same pure recovery as the master's).
   */
  private onView(v: PlacementView, prev: PlacementView | undefined): void {
    if (prev === undefined || this.o.view.settledMs < SETTLE_MS) return;
    const live = new Set(v.workers.map((w) => w.id));
    for (const r of this.records.values()) {
      if (r.status !== 'running' || r.recovering) continue;
      const gone = new Set(r.placement.groups.filter((id) => !live.has(id)));
      if (gone.size > 0) this.lost(r, gone, v);
    }
  }

  private lost(r: InvocationRecord, gone: ReadonlySet<string>, v: PlacementView): void {
    const journal = this.o.journal;
    if (r.durability === 'none' || !journal) {
      this.finish(r, 'failed', undefined, workersLostError(r, gone));
      return;
    }
    recoverInTurn(r, () => this.recover(r, gone, v, journal), {
      end: this.end,
      logger: this.o.logger,
      now: this.now,
    });
  }

  private async recover(
    r: InvocationRecord,
    gone: ReadonlySet<string>,
    v: PlacementView,
    journal: Journal,
  ): Promise<void> {
    const dep = this.deps.get(r.id)!;
    const live = eligibleWorkers(v, r.workflow, r.version, r.durability).filter(
      (w) => !gone.has(w.id),
    );
    const replaced = replaceOnLive(
      r,
      gone,
      live,
      () =>
        placeOnView({
          strategy: v.strategy,
          workers: live,
          dag: dep.dag,
          groupOf: dep.groupOf,
          key: r.id,
          cursor: this.cursor,
          extraLoad: this.placed,
        }).groups,
    );
    const next = { ...replaced.placement, coordinator: this.o.url() };
    const state = await journal.replace(r.id, next, journalTtlMs(r.deadline, this.now()));
    if (r.status !== 'running') return;
    this.count(r, -1);
    r.placement = state.placement ?? next;
    this.count(r, +1);
    r.recoveries++;
    this.o.logger.info(
      { invocationId: r.id, lost: [...gone], moved: replaced.moved },
      'invocation re-placed',
    );
    if (this.absorb(r, state)) return;
    this.sendTriggers(
      r,
      dep,
      recoveryTriggers(dep.dag, dep.groupOf, replaced.moved, state, r.ctx.input),
    );
  }

  /** Takes what the journal knows (a failure, committed sinks); true when that ended `r`. */
  private absorb(r: InvocationRecord, state: JournalState): boolean {
    if (state.failure) {
      this.finish(r, 'failed', undefined, AppError.fromWire(state.failure.error));
      return true;
    }
    const dep = this.deps.get(r.id)!;
    for (const sink of dep.dag.sinks) {
      const c = state.nodes.get(sink);
      if (c && sinkArrived(r, sink, c.skip === true || !c.ref ? null : c.ref)) this.complete(r);
    }
    return r.status !== 'running';
  }

  private trim(): void {
    const retain = this.o.retain ?? 1_000;
    if (this.records.size <= retain) return;
    for (const [id, r] of this.records) {
      if (this.records.size <= retain) break;
      if (r.status !== 'running') {
        this.records.delete(id);
        this.deps.delete(id);
      }
    }
  }

  /** Stops: running invocations are left to the master (durable ones are in the journal). */
  close(): void {
    this.closed = true;
    for (const r of this.records.values()) {
      if (r.timer) clearTimeout(r.timer);
      if (r.completeTimer) clearTimeout(r.completeTimer);
    }
  }
}
