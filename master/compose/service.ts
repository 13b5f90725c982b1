/**
 * Composition at run time (docs/guides/composition.md): picks the variant at invocation start,
 * turns ended invocations into rewards (after the feedback window when the reward reads
 * `$feedback`), trains off the request path on a timer, and keeps each workflow's versioned
 * model and decision log in the master store (Redis, or the embedded store), so a restarted
 * master continues where it stopped.
 *
 * Invariants: a decision never waits for training or for the store once the workflow's learner
 * is loaded (the first decision waits for one store read); a reward is counted once; feedback
 * is accepted once per invocation, while its window is open.
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { mulberry32 } from '../../shared/random.js';
import type { InvocationRecord, RecordComposition } from '../invocations/record.js';
import type { MasterStore } from '../store/types.js';
import type { WorkflowVersion } from '../workflow/version.js';
import { contextValues, rewardOf, usesFeedback, type Measurements } from './expressions.js';
import { WorkflowLearner, type Outcome, type PendingDecision } from './learner.js';

export interface CompositionOptions {
  store: Pick<MasterStore, 'getValue' | 'setValue'>;
  logger: Logger;
  /** How often queued outcomes are trained in, ms. Default 250. */
  trainIntervalMs?: number;
  now?: () => number;
  seed?: number;
}

/** Decisions waiting for their invocation's end (or feedback) before they are dropped. */
const MAX_PENDING = 50_000;
const PENDING_TTL_MS = 24 * 3_600_000;
/** How long after its window an invocation's late feedback still gets "window closed". */
const ANSWER_LATE_FEEDBACK_MS = 10 * 60_000;

interface Pending {
  workflow: string;
  learner: WorkflowLearner;
  decision: PendingDecision;
  createdAt: number;
  /** Set once the invocation ended. */
  ended?: {
    measurements: Omit<Measurements, 'feedback'>;
    functions: Outcome['functions'];
    at: number;
  };
  feedback?: number;
  /** Reward counted (the pending entry stays briefly so late feedback gets a clear answer). */
  done?: boolean;
}

