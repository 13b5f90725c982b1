/**
 * Checks the invariants a compiled `WorkflowDag` promises (see types.ts). Returns the violations;
 * empty means well-formed. Used by tests and by workers before accepting a deployment.
 * Foreach bodies are checked against their parent's function catalogue.
 */
import { templateNodes, topologicalOrder } from './graph.js';
import type { WorkflowDag } from './types.js';

export function checkDag(dag: WorkflowDag, functions = dag.functions): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const kinds = new Map(dag.nodes.map((n) => [n.id as string, n.kind]));
  for (const n of dag.nodes) {
    if (ids.has(n.id)) problems.push(`duplicate node ${n.id}`);
    ids.add(n.id);
  }
  const parents = new Map<string, Set<string>>();
  const children = new Map<string, Set<string>>();
  const seen = new Set<string>();
  for (const e of dag.edges) {
    if (!ids.has(e.from)) problems.push(`edge from unknown node ${e.from}`);
    if (!ids.has(e.to)) problems.push(`edge to unknown node ${e.to}`);
    const key = `${e.from}->${e.to}`;
    if (seen.has(key)) problems.push(`duplicate edge ${key}`);
    seen.add(key);
    (parents.get(e.to) ?? parents.set(e.to, new Set()).get(e.to)!).add(e.from);
    (children.get(e.from) ?? children.set(e.from, new Set()).get(e.from)!).add(e.to);
    const fromSwitch = kinds.get(e.from) === 'switch';
    if (fromSwitch !== (e.branch !== undefined))
      problems.push(`edge ${key}: branch must be set exactly on edges leaving a switch`);
  }
  const topo = topologicalOrder(dag.nodes, dag.edges);
  if (topo.cycle) problems.push(`cycle ${topo.cycle.join(' -> ')}`);
  for (const n of dag.nodes) {
    for (const ref of templateNodes(n.input)) {
      if (!parents.get(n.id)?.has(ref))
        problems.push(`node ${n.id} reads ${ref} without an edge from it`);
    }
    if (n.kind === 'task' && functions[n.fn] === undefined) {
      problems.push(`node ${n.id} runs undefined function ${n.fn}`);
    }
    if (n.kind === 'foreach')
      problems.push(...checkDag(n.body, functions).map((p) => `${n.id}.body: ${p}`));
  }
  const sources = dag.nodes.filter((n) => !parents.has(n.id)).map((n) => n.id);
  const sinks = dag.nodes.filter((n) => !children.has(n.id)).map((n) => n.id);
  if (sources.join() !== dag.sources.join())
    problems.push(`sources ${dag.sources.join()} should be ${sources.join()}`);
  if (sinks.join() !== dag.sinks.join())
    problems.push(`sinks ${dag.sinks.join()} should be ${sinks.join()}`);
  return problems;
}
