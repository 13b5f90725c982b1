/** A small workflow with a switch, and timelines of it, for the chain model's unit tests. */
import { loadWorkflow } from '../../master/workflow/index.js';
import type { ObservedInvocation, ObservedStep } from '../../shared/chains/model.js';
import type { WorkflowDag } from '../../shared/dag/types.js';

/** a → switch (b | c) → d: b and c are exclusive branches, d joins them. */
export function shopDag(name = 'shop'): WorkflowDag {
  const r = loadWorkflow(`
name: ${name}
functions:
  a: { builtin: { sleepMs: 20 }, memory: 256 }
  b: { builtin: { sleepMs: 40 }, memory: 512 }
  c: { builtin: { sleepMs: 40 }, memory: 512 }
  d: { builtin: { sleepMs: 20 }, memory: 256 }
flow:
  sequence:
    - task: a
    - switch:
        - when: '$.x = 1'
          do: { task: b }
        - default: { task: c }
    - task: d
`);
  if (!r.dag) throw new Error(JSON.stringify(r.issues));
  return r.dag;
}

/** The id of the (first) task node running `fn`. */
export function nodeOf(dag: WorkflowDag, fn: string): string {
  const n = dag.nodes.find((x) => x.kind === 'task' && x.fn === fn);
  if (!n) throw new Error(`no node runs ${fn}`);
  return n.id;
}

export function switchOf(dag: WorkflowDag): string {
  const n = dag.nodes.find((x) => x.kind === 'switch');
  if (!n) throw new Error('no switch');
  return n.id;
}

export interface FakeRun {
  startedAt: number;
  /** Which function ran behind the switch. */
  branchFn: 'b' | 'c';
  /** Functions that started cold. */
  cold?: string[];
  session?: string;
  context?: string;
  workflow?: string;
}

/**
 * The timeline of one run of `shopDag`: a at 0 (20 ms), the switch, the taken branch at 25
 * (40 ms; +70 when cold), d after it; the untaken branch skipped.
 */
export function shopRun(dag: WorkflowDag, r: FakeRun): ObservedInvocation {
  const t0 = r.startedAt;
  const cold = new Set(r.cold ?? []);
  const steps: ObservedStep[] = [];
  const task = (fn: string, at: number, runMs: number): number => {
    const c = cold.has(fn);
    const dur = runMs + (c ? 70 : 0);
    steps.push({
      node: nodeOf(dag, fn),
      status: 'succeeded',
      startedAt: t0 + at,
      finishedAt: t0 + at + dur,
      queueMs: 0,
      cold: c,
      allocation: { memoryMb: dag.functions[fn]!.memoryMb },
    });
    return at + dur;
  };
  const aEnd = task('a', 0, 20);
  const sw = switchOf(dag);
  steps.push({
    node: sw,
    status: 'succeeded',
    startedAt: t0 + aEnd,
    finishedAt: t0 + aEnd,
    queueMs: 0,
    cold: false,
  });
  const other = r.branchFn === 'b' ? 'c' : 'b';
  const brEnd = task(r.branchFn, aEnd + 5, 40);
  steps.push({
    node: nodeOf(dag, other),
    status: 'skipped',
    startedAt: t0 + aEnd,
    finishedAt: t0 + aEnd,
    queueMs: 0,
    cold: false,
  });
  task('d', brEnd + 5, 20);
  return {
    workflow: r.workflow ?? dag.name,
    startedAt: t0,
    steps,
    ...(r.session !== undefined ? { session: r.session } : {}),
    ...(r.context !== undefined ? { context: r.context } : {}),
  };
}
