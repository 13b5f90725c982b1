/**
 * The workflow versions this worker holds. Each deployment indexes its DAG for the hot path:
 * node by id, parent count, outgoing edges with branches, and the partition group of each node.
 */
import { checkDag } from '../../shared/dag/check.js';
import type { DagEdge, DagNode, WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { Deployment } from '../../shared/schema/wire.js';
import { functionsReadingWorkflowInput } from './reads-input.js';

export interface IndexedNode {
  node: DagNode;
  parents: number;
  children: DagEdge[];
  group: number;
  isSink: boolean;
}

export interface IndexedDeployment {
  workflow: string;
  version: number;
  dag: WorkflowDag;
  nodes: Map<string, IndexedNode>;
  /** Partition group per node id (index into a placement's `groups`). */
  groupOf: Readonly<Record<string, number>>;
  /** Directory holding the deployment's handler files. */
  baseDir: string;
  /** Functions that may read `ctx.workflowInput` (absent: every one may). */
  readsWorkflowInput?: ReadonlySet<string>;
}

export function indexDeployment(d: Deployment, baseDir: string): IndexedDeployment {
  const problems = arrivalProblems(d.dag);
  if (problems.length > 0) {
    throw new AppError(
      'WORKFLOW_INVALID',
      `deployment ${d.workflow}@${d.version} has a malformed DAG: ${problems.slice(0, 3).join('; ')}`,
      {
        details: { problems },
      },
    );
  }
  const nodes = new Map<string, IndexedNode>();
  const sinks = new Set<string>(d.dag.sinks);
  for (const node of d.dag.nodes) {
    const group = d.groupOf[node.id];
    if (group === undefined) {
      throw new AppError(
        'WORKFLOW_INVALID',
        `deployment ${d.workflow}@${d.version}: node ${node.id} has no group`,
      );
    }
    nodes.set(node.id, { node, parents: 0, children: [], group, isSink: sinks.has(node.id) });
  }
  for (const e of d.dag.edges) {
    nodes.get(e.from)!.children.push(e);
    nodes.get(e.to)!.parents++;
  }
  return {
    workflow: d.workflow,
    version: d.version,
    dag: d.dag,
    nodes,
    groupOf: d.groupOf,
    baseDir,
    readsWorkflowInput: functionsReadingWorkflowInput(d.dag, d.files),
  };
}

/**
 * What is wrong with a DAG that arrived over the wire. `checkDag` checks a `WorkflowDag`'s
 * invariants and trusts its shape; a body that only claims to be one (the schema admits any
 * object) must come back as problems, not as a TypeError from deep inside the check.
 */
function arrivalProblems(dag: unknown): string[] {
  const d = dag as Partial<Record<keyof WorkflowDag, unknown>>;
  const shape: string[] = [];
  for (const k of ['nodes', 'edges', 'sources', 'sinks'] as const)
    if (!Array.isArray(d[k])) shape.push(`${k} must be an array`);
  if (typeof d.functions !== 'object' || d.functions === null || Array.isArray(d.functions))
    shape.push('functions must be an object');
  if (shape.length > 0) return shape;
  try {
    return checkDag(dag as WorkflowDag);
  } catch (err) {
    return [`not a compiled workflow DAG (${err instanceof Error ? err.message : String(err)})`];
  }
}

export function deploymentKey(workflow: string, version: number): string {
  return `${workflow}@${version}`;
}

export function functionKey(workflow: string, version: number, fn: string): string {
  return `${workflow}@${version}/${fn}`;
}
