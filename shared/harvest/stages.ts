/**
 * Parallel stages of a compiled workflow: the sets of task nodes that become ready together, so
 * that resources can be harvested among them (and only among them).
 *
 * Two task nodes are in one stage when they have the same *readiness key*: the set of edges
 * that make them ready. Concretely, a node's key is the set of its parents, where
 * - a `pass` parent is seen through (it runs inside the engine in no time, so a task behind
 *   it becomes ready when the pass node's own parents are done), recursively;
 * - a `switch` parent counts together with the case of the edge (`switch#0`, `switch#-1`):
 *   targets of different cases never run together, targets of the same case do;
 * - a node without parents (after seeing through passes) is keyed by the invocation input.
 * So the branches of a `parallel` (all fed by the step before), the roots of a DAG, the targets
 * of one switch case, and joins with the same parents each form a stage. A task not sharing its
 * key with another task is a stage of width 1.
 *
 * Foreach bodies are stages of their own, scoped by the foreach node: a body node is named
 * `foreach/body-node` (nested: `outer/inner/node`), its stage `foreach/stage`. At run time a body
 * stage of width w runs once per item, so its instances form one stage of width `items × w`
 * (see `foreachInstance`), of which at most `concurrency` items run at once.
 *
 * Deterministic: a stage's id is its members' ids joined by `+` (stable across recompiles while
 * the stage's shape is — a profile or model keyed by it stays valid exactly as long as that
 * holds); members are indexed in the natural order of their source paths (the YAML's branch
 * order), then by id; stages are listed in topological order of their first member.
 */
import { compareIds, topologicalOrder } from '../dag/graph.js';
import type { DagEdge, TaskNode, WorkflowDag } from '../dag/types.js';

/** Separates member ids in a stage id; never part of a node id. */
export const STAGE_MEMBER_SEPARATOR = '+';
/** Separates a foreach node from its body's node and stage ids. */
export const FOREACH_SCOPE_SEPARATOR = '/';

export interface ForeachScope {
  /** The foreach node (scoped name when nested). */
  node: string;
  concurrency: number;
  /** Width assumed until the items are known. */
  estimatedWidth: number;
}

export interface StageMember {
  /** Node id; `foreach/node` inside a foreach body. */
  node: string;
  fn: string;
}

export interface Stage {
  id: string;
  /** Members in index order. */
  members: StageMember[];
  width: number;
  /** The readiness key: parent ids (`switch#case` for switch edges), or `$input`. */
  readyAfter: string[];
  /** Set for stages inside a foreach body (innermost foreach). */
  foreach?: ForeachScope;
}

export interface NodeStage {
  stage: string;
  index: number;
  width: number;
  foreach?: ForeachScope;
}

export interface StagePlan {
  /** In topological order of their first member. */
  stages: Stage[];
  /** Every task node (scoped names inside foreach bodies) → its stage. */
  byNode: Record<string, NodeStage>;
}

const INPUT_KEY = '$input';

export function findStages(dag: WorkflowDag): StagePlan {
  const plan: StagePlan = { stages: [], byNode: {} };
  collect(dag, '', undefined, plan);
  return plan;
}

/**
 * Index and width of one run-time instance of a foreach body node: item `item` of `items`, where
 * the body stage has the node at `index` of `width`. Instances are numbered item-major, so one
 * item's siblings are adjacent.
 */
export function foreachInstance(
  s: Pick<NodeStage, 'index' | 'width'>,
  item: number,
  items: number,
): { index: number; width: number } {
  return { index: item * s.width + s.index, width: items * s.width };
}

function collect(
  dag: WorkflowDag,
  prefix: string,
  scope: ForeachScope | undefined,
  plan: StagePlan,
): void {
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  const incoming = new Map<string, DagEdge[]>();
  for (const e of dag.edges) {
    const list = incoming.get(e.to) ?? [];
    list.push(e);
    incoming.set(e.to, list);
  }
  const keyMemo = new Map<string, string[]>();
  // Recursion depth is bounded by chains of pass nodes; the DAG is acyclic (checked on compile).
  const readiness = (id: string): string[] => {
    const memo = keyMemo.get(id);
    if (memo) return memo;
    const parts = new Set<string>();
    for (const e of incoming.get(id) ?? []) {
      const parent = byId.get(e.from);
      if (parent?.kind === 'pass') {
        for (const p of readiness(e.from)) parts.add(p);
      } else if (parent?.kind === 'switch') {
        parts.add(`${e.from}#${e.branch ?? -1}`);
      } else {
        parts.add(e.from);
      }
    }
    const key = parts.size === 0 ? [INPUT_KEY] : [...parts].sort(compareIds);
    keyMemo.set(id, key);
    return key;
  };

  const topo = topologicalOrder(dag.nodes, dag.edges);
  const order = topo.order ?? dag.nodes.map((n) => n.id);
  const position = new Map<string, number>(order.map((id, i) => [id as string, i]));

  const groups = new Map<string, TaskNode[]>();
  for (const n of dag.nodes) {
    if (n.kind !== 'task') continue;
    const key = readiness(n.id).join('\n');
    const list = groups.get(key) ?? [];
    list.push(n);
    groups.set(key, list);
  }

  const stages: { stage: Stage; first: number }[] = [];
  for (const [key, nodes] of groups) {
    nodes.sort((a, b) => comparePaths(a.path, b.path) || compareIds(a.id, b.id));
    const members = nodes.map((n) => ({ node: prefix + n.id, fn: n.fn }));
    const stage: Stage = {
      id: prefix + nodes.map((n) => n.id).join(STAGE_MEMBER_SEPARATOR),
      members,
      width: members.length,
      readyAfter: key.split('\n').map((k) => (k === INPUT_KEY ? k : prefix + k)),
      ...(scope ? { foreach: scope } : {}),
    };
    const first = Math.min(...nodes.map((n) => position.get(n.id) ?? Infinity));
    stages.push({ stage, first });
  }
  stages.sort((a, b) => a.first - b.first || compareIds(a.stage.id, b.stage.id));
  for (const { stage } of stages) {
    plan.stages.push(stage);
    stage.members.forEach((m, index) => {
      plan.byNode[m.node] = {
        stage: stage.id,
        index,
        width: stage.width,
        ...(stage.foreach ? { foreach: stage.foreach } : {}),
      };
    });
  }

  // Foreach bodies after the stages of the enclosing DAG, in topological order.
  const foreachNodes = dag.nodes
    .filter((n) => n.kind === 'foreach')
    .sort((a, b) => (position.get(a.id) ?? 0) - (position.get(b.id) ?? 0));
  for (const f of foreachNodes) {
    if (f.kind !== 'foreach') continue;
    const node = prefix + f.id;
    collect(
      f.body,
      node + FOREACH_SCOPE_SEPARATOR,
      {
        node,
        concurrency: f.concurrency,
        estimatedWidth: f.estimatedWidth,
      },
      plan,
    );
  }
}

/** Natural order of source paths: `parallel[2]` before `parallel[10]`. */
export function comparePaths(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    if (x === y) continue;
    const nx = /^\d/.test(x);
    const ny = /^\d/.test(y);
    if (nx && ny) return Number(x) - Number(y) || compareIds(x, y);
    return compareIds(x, y);
  }
  return ta.length - tb.length;
}
