/**
 * Live rebalancing on one worker: the state `rebalance.ts`'s pure rules need, and the sandbox
 * writes they call for. Per (invocation, stage) it keeps the siblings that started on THIS
 * worker — their user, applied and predicted CPU and the quota they run with now — and the
 * stage's total here, Σ user CPU of those siblings. CPU never moves across workers, stages or
 * invocations: a sibling placed elsewhere, or not started yet, adds nothing to the total.
 *
 * - A sibling starts with its applied allocation. Starting adds its user CPU to the total and
 *   its applied CPU to what the running siblings hold; if earlier boosts no longer fit in the
 *   total (a late sibling whose applied exceeds its user's), the stage is rebalanced from the
 *   applied allocations, which cuts the boosted quotas back.
 * - When a sibling finishes (succeeded, failed or cancelled), `onSiblingFinished` shares the
 *   stage's CPU not held by a running sibling among those still running; each changed quota is
 *   written to the sandbox running that sibling (`resizeRun`, a cgroup write). A sibling between
 *   retries has no run: its next attempt starts with the quota kept here.
 * - When the last sibling finishes, the stage ends and its state is dropped: the total goes back
 *   to the worker. Nothing is written then, nor for the finished sibling (`onSiblingFinished`'s
 *   `restore`): its sandbox may already run another request, and every run applies its own
 *   allocation before it starts (`PooledSandbox.run`). A sibling starting after that starts a
 *   new episode of the stage.
 *
 * - Profiling one at a time: a decision marked `serial` (the master's profiling runs with
 *   `profileSiblings: serial`) waits for its turn (`LiveSibling.turn`) until no earlier serial
 *   sibling of its stage runs on this worker, so a profile measures the function alone and not
 *   its siblings' contention. Turns are taken in start order; a finished (or failed) sibling
 *   passes its turn on. This holds whether or not rebalancing is enabled.
 *
 * Invariants: Σ quotas of running siblings ≤ the stage's total, except for the µs between a late
 * start and the cut it causes; no quota below a sibling's applied allocation; state exists only
 * while a sibling of the stage runs here, and an invocation's is dropped when it is released.
 * Nothing is logged per event above debug.
 */
import type { Logger } from '../../shared/logger.js';
import type { NodeAllocation } from '../../shared/schema/wire.js';
import type { Allocation } from '../../shared/schema/wire.js';
import {
  onSiblingFinished,
  rebalance,
  type QuotaChange,
  type RunningSibling,
} from './rebalance.js';

/** What the tracker needs of the sandbox: `Sandbox.resizeRun`. */
export interface RunResizer {
  resizeRun(run: { invocationId: string; node: string }, change: { cpu: number }): Promise<boolean>;
}

export interface StageTrackerOptions {
  resizer: RunResizer;
  /** Largest CPU quota one sandbox is given, cores (the worker's cores). */
  maxCpu: number;
  /** False: every task keeps its applied allocation (for comparisons). Default true. */
  enabled?: boolean;
  /**
   * Also share what is left once every running sibling's predicted demand is met, up to
   * `maxCpu` (rebalance's `beyondDemand`): a quota is a cap, not a reservation, so CPU the stage
   * holds is better offered to a sibling whose prediction was low than left idle. Default true.
   */
  beyondDemand?: boolean;
  logger: Logger;
}

/** One task of a stage, started on this worker. */
export interface LiveSibling {
  /** Resolves when the task may run: at once, unless its decision is `serial` (see the header). */
  turn(): Promise<void>;
  /** The allocation its next run starts with (the applied one, or a rebalanced CPU quota). */
  allocation(): Allocation;
  /** Its task is over, whatever the outcome; idempotent. */
  finish(): void;
}

/** The tracker as one invocation's tasks see it. */
export interface InvocationStages {
  /** `node` is the task's label (unique in the invocation); `decision` its harvest decision. */
  start(node: string, decision: NodeAllocation): LiveSibling;
}

/** A stage as the tracker holds it (tests and diagnostics). */
export interface StageView {
  totalMillicores: number;
  running: { node: string; quotaMillicores: number }[];
}

interface Sibling {
  node: string;
  userMc: number;
  appliedMc: number;
  demandMc: number;
  quotaMc: number;
  memoryMb: number;
}

interface StageState {
  stage: string;
  totalMc: number;
  /** In start order (rebalance gives rounding ties to the earlier sibling). */
  running: Map<string, Sibling>;
}

const millicores = (cores: number): number => Math.max(0, Math.round(cores * 1000));

export class StageTracker {
  /** invocation → stage → state. */
  private readonly invocations = new Map<string, Map<string, StageState>>();
  /** invocation → stage → the turn of the last serial sibling to start (resolves when it ends). */
  private readonly turns = new Map<string, Map<string, Promise<void>>>();
  private readonly enabled: boolean;
  private readonly maxMc: number;
  private readonly beyondDemand: boolean;

  constructor(private readonly o: StageTrackerOptions) {
    this.enabled = o.enabled ?? true;
    this.maxMc = millicores(o.maxCpu);
    this.beyondDemand = o.beyondDemand ?? true;
  }

  /** The hooks one invocation's tasks call. */
  invocation(invocationId: string): InvocationStages {
    return { start: (node, decision) => this.start(invocationId, node, decision) };
  }

  start(invocationId: string, node: string, decision: NodeAllocation): LiveSibling {
    const serial = decision.serial === true ? this.takeTurn(invocationId, decision.stage) : null;
    const live = this.startLive(invocationId, node, decision);
    if (serial === null) return live;
    return {
      turn: () => serial.wait,
      allocation: () => live.allocation(),
      finish: () => {
        serial.done();
        live.finish();
      },
    };
  }