export class CompositionService {
  private readonly learners = new Map<string, Promise<WorkflowLearner>>();
  private readonly pending = new Map<string, Pending>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private readonly rng: () => number;
  private training = false;
  private readonly settling = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly o: CompositionOptions) {
    this.now = o.now ?? Date.now;
    this.rng = mulberry32(o.seed ?? Date.now() ^ (process.pid << 8));
    this.timer = setInterval(() => void this.tick(), o.trainIntervalMs ?? 250);
    this.timer.unref();
  }

  private key(name: string): string {
    return `compose:${name}`;
  }

  /** The workflow's learner for this version's spec (loaded from the store once). */
  learner(v: WorkflowVersion): Promise<WorkflowLearner> {
    const spec = v.composition?.spec;
    if (!spec) throw new AppError('CONFLICT', `workflow ${v.name} has no choose: steps`);
    const known = this.learners.get(v.name);
    const make = async (): Promise<WorkflowLearner> => {
      const held = await this.o.store.getValue(this.key(v.name)).catch((err: unknown) => {
        this.o.logger.warn(
          { err, workflow: v.name },
          'composition model not loaded; starting afresh',
        );
        return undefined;
      });
      return WorkflowLearner.restore(spec, held, this.rng);
    };
    const next = (known ?? make()).then((l) =>
      l.spec === spec ? l : WorkflowLearner.restore(spec, l.persisted(), this.rng),
    );
    this.learners.set(v.name, next);
    return next;
  }

  async decide(
    v: WorkflowVersion,
    input: unknown,
    subTenant: string,
    id: string,
  ): Promise<RecordComposition> {
    const learner = await this.learner(v);
    const values = await contextValues(learner.spec.learn.context, input);
    let made: ReturnType<WorkflowLearner['decide']>;
    try {
      made = learner.decide(values, subTenant);
    } catch (err) {
      throw new AppError('CONFLICT', `workflow ${v.name}: ${(err as Error).message}`);
    }
    if (this.pending.size >= MAX_PENDING) this.dropOldest();
    this.pending.set(id, {
      workflow: v.name,
      learner,
      decision: made.pending,
      createdAt: this.now(),
    });
    return made.composition;
  }

  /** An ended composed invocation: its measurements, and its reward once feedback is settled. */
  finished(r: InvocationRecord, run: WorkflowVersion): void {
    const p = this.pending.get(r.id);
    if (!p || p.ended) return;
    const fnOf = new Map(
      run.dag.nodes.map((n) => [n.id as string, n.kind === 'task' ? n.fn : null]),
    );
    let cpuMs = 0;
    let costs = 0;
    const functions: Outcome['functions'] = [];
    for (const s of r.steps) {
      const fn = fnOf.get(s.node);
      if (!fn) continue;
      const runMs = s.runMs ?? s.finishedAt - s.startedAt;
      const cpu = typeof s.cpuTimeMs === 'number' ? s.cpuTimeMs : runMs;
      cpuMs += cpu;
      costs += ((run.dag.functions[fn]?.memoryMb ?? 128) / 1024) * (runMs / 1000);
      functions.push({
        fn,
        stats: {
          latencyMs: runMs,
          cpuMs: cpu,
          outputBytes: s.outputBytes,
          failureRate: s.status === 'failed' ? 1 : 0,
        },
      });
    }
    const at = r.finishedAt ?? this.now();
    p.ended = {
      measurements: {
        latencyMs: at - r.startedAt,
        cpuMs,
        costs,
        failed: r.status === 'succeeded' ? 0 : 1,
      },
      functions,
      at,
    };
    if (!usesFeedback(p.learner.spec.learn.reward) || p.feedback !== undefined) {
      const settling = this.settle(r.id, p).finally(() => this.settling.delete(settling));
      this.settling.add(settling);
    }
  }

  /** `POST /v1/invocations/:id/feedback`: adds a rating to the invocation's reward. */
  async feedback(id: string, rating: number): Promise<{ reward: number | null }> {
    const p = this.pending.get(id);
    if (!p)
      throw new AppError(
        'CONFLICT',
        `invocation ${id} takes no feedback: it was not composed by a learner on this master, or its window closed long ago`,
      );
    if (p.feedback !== undefined || p.done)
      throw new AppError(
        'CONFLICT',
        p.feedback !== undefined
          ? `invocation ${id} has feedback already (one rating per invocation)`
          : `the feedback window of invocation ${id} closed (learn.feedback.windowMs: ${p.learner.spec.learn.feedbackWindowMs} ms after it ended)`,
      );
    p.feedback = rating;
    if (!p.ended) return { reward: null };
    return { reward: await this.settle(id, p) };
  }

  private async settle(id: string, p: Pending): Promise<number | null> {
    if (p.done || !p.ended) return null;
    p.done = true;
    const learn = p.learner.spec.learn;
    const reward = await rewardOf(learn.reward, {
      ...p.ended.measurements,
      feedback: p.feedback ?? learn.defaultFeedback,
    });
    if (reward === null) {
      this.o.logger.warn(
        { invocationId: id, reward: learn.reward },
        'composition reward not a number; not learned from',
      );
      return null;
    }
    p.learner.enqueue({
      id,
      decision: p.decision,
      reward,
      functions: p.ended.functions,
      at: p.ended.at,
    });
    return reward;
  }

  /** Closes feedback windows, trains the learners with queued outcomes, stores what changed. */
  private async tick(): Promise<void> {
    if (this.training || this.closed) return;
    this.training = true;
    try {
      const now = this.now();
      for (const [id, p] of this.pending) {
        const window = p.learner.spec.learn.feedbackWindowMs;
        if (p.ended && !p.done && now >= p.ended.at + window) await this.settle(id, p);
        if (p.done && (p.ended?.at ?? 0) + window + ANSWER_LATE_FEEDBACK_MS < now)
          this.pending.delete(id);
        else if (now - p.createdAt > PENDING_TTL_MS) this.pending.delete(id);
      }
      for (const [name, lp] of this.learners) {
        const l = await lp;
        if (l.queued === 0 || !l.train()) continue;
        await this.o.store
          .setValue(this.key(name), l.persisted())
          .catch((err: unknown) =>
            this.o.logger.warn({ err, workflow: name }, 'composition model not stored'),
          );
        this.o.logger.debug(
          { workflow: name, modelVersion: l.version, mode: l.mode },
          'composition trained',
        );
      }
    } finally {
      this.training = false;
    }
  }

  /** Trains now (tests and shutdown); resolves once stored. */
  async flush(): Promise<void> {
    await Promise.all([...this.settling]);
    while (this.training) await new Promise((r) => setTimeout(r, 5));
    await this.tick();
  }

  forget(name: string): void {
    this.learners.delete(name);
  }

  private dropOldest(): void {
    const first = this.pending.keys().next();
    if (!first.done) this.pending.delete(first.value);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearInterval(this.timer);
  }
}
