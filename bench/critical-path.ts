/** The realised critical path of an invocation, from its steps (for the chains benchmarks). */
import type { StepRecord } from '../shared/schema/wire.js';

/**
 * The steps from the last one to finish back through, at each node, the parent that finished
 * last (skipped steps and those of nodes outside `edges`' DAG, such as foreach items, are
 * passed over as parents). Last step first.
 */
export function criticalPath(
  edges: readonly { from: string; to: string }[],
  steps: readonly StepRecord[],
): StepRecord[] {
  const byNode = new Map<string, StepRecord>();
  for (const s of steps) if (s.status !== 'skipped' && !byNode.has(s.node)) byNode.set(s.node, s);
  const parents = new Map<string, string[]>();
  for (const e of edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  let last: StepRecord | undefined;
  for (const s of byNode.values()) if (!last || s.finishedAt > last.finishedAt) last = s;
  const path: StepRecord[] = [];
  for (let s = last; s !== undefined;) {
    path.push(s);
    const ps = (parents.get(s.node) ?? []).flatMap((p) => byNode.get(p) ?? []);
    s = ps.sort((a, b) => b.finishedAt - a.finishedAt)[0];
  }
  return path;
}

/** Whether a node has parents in the DAG of `edges` (not a source). */
export function hasParents(edges: readonly { to: string }[], node: string): boolean {
  return edges.some((e) => e.to === node);
}
