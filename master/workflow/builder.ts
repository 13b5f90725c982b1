/**
 * Accumulates the nodes and edges of one DAG being compiled (the top level or a foreach body):
 * unique node ids, one edge per (from, to), and the `Feed` — what a following step consumes.
 */
import type { DagEdge, DagNode, FunctionSpec, InputTemplate } from '../../shared/dag/types.js';
import type { NodeId } from '../../shared/ids.js';
import { FUNCTION_DEFAULTS } from './functions.js';
import { LIMITS } from './limits.js';

/** One parent edge a consumer must receive; `branch` only for edges leaving a switch. */
export interface FeedEdge {
  node: NodeId;
  branch?: number;
}

/** What a step hands to the step after it: how to build the input, and which edges carry it. */
export interface Feed {
  template: InputTemplate;
  edges: FeedEdge[];
}

export const WORKFLOW_INPUT: Feed = { template: { kind: 'input' }, edges: [] };

export class DagBuilder {
  readonly nodes: DagNode[] = [];
  readonly edges: DagEdge[] = [];
  /** Function names used by task nodes, checked against the catalogue once compiled. */
  readonly functionRefs: { fn: string; path: string }[] = [];
  private readonly taken = new Set<string>();
  private readonly edgeKeys = new Set<string>();
  /** Estimated bytes each node emits, for edge weights. */
  private readonly outBytes = new Map<NodeId, number>();

  constructor(
    private readonly functions: Readonly<Record<string, FunctionSpec>>,
    /** Shared across nested builders so the node limit counts foreach bodies too. */
    private readonly counter: { nodes: number } = { nodes: 0 },
  ) {}

  child(): DagBuilder {
    return new DagBuilder(this.functions, this.counter);
  }

  get overLimit(): boolean {
    return this.counter.nodes > LIMITS.nodes || this.edges.length > LIMITS.edges;
  }

  /** Reserves `base`, or `base-2`, `base-3`… when taken. */
  uniqueId(base: string): NodeId {
    let id = base;
    for (let i = 2; this.taken.has(id); i++) id = `${base}-${i}`;
    this.taken.add(id);
    return id as NodeId;
  }

  /** Reserves an exact id; false when it is already used. */
  reserve(id: string): boolean {
    if (this.taken.has(id)) return false;
    this.taken.add(id);
    return true;
  }

  /**
   * Adds a node fed by `feed`. A task emits its function's declared (or default) output size;
   * a switch or pass node forwards what it receives; a foreach states its estimate.
   */
  addNode(node: DagNode, feed: Feed, estimatedOutputBytes?: number): void {
    this.nodes.push(node);
    this.counter.nodes++;
    let received = 0;
    for (const e of feed.edges) received += this.addEdge(e, node.id);
    const out =
      node.kind === 'task'
        ? (this.functions[node.fn]?.outputBytes ?? FUNCTION_DEFAULTS.outputBytes)
        : (estimatedOutputBytes ?? received);
    this.outBytes.set(node.id, out);
  }

  /** Adds the edge once; returns its estimated bytes. */
  addEdge(from: FeedEdge, to: NodeId): number {
    const bytes = this.outBytes.get(from.node) ?? FUNCTION_DEFAULTS.outputBytes;
    const key = `${from.node}\u0000${to}`;
    if (this.edgeKeys.has(key)) return 0;
    this.edgeKeys.add(key);
    const edge: DagEdge = { from: from.node, to, bytes };
    if (from.branch !== undefined) edge.branch = from.branch;
    this.edges.push(edge);
    return bytes;
  }

  estimatedOutputBytes(id: NodeId): number {
    return this.outBytes.get(id) ?? FUNCTION_DEFAULTS.outputBytes;
  }
}