  /** A place in the stage's queue of serial siblings: `wait` for the one before, then `done`. */
  private takeTurn(invocationId: string, stage: string): { wait: Promise<void>; done(): void } {
    let stages = this.turns.get(invocationId);
    if (stages === undefined) {
      stages = new Map();
      this.turns.set(invocationId, stages);
    }
    const before = stages.get(stage) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    stages.set(stage, tail);
    void tail.then(() => {
      // The last in the queue ended: nothing is left to wait for in this stage.
      if (stages.get(stage) === tail) stages.delete(stage);
      if (stages.size === 0 && this.turns.get(invocationId) === stages)
        this.turns.delete(invocationId);
    });
    return { wait: before, done };
  }

  private startLive(invocationId: string, node: string, decision: NodeAllocation): LiveSibling {
    const fixed = decision.applied;
    const now = (): Promise<void> => Promise.resolve();
    if (!this.enabled) return { turn: now, allocation: () => fixed, finish: () => undefined };
    let stages = this.invocations.get(invocationId);
    if (stages === undefined) {
      stages = new Map();
      this.invocations.set(invocationId, stages);
    }
    let state = stages.get(decision.stage);
    if (state === undefined) {
      state = { stage: decision.stage, totalMc: 0, running: new Map() };
      stages.set(decision.stage, state);
    }
    if (state.running.has(node)) {
      // The same task twice at once cannot happen (triggers are idempotent); stay out of it.
      return { turn: now, allocation: () => fixed, finish: () => undefined };
    }
    const appliedMc = millicores(fixed.cpu);
    const sibling: Sibling = {
      node,
      userMc: millicores(decision.user.cpu),
      appliedMc,
      demandMc: decision.predicted === null ? appliedMc : millicores(decision.predicted.cpu),
      quotaMc: appliedMc,
      memoryMb: fixed.memoryMb,
    };
    state.totalMc += sibling.userMc;
    state.running.set(node, sibling);
    let held = 0;
    for (const s of state.running.values()) held += Math.max(s.quotaMc, s.appliedMc);
    if (held > state.totalMc) this.apply(invocationId, state, this.share(state, null));

    let finished = false;
    const current = state;
    return {
      turn: now,
      allocation: () =>
        sibling.quotaMc === appliedMc
          ? fixed
          : { cpu: sibling.quotaMc / 1000, memoryMb: sibling.memoryMb },
      finish: () => {
        if (finished) return;
        finished = true;
        this.finish(invocationId, current, sibling);
      },
    };
  }

  /** Forgets an invocation's stages (it was released or cancelled); later finishes are no-ops. */
  dropInvocation(invocationId: string): void {
    this.invocations.delete(invocationId);
    this.turns.delete(invocationId);
  }

  /** The stage's state on this worker; undefined when no sibling of it runs here. */
  view(invocationId: string, stage: string): StageView | undefined {
    const state = this.invocations.get(invocationId)?.get(stage);
    if (state === undefined) return undefined;
    return {
      totalMillicores: state.totalMc,
      running: [...state.running.values()].map((s) => ({
        node: s.node,
        quotaMillicores: s.quotaMc,
      })),
    };
  }

  private finish(invocationId: string, state: StageState, sibling: Sibling): void {
    const stages = this.invocations.get(invocationId);
    if (stages?.get(state.stage) !== state) return; // dropped, or a later episode
    state.running.delete(sibling.node);
    if (state.running.size === 0) {
      // The stage ended here: its total returns to the worker (see the header: no writes).
      stages.delete(state.stage);
      if (stages.size === 0) this.invocations.delete(invocationId);
      return;
    }
    this.apply(invocationId, state, this.share(state, sibling));
  }

  /** New quotas for the running siblings (`finished` already removed from them). */
  private share(state: StageState, finished: Sibling | null): QuotaChange[] {
    const running: RunningSibling[] = [...state.running.values()].map((s) => ({
      node: s.node,
      quotaMillicores: s.quotaMc,
      appliedMillicores: s.appliedMc,
      demandMillicores: s.demandMc,
    }));
    const stage = {
      stage: state.stage,
      totalMillicores: state.totalMc,
      maxMillicores: this.maxMc,
      running,
    };
    const options = { beyondDemand: this.beyondDemand };
    try {
      return finished === null
        ? rebalance(stage, options).quotas
        : onSiblingFinished(
            { ...stage, running: [...running, toRunning(finished)] },
            { node: finished.node, userMillicores: finished.userMc },
            options,
          ).quotas;
    } catch (err) {
      // The applied allocations here exceed the users' (the master moved CPU from siblings on
      // other workers to these): nothing is free to share; everyone runs as decided.
      this.o.logger.debug({ err, stage: state.stage }, 'stage not rebalanced');
      return running.map((s) => ({
        node: s.node,
        quotaMillicores: s.appliedMillicores,
        changed: s.quotaMillicores !== s.appliedMillicores,
      }));
    }
  }

  private apply(invocationId: string, state: StageState, quotas: readonly QuotaChange[]): void {
    for (const q of quotas) {
      const sibling = state.running.get(q.node);
      if (sibling === undefined || !q.changed) continue;
      sibling.quotaMc = q.quotaMillicores;
      const run = { invocationId, node: q.node };
      void this.o.resizer
        .resizeRun(run, { cpu: q.quotaMillicores / 1000 })
        .catch((err: unknown) =>
          this.o.logger.debug({ err, invocationId, node: q.node }, 'live resize failed'),
        );
    }
  }
}

function toRunning(s: Sibling): RunningSibling {
  return {
    node: s.node,
    quotaMillicores: s.quotaMc,
    appliedMillicores: s.appliedMc,
    demandMillicores: s.demandMc,
  };
}
