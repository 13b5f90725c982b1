/**
 * Harvesting's service on the master: decides each invocation's allocations at its start,
 * turns finished invocations into profile records, keeps each workflow's model set, and
 * retrains in the background as records accumulate.
 *
 * Invariants:
 * - nothing here delays an invocation: `decide` is synchronous over cached models (a workflow's
 *   set is loaded from the store on first use; `ready` lets a caller wait for that load, and
 *   until it lands decisions fall back with `no-model`); `finished` is called after the caller
 *   has its answer and its store write is not awaited by anyone;
 * - one training at a time on the master (a queue, one entry per workflow), in a worker thread;
 *   an automatic one starts once `retrainEvery` new records arrived and enough are stored;
 * - model-set versions come from the store's counter, so they only grow, across restarts too;
 * - the per-workflow count of records since the last training survives a restart when
 *   `counters` is given (the master keeps it in its own store): a restarted master retrains
 *   after `retrainEvery` records in all, not `retrainEvery` more;
 * - a store failure never fails an invocation: it is logged, and decisions fall back.
 */
import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import { AppError, type WireError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { ALLOCATION_GRID, type AllocationGrid } from '../../shared/harvest/types.js';
import type { Allocation, NodeAllocation } from '../../shared/schema/wire.js';
import type { CpuPolicy } from '../../shared/harvest/decide.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import type { WorkflowVersion } from '../workflow/catalog.js';
import {
  givenDecision,
  harvestDecision,
  maxAllocation,
  profilingDecision,
  wireHarvest,
  type GivenDemand,
  type InvocationHarvest,
} from '../../shared/harvest/invocation.js';
import {
  loadModelSet,
  modelSetToJson,
  TRAIN_DEFAULTS,
  type ModelSet,
  type ModelSetJson,
} from './models.js';
import { checkProfileRecord, type ProfileRecord } from './profile.js';
import { profileRecords } from './recorder.js';
import { findStages, type StagePlan } from '../../shared/harvest/stages.js';
import type { HarvestStore, ModelSummary, ProfileStats } from './store.js';
import type { Trainer } from './trainer.js';
import { trainingRecords } from './training-set.js';

const gunzip = promisify(gunzipCb);

/** Fewest stored records worth a training: one model's minimum after the held-out split. */
export const MIN_PROFILES_TO_TRAIN = Math.ceil(
  TRAIN_DEFAULTS.minRecords / (1 - TRAIN_DEFAULTS.holdoutFraction),
);
/** Seed of every training: the same records give the same models. */
export const TRAIN_SEED = 1;
/** After a failed load, the store is asked again no sooner than this. */
const RELOAD_AFTER_MS = 5_000;
/** Stage plans cached (per workflow version). */
const PLAN_CACHE = 256;

export interface HarvesterOptions {
  store: HarvestStore;
  trainer: Trainer;
  logger: Logger;
  /** New records of a workflow that trigger a background retrain. */
  retrainEvery: number;
  /** Most recent records a training reads. */
  trainLimit: number;
  /** Where the records-since-training counts persist; without it they start at 0 each start. */
  counters?: RetrainCounters;
  /** The allocation grid decisions are made on. Default `ALLOCATION_GRID` (fine steps). */
  grid?: AllocationGrid;
  /** How a stage's CPU is shared. Default `work`. */
  cpuPolicy?: CpuPolicy;
  /**
   * Freeze the models: runs of non-profiling invocations record no profiles and so trigger no
   * retraining, and measurements do not move the models they measure. Profiling invocations
   * still record. Default false.
   */
  freezeModels?: boolean;
  /** Profiling invocations run a stage's siblings one at a time (`serial`, default) or together. */
  profileSiblings?: 'serial' | 'parallel';
  now?: () => number;
}

/** The records-since-training counts per workflow, saved whenever they change. */
export interface RetrainCounters {
  /** The counts saved before this master started. */
  initial: Record<string, number>;
  save(counts: Record<string, number>): Promise<void>;
}

export interface DecideRequest {
  dagInputBytes: number;
  /** A profiling run: every node at the maximum allocation. */
  profile: boolean;
  /** The demand of task nodes, stated by the caller: decided from it instead of the models. */
  demand?: Readonly<Record<string, GivenDemand>>;
}

export interface ModelsView {
  workflow: string;
  /** The set decisions use now; null before the first training. */
  current: ModelSummary | null;
  /** The last model sets, newest first (the current one included). */
  history: ModelSummary[];
  profiles: ProfileStats;
  training: {
    running: boolean;
    queued: boolean;
    /** Records since the last training started (this master's count). */
    newRecords: number;
    retrainEvery: number;
    minRecords: number;
    lastError: WireError | null;
  };
}

type Loaded =
  | { state: 'loaded'; set: ModelSet | null; summary: ModelSummary | null }
  | { state: 'failed'; error: AppError; at: number };

interface Waiter {
  resolve(s: ModelSummary): void;
  reject(e: AppError): void;
}

export class Harvester {
  private readonly models = new Map<string, Loaded>();
  private readonly loading = new Map<string, Promise<void>>();
  private readonly plans = new Map<string, StagePlan>();
  private readonly newRecords = new Map<string, number>();
  private readonly lastError = new Map<string, AppError>();
  private readonly queue = new Map<string, Waiter[]>();
  /** Profile appends in flight per workflow; a training waits for them. */
  private readonly appending = new Map<string, Set<Promise<void>>>();
  private running: { workflow: string; waiters: Waiter[]; done: Promise<void> } | null = null;
  private readonly abort = new AbortController();
  private closing: Promise<void> | undefined;
  private readonly now: () => number;
  /** The counts save in flight, and whether they changed since it started. */
  private saving: Promise<void> | null = null;
  private countsDirty = false;

  private readonly grid: AllocationGrid;
  private readonly cpuPolicy: CpuPolicy;

  constructor(private readonly o: HarvesterOptions) {
    this.now = o.now ?? Date.now;
    for (const [workflow, n] of Object.entries(o.counters?.initial ?? {}))
      if (Number.isInteger(n) && n > 0) this.newRecords.set(workflow, n);
    this.grid = o.grid ?? ALLOCATION_GRID;
    this.cpuPolicy = o.cpuPolicy ?? 'work';
  }

  get store(): HarvestStore {
    return this.o.store;
  }

  /** Called whenever a workflow's model set is loaded or replaced (the placement view says so). */
  onModels: (() => void) | undefined;

  private modelsChanged(): void {
    this.onModels?.();
  }

  /**
   * The version of every model set loaded here, by workflow: what an ingress worker needs to
   * decide as the master does (it fetches a set it lacks with `modelSet`).
   */
  modelVersions(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [workflow, m] of this.models)
      if (m.state === 'loaded' && m.set) out[workflow] = m.set.version;
    return out;
  }

  /** A loaded model set in its portable form; null when none is loaded for `workflow`. */
  modelSet(workflow: string): ModelSetJson | null {
    const m = this.models.get(workflow);
    return m?.state === 'loaded' && m.set ? modelSetToJson(m.set) : null;
  }

  /** How decisions are made here: the grid and the CPU policy (ingress workers use the same). */
  get policy(): { grid: AllocationGrid; cpuPolicy: CpuPolicy } {
    return { grid: this.grid, cpuPolicy: this.cpuPolicy };
  }

  /**
   * Resolves once the workflow's model set is loaded (or failed to), or after `maxWaitMs`
   * (the load goes on); never rejects.
   */
  ready(workflow: string, maxWaitMs = Infinity): Promise<void> {
    const m = this.models.get(workflow);
    if (m?.state === 'loaded') return Promise.resolve();
    if (m?.state === 'failed' && this.now() - m.at < RELOAD_AFTER_MS) return Promise.resolve();
    let p = this.loading.get(workflow);
    if (!p) {
      p = this.load(workflow).finally(() => this.loading.delete(workflow));
      this.loading.set(workflow, p);
    }
    if (maxWaitMs === Infinity) return p;
    // Only the first load is waited for; a reload after a failure runs in the background.
    if (m?.state === 'failed') return Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      p,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, maxWaitMs))),
    ]).finally(() => clearTimeout(timer));
  }

  private async load(workflow: string): Promise<void> {
    try {
      const stored = await this.o.store.loadModelSet(workflow);
      const set = stored ? loadModelSet((await gunzip(stored.gzipped)).toString('utf8')) : null;
      // A training that finished meanwhile is newer than what was read.
      if (this.models.get(workflow)?.state !== 'loaded') {
        this.models.set(workflow, { state: 'loaded', set, summary: stored?.summary ?? null });
        if (set) this.modelsChanged();
      }
      if (set) this.o.logger.info({ workflow, version: set.version }, 'harvest models loaded');
    } catch (err) {
      const error = AppError.from(err);
      this.models.set(workflow, { state: 'failed', error, at: this.now() });
      this.o.logger.warn({ err: error, workflow }, 'harvest models could not be loaded');
    }
  }

  /** The decision for an invocation starting now; `capacities` are the workers it may use. */
  decide(
    v: WorkflowVersion,
    req: DecideRequest,
    capacities: readonly { cpu: number; memoryMb: number }[],
  ): { decision: InvocationHarvest; ctx: Record<string, NodeAllocation> } {
    const input = {
      workflow: v.name,
      dag: v.dag,
      plan: this.plan(v),
      dagInputBytes: req.dagInputBytes,
      max: maxAllocation(capacities, this.grid),
    };
    let decision: InvocationHarvest;
    if (req.profile) decision = profilingDecision(input, this.o.profileSiblings !== 'parallel');
    else if (req.demand !== undefined)
      decision = givenDecision(input, req.demand, this.grid, this.cpuPolicy);
    else {
      const m = this.models.get(v.name);
      if (m?.state === 'loaded' && m.set) {
        try {
          decision = harvestDecision(input, { set: m.set }, this.grid, this.cpuPolicy);
        } catch (err) {
          // A decision must never fail an invocation: it runs as the user asked.
          this.o.logger.warn({ err, workflow: v.name }, 'harvest prediction failed');
          const why = `prediction failed: ${AppError.from(err).message}`;
          decision = harvestDecision(input, { set: null, why }, this.grid, this.cpuPolicy);
        }
      } else {
        if (m?.state !== 'loaded') void this.ready(v.name);
        const why = this.noModel(v.name, m);
        decision = harvestDecision(input, { set: null, why }, this.grid, this.cpuPolicy);
      }
    }
    return { decision, ctx: wireHarvest(decision) };
  }

  private noModel(workflow: string, m: Loaded | undefined): string {
    if (m === undefined) return `the model set of ${workflow} is still loading`;
    if (m.state === 'failed')
      return `the model set of ${workflow} is unavailable: ${m.error.message}`;
    return `no model set for ${workflow} yet: profile it (faasflow profile ${workflow} …) and train (faasflow models ${workflow} --train)`;
  }

  private plan(v: WorkflowVersion): StagePlan {
    const key = `${v.name}@${v.version}`;
    let p = this.plans.get(key);
    if (!p) {
      p = findStages(v.dag);
      this.plans.set(key, p);
      if (this.plans.size > PLAN_CACHE) this.plans.delete(this.plans.keys().next().value!);
    }
    return p;
  }

  /** A succeeded invocation's profile records, appended to the store; call off the answer path. */
  finished(r: InvocationRecord, v: WorkflowVersion): void {
    if (!r.harvest || this.closing) return;
    if (this.o.freezeModels === true && r.harvest.mode !== 'profiling') return;
    const applied: Record<string, Allocation> = {};
    for (const n of r.harvest.nodes) applied[n.node] = n.applied;
    const { records, skipped } = profileRecords({
      workflow: v.name,
      version: v.version,
      invocationId: r.id,
      dagInputBytes: r.harvest.dagInputBytes,
      dag: v.dag,
      plan: this.plan(v),
      steps: r.steps,
      applied,
    });
    const write = this.o.store.appendProfiles(v.name, records, skipped).then(
      () => this.counted(v.name, records.length),
      (err: unknown) =>
        this.o.logger.warn(
          { err, workflow: v.name, invocationId: r.id, records: records.length },
          'profile records were not stored',
        ),
    );
    const inFlight = this.appending.get(v.name) ?? new Set();
    this.appending.set(v.name, inFlight);
    inFlight.add(write);
    void write.finally(() => {
      inFlight.delete(write);
      if (inFlight.size === 0 && this.appending.get(v.name) === inFlight)
        this.appending.delete(v.name);
    });
  }

  /** Appends records from elsewhere (an export, another cluster); each must name `workflow`. */
  async importProfiles(workflow: string, records: readonly ProfileRecord[]): Promise<ProfileStats> {
    const problems: string[] = [];
    records.forEach((r, i) => {
      if (r.workflow !== workflow)
        problems.push(`record ${i}: workflow is ${JSON.stringify(r.workflow)}, not ${workflow}`);
      for (const p of checkProfileRecord(r)) problems.push(`record ${i}, ${p.field}: ${p.message}`);
    });
    if (problems.length > 0)
      throw new AppError(
        'BAD_REQUEST',
        `cannot import ${records.length} profile records into ${workflow}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.slice(0, 20).join('\n  ')}`,
        { details: { problems } },
      );
    await this.o.store.appendProfiles(workflow, records);
    this.counted(workflow, records.length);
    return this.o.store.profileStats(workflow);
  }

  private counted(workflow: string, n: number): void {
    if (n === 0) return;
    const total = (this.newRecords.get(workflow) ?? 0) + n;
    this.newRecords.set(workflow, total);
    this.saveCounts();
    if (total >= this.o.retrainEvery && !this.queue.has(workflow)) {
      this.queue.set(workflow, []);
      this.pump();
    }
  }

  /** Trains now (after any training already running) and resolves with the new set's summary. */
  train(workflow: string): Promise<ModelSummary> {
    if (this.closing) return Promise.reject(shuttingDown());
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      // A training of this workflow already running covers every stored record when none
      // arrived since it started: its result answers this request too.
      const r = this.running;
      if (
        r?.workflow === workflow &&
        (this.newRecords.get(workflow) ?? 0) === 0 &&
        !this.appending.has(workflow)
      ) {
        r.waiters.push(waiter);
        return;
      }
      const waiters = this.queue.get(workflow);
      if (waiters) waiters.push(waiter);
      else this.queue.set(workflow, [waiter]);
      this.pump();
    });
  }

  private pump(): void {
    if (this.running || this.closing) return;
    const next = this.queue.entries().next();
    if (next.done) return;
    const [workflow, waiters] = next.value;
    this.queue.delete(workflow);
    // `waiters` may still grow while the training runs (see `train`).
    const done = this.trainNow(workflow).then(
      (summary) => {
        this.lastError.delete(workflow);
        for (const w of waiters) w.resolve(summary);
      },
      (err: unknown) => {
        const e = AppError.from(err);
        // Too few records is an answer to a request, not a failure of the service.
        if (e.code !== 'CONFLICT') this.lastError.set(workflow, e);
        if (waiters.length === 0 && e.code !== 'CONFLICT' && e.code !== 'CANCELLED')
          this.o.logger.warn({ err: e, workflow }, 'background training failed');
        for (const w of waiters) w.reject(e);
      },
    );
    this.running = {
      workflow,
      waiters,
      done: done.finally(() => {
        this.running = null;
        // setImmediate: the next training starts after this turn's callers saw the result.
        setImmediate(() => this.pump());
      }),
    };
  }

  /** One training; CONFLICT when too few records are usable. */
  private async trainNow(workflow: string): Promise<ModelSummary> {
    // Invocations that finished before this training was asked for are in its records.
    await Promise.all([...(this.appending.get(workflow) ?? new Set<Promise<void>>())]);
    this.newRecords.set(workflow, 0);
    this.saveCounts();
    // Those appends may have queued an automatic retrain; this training covers their records.
    if (this.queue.get(workflow)?.length === 0) this.queue.delete(workflow);
    const recent = await this.o.store.recentProfiles(workflow, this.o.trainLimit);
    const { records, censored: capped, contended } = trainingRecords(recent);
    const censored = capped + contended;
    if (records.length < MIN_PROFILES_TO_TRAIN) {
      const left =
        censored > 0
          ? ` (${censored} more were left out: CPU-capped, throttled or contended runs)`
          : '';
      throw new AppError(
        'CONFLICT',
        `${workflow} has ${records.length} usable profile records${left}; training needs at least ${MIN_PROFILES_TO_TRAIN}: run \`faasflow profile ${workflow} --generate N --generator FILE\` first`,
        { details: { records: records.length, censored, minRecords: MIN_PROFILES_TO_TRAIN } },
      );
    }
    const version = await this.o.store.nextModelVersion(workflow);
    const started = this.now();
    const out = await this.o.trainer(
      { records, options: { version, trainedAt: started, seed: TRAIN_SEED, grid: this.grid } },
      this.abort.signal,
    );
    const set = loadModelSet((await gunzip(out.gzipped)).toString('utf8'));
    const summary: ModelSummary = {
      version,
      trainedAt: started,
      records: recent.length,
      excluded: censored,
      trainRecords: set.trainRecordCount,
      testRecords: set.testRecordCount,
      ml1: set.ml1.size,
      ml2: set.ml2.size,
      skipped: set.skipped,
      evaluation: set.evaluation,
      trainMs: out.trainMs,
      sizeBytes: out.gzipped.length,
    };
    await this.o.store.saveModelSet(workflow, out.gzipped, summary);
    this.models.set(workflow, { state: 'loaded', set, summary });
    this.modelsChanged();
    this.o.logger.info(
      { workflow, version, records: records.length, excluded: censored, trainMs: out.trainMs },
      'harvest models trained',
    );
    return summary;
  }

  /**
   * Saves the counts off the invocation path: at most one save in flight, and one more after it
   * when they changed meanwhile, so the last save holds the latest counts. A failed save is
   * logged; the next change saves again.
   */
  private saveCounts(): void {
    if (!this.o.counters) return;
    this.countsDirty = true;
    this.saving ??= this.drainCounts(this.o.counters);
  }

  private async drainCounts(counters: RetrainCounters): Promise<void> {
    while (this.countsDirty) {
      this.countsDirty = false;
      try {
        await counters.save(Object.fromEntries(this.newRecords));
      } catch (err) {
        this.o.logger.warn({ err }, 'harvest retrain counters were not saved');
      }
    }
    // In the same turn as the last check: a change from now on starts a new drain.
    this.saving = null;
  }

  async view(workflow: string): Promise<ModelsView> {
    await this.ready(workflow);
    const [history, profiles] = await Promise.all([
      this.o.store.modelHistory(workflow, 10),
      this.o.store.profileStats(workflow),
    ]);
    const m = this.models.get(workflow);
    const current = m?.state === 'loaded' ? m.summary : (history[0] ?? null);
    const lastError = this.lastError.get(workflow) ?? (m?.state === 'failed' ? m.error : null);
    return {
      workflow,
      current,
      history,
      profiles,
      training: {
        running: this.running?.workflow === workflow,
        queued: this.queue.has(workflow),
        newRecords: this.newRecords.get(workflow) ?? 0,
        retrainEvery: this.o.retrainEvery,
        minRecords: MIN_PROFILES_TO_TRAIN,
        lastError: lastError ? lastError.toWire() : null,
      },
    };
  }

  /** Cancels queued and running trainings, then closes the store. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const waiters of this.queue.values()) for (const w of waiters) w.reject(shuttingDown());
      this.queue.clear();
      this.abort.abort();
      await this.running?.done;
      await this.saving;
      await this.o.store.close();
    })();
    return this.closing;
  }
}

function shuttingDown(): AppError {
  return new AppError('CANCELLED', 'training was cancelled: the master is shutting down');
}
