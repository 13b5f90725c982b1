/**
 * The profiler's master half: a finished invocation's steps become profile records (the
 * workers measure; this names each run's stage, index and width and attaches the DAG's input
 * size). Pure: steps in, records and counts of the runs that gave none out.
 *
 * A record is made for each succeeded task step, once per node (reports may repeat):
 * - top-level nodes take their stage from the plan;
 * - a foreach body node `fe[i]/node` is instance i of the body stage `fe/…`: index and width
 *   come from `foreachInstance` with the foreach step's item count;
 * - nested foreach bodies and nodes missing from the plan are `not-profiled`;
 * - a step without both peaks (no cgroup measurement) is `no-peaks`: a record without them
 *   could only teach the models zeros;
 * - a record failing `checkProfileRecord` is `invalid`.
 * The allocation is the step's own, else the decision's applied one, else the user's.
 */
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { Allocation, StepRecord } from '../../shared/schema/wire.js';
import { checkProfileRecord, type ProfileRecord } from './profile.js';
import { foreachInstance, type StagePlan } from '../../shared/harvest/stages.js';
import type { SkipReason } from './store.js';

export interface RecordInput {
  workflow: string;
  version: number;
  invocationId: string;
  dagInputBytes: number;
  dag: WorkflowDag;
  plan: StagePlan;
  steps: readonly StepRecord[];
  /** The decision's applied allocation per node, when there was one. */
  applied?: Readonly<Record<string, Allocation>>;
}

export interface RecordOutput {
  records: ProfileRecord[];
  skipped: Partial<Record<SkipReason, number>>;
}

const BODY_STEP = /^([^[\]/]+)\[(\d+)\]\/(.+)$/;

export function profileRecords(input: RecordInput): RecordOutput {
  const fnOf = new Map<string, string>();
  for (const stage of input.plan.stages) for (const m of stage.members) fnOf.set(m.node, m.fn);
  const itemsOf = new Map<string, number>();
  for (const s of input.steps)
    if (s.kind === 'foreach' && s.items !== undefined) itemsOf.set(s.node, s.items);

  const records: ProfileRecord[] = [];
  const skipped: Partial<Record<SkipReason, number>> = {};
  const skip = (reason: SkipReason): void => {
    skipped[reason] = (skipped[reason] ?? 0) + 1;
  };
  const seen = new Set<string>();
  for (const step of input.steps) {
    if (step.kind !== 'task' || step.status !== 'succeeded' || seen.has(step.node)) continue;
    seen.add(step.node);
    const where = locate(step.node, input.plan, itemsOf);
    const fn = where ? fnOf.get(where.planNode) : undefined;
    if (!where || fn === undefined) {
      skip('not-profiled');
      continue;
    }
    const cpu = step.peakCpuCores;
    const mem = step.peakMemoryMb;
    if (typeof cpu !== 'number' || typeof mem !== 'number') {
      skip('no-peaks');
      continue;
    }
    const spec = input.dag.functions[fn];
    const allocation = step.allocation ??
      input.applied?.[step.node] ?? { cpu: spec?.cpu ?? 0, memoryMb: spec?.memoryMb ?? 0 };
    const r: ProfileRecord = {
      workflow: input.workflow,
      version: input.version,
      function: fn,
      node: where.planNode,
      invocationId: input.invocationId,
      dagInputBytes: input.dagInputBytes,
      inputBytes: step.inputBytes,
      stage: where.stage,
      index: where.index,
      width: where.width,
      peakCpuCores: cpu,
      peakMemoryMb: mem,
      durationMs: step.runMs ?? Math.max(0, step.finishedAt - step.startedAt),
      allocation: { cpu: allocation.cpu, memoryMb: allocation.memoryMb },
      at: Math.round(step.startedAt),
    };
    const amount = (v: number | null | undefined): v is number =>
      typeof v === 'number' && Number.isFinite(v) && v >= 0;
    if (amount(step.cpuTimeMs)) r.cpuTimeMs = step.cpuTimeMs;
    if (amount(step.throttledMs)) r.throttledMs = step.throttledMs;
    if (amount(step.pressureMs)) r.pressureMs = step.pressureMs;
    // A run the safeguard raised was starved by its quota: its throttling says so, even where
    // the kernel's counter could not be read.
    if (step.safeguardAtMs !== undefined)
      r.throttledMs = Math.max(r.throttledMs ?? 0, r.durationMs);
    if (checkProfileRecord(r).length > 0) skip('invalid');
    else records.push(r);
  }
  return { records, skipped };
}

function locate(
  node: string,
  plan: StagePlan,
  itemsOf: ReadonlyMap<string, number>,
): { planNode: string; stage: string; index: number; width: number } | null {
  const top = plan.byNode[node];
  if (top && !top.foreach) return { planNode: node, ...top };
  const m = BODY_STEP.exec(node);
  if (!m) return null;
  const [, foreach, item, rest] = m as unknown as [string, string, string, string];
  if (rest.includes('[')) return null;
  const planNode = `${foreach}/${rest}`;
  const s = plan.byNode[planNode];
  const items = itemsOf.get(foreach);
  if (!s || items === undefined || Number(item) >= items) return null;
  return { planNode, stage: s.stage, ...foreachInstance(s, Number(item), items) };
}
