/**
 * Collecting an invocation's reports, for whichever process coordinates it (the master, or the
 * worker that took it on its own API): steps are kept once each (a step delivered twice is kept
 * once), sinks are counted until every one has reported, and the first failure before that ends
 * the invocation. Pure: a record and a report in, what happened out; the caller acts on it.
 */
import { AppError } from '../errors.js';
import type { Report, StoredRef } from '../schema/wire.js';
import { MAX_STEPS, type InvocationRecord } from './record.js';

/** What a report did to its record. */
export type ReportEffect =
  | { kind: 'none' }
  | { kind: 'step' }
  | { kind: 'sinks-done' }
  | { kind: 'failed'; error: AppError };

/** Fields a new record starts from (everything else starts empty). */
export type NewRecordFields = Omit<
  InvocationRecord,
  | 'status'
  | 'recoveries'
  | 'lastActivityAt'
  | 'pendingSinks'
  | 'sinkOutputs'
  | 'steps'
  | 'stepsDropped'
  | 'stepKeys'
  | 'stepped'
  | 'sinksDone'
  | 'done'
  | 'settle'
> & { sinks: readonly string[] };

export function newRecord(f: NewRecordFields, now: number): InvocationRecord {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const { sinks, ...rest } = f;
  return {
    ...rest,
    status: 'running',
    recoveries: 0,
    lastActivityAt: now,
    pendingSinks: new Set(sinks),
    sinkOutputs: new Map(),
    steps: [],
    stepsDropped: 0,
    stepKeys: new Set(),
    stepped: new Set(),
    sinksDone: false,
    done,
    settle,
  };
}

/** Applies one report (in any order, possibly repeated). Steps are kept after the end too. */
export function applyReport(r: InvocationRecord, rep: Report, now: number): ReportEffect {
  r.lastActivityAt = now;
  switch (rep.kind) {
    case 'step': {
      const key = `${rep.step.node}|${rep.step.worker}|${rep.step.startedAt}`;
      if (r.stepKeys.has(key)) return { kind: 'none' };
      r.stepKeys.add(key);
      if (r.steps.length < MAX_STEPS) r.steps.push(rep.step);
      else r.stepsDropped++;
      if (!rep.step.node.includes('[')) r.stepped.add(rep.step.node);
      return { kind: 'step' };
    }
    case 'sink':
      return sinkArrived(r, rep.node, rep.skipped ? null : (rep.output ?? null))
        ? { kind: 'sinks-done' }
        : { kind: 'none' };
    case 'failed':
      // Every sink is done: a failure now is a duplicate run's (after a recovery), and the
      // result the sinks gave stands.
      if (r.sinksDone || r.status !== 'running') return { kind: 'none' };
      return { kind: 'failed', error: AppError.fromWire(rep.error) };
  }
}

/** Records a sink's outcome (null: skipped); true when it was the last one. */
export function sinkArrived(r: InvocationRecord, node: string, ref: StoredRef | null): boolean {
  if (r.status !== 'running' || !r.pendingSinks.delete(node)) return false;
  r.sinkOutputs.set(node, ref);
  if (r.pendingSinks.size > 0) return false;
  r.sinksDone = true;
  return true;
}

/** Every top-level node has its step: the timeline is complete. */
export function timelineComplete(r: InvocationRecord, nodes: number): boolean {
  return r.stepped.size >= nodes;
}
