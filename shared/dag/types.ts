/**
 * The compiled workflow: the one model the partitioner, the master and the workers share.
 *
 * Both native YAML forms (structured `flow:` and explicit `dag:`) and FaaSFlow's flat format
 * compile to a `WorkflowDag`. It is plain serialisable data (sent to workers as JSON), holds no
 * compiled expressions (workers compile the JSONata sources once per deploy), and keeps, for each
 * node, the source path it came from so runtime errors can point back at the YAML.
 *
 * Invariants kept by the compiler (and checked by `checkDag`):
 * - node ids are unique; every edge's `from` and `to` are nodes of the same DAG; no cycles;
 * - every parent named in a node's `input` template has an edge to that node;
 * - a switch node's outgoing edges carry `branch`; no other node's edges do;
 * - `sources` are the nodes without parents, `sinks` the nodes without children (sorted).
 */
import type { NodeId } from '../ids.js';

/** Where a function's code comes from. */
export type FunctionSource =
  | { kind: 'handler'; path: string }
  | { kind: 'code'; code: string }
  | { kind: 'builtin'; builtin: SyntheticSpec }
  | { kind: 'image'; image: string };

/**
 * A synthetic function: sleeps (or spins) for its runtime and emits outputs of declared sizes.
 * Used for FaaSFlow's benchmarks and for load tests.
 */
export interface SyntheticSpec {
  /** Wall time the function takes, in ms (importers apply any runtime scale before). Default 0. */
  sleepMs: number;
  /** Burn CPU instead of sleeping. Default false. */
  busy?: boolean;
  /** Emit a Buffer of this many bytes (ignored when `fields` is set). Default: echo the input. */
  outputBytes?: number;
  /**
   * Emit an object with these fields. A field's value is taken from the invocation input when it
   * names one (`input[functionName][field]`, then `input[field]`), else a Buffer of the size.
   */
  fields?: Record<string, number>;
  /** Fields whose value is an array of `width` keys (FaaSFlow `type: keys`, feeding a foreach). */
  keys?: Record<string, number>;
}

/**
 * Where a function runs on its worker (docs/guides/sandboxes.md): a child process with a cgroup,
 * a container, a `worker_threads` thread with its own heap, or the worker's own event loop.
 */
export type Isolation = 'process' | 'docker' | 'thread' | 'trusted';

export const ISOLATIONS: readonly Isolation[] = ['process', 'docker', 'thread', 'trusted'];

export interface FunctionSpec {
  name: string;
  source: FunctionSource;
  /** Cores the user allocates, 1..8. */
  cpu: number;
  /** MB the user allocates, 128..8192 in steps of 128. */
  memoryMb: number;
  timeoutMs: number;
  /** Extra attempts after the first failure (exponential backoff with jitter). */
  retries: number;
  /** Container network for image/docker sandboxes: none (default) or host. */
  network: 'none' | 'host';
  /**
   * The tier the function runs in; absent: the worker's own sandbox (its `runtime` option,
   * process unless configured otherwise).
   */
  isolation?: Isolation;
  /** Estimated runtime in ms, for partitioning until profiles exist. */
  runtimeMs: number;
  /** Estimated output size in bytes, for partitioning until profiles exist. */
  outputBytes: number;
  /** Keyed sharding (docs/guides/sharding.md): absent, every call may run on any worker. */
  shard?: KeyShard;
  /**
   * Files (relative to the workflow folder) the sandbox loads at init, so a prepared sandbox
   * has them in memory before its first run (docs/guides/chains.md). Absent: none.
   */
  preload?: string[];
  /**
   * What it uses, as worker label selectors (`near=db`, `gpu`; shared/labels.ts): its group is
   * placed on the workers matching the most of them when any does. Absent: none.
   */
  uses?: string[];
}

/**
 * `functions.f.shard`: calls are routed by a key to replicas of the function on different
 * workers, by a routing table of hash ranges the re-sharding loop splits, merges and moves.
 */
export interface KeyShard {
  /** JSONata over the call's input giving the routing key (its string form is hashed). */
  key: string;
  /** Replicas per range: `auto` (from the forecast arrival rate) or a fixed count. */
  replicas: 'auto' | number;
  /** Most replicas of one range, ≥ a fixed `replicas`. Default 4. */
  maxReplicas: number;
}

/**
 * `foreach.shard`: the items are split into shards run on several workers; remote shards pull
 * batches from the owner (work stealing) and the results are merged in item order.
 */
export interface ForeachShard {
  /** Where shards may go; `workers` is the only value today. */
  across: 'workers';
  /** Shards: `auto` (the shardability score chooses, 1 when sharding does not pay) or N. */
  size: 'auto' | number;
  /** Most shards, ≥ a fixed `size`. Default 8. */
  maxShards: number;
  /** Remote shards pull shrinking batches (true, default) or take an even split up front. */
  steal: boolean;
}

/** How a workflow's sandboxes are prepared ahead (docs/guides/chains.md). */
export type PrewarmMode = 'off' | 'eager' | 'predictive';

export interface PrewarmSpec {
  /** off: none; eager: every node at start (the baseline); predictive: by the chain model. */
  mode: PrewarmMode;
  /** Share (0..1) of the workflow's sandbox memory-seconds unused prewarms may take. */
  budget: number;
}

/**
 * How a node's input is assembled from what arrived on its parent edges.
 * - `input`: the invocation's input.
 * - `node`: one parent's output (`null` if that edge was a skip).
 * - `array`: a list, in order (parallel branches, fan-in of a foreach is done by the foreach).
 * - `object`: fields keyed by name (explicit-DAG joins are keyed by parent).
 * - `first`: the first alternative whose parents were not all skipped (behind a switch).
 * - `merge`: shallow merge of objects, later wins (FaaSFlow flat parameters).
 * - `const`: a literal JSON value.
 */
export type InputTemplate =
  | { kind: 'input' }
  | { kind: 'node'; node: NodeId }
  | { kind: 'array'; items: InputTemplate[] }
  | { kind: 'object'; fields: Record<string, InputTemplate> }
  | { kind: 'first'; options: InputTemplate[] }
  | { kind: 'merge'; items: InputTemplate[] }
  | { kind: 'const'; value: unknown };

interface NodeBase {
  id: NodeId;
  /** Where in the YAML this node came from, e.g. `flow.sequence[2].parallel[0]`. */
  path: string;
  input: InputTemplate;
  /** JSONata applied to the assembled input before the node runs. */
  inputExpr?: string;
  /** JSONata applied to the node's result; its value is the node's output. */
  outputExpr?: string;
}

/** Runs one function. */
export interface TaskNode extends NodeBase {
  kind: 'task';
  fn: string;
}

/** Identity: used for joins and reshaping steps; runs inside the engine, no sandbox. */
export interface PassNode extends NodeBase {
  kind: 'pass';
}

/**
 * Routes: evaluates `cases` in order on its (assembled, reshaped) input; the edges of the first
 * matching case carry the input, every other outgoing edge carries a skip. A case with
 * `when: null` is `default:` (always last). With no default case and no match, the implicit
 * default edges (`branch: -1`) carry the input on, so a switch never swallows the flow.
 */
export interface SwitchNode extends NodeBase {
  kind: 'switch';
  cases: { when: string | null; path: string }[];
}

/**
 * Runs `body` once per element of `items` (evaluated on the node's input), at most `concurrency`
 * at once, on the worker that owns this node. Output: the array of body outputs, in order.
 * Its width is known only at run time.
 */
export interface ForeachNode extends NodeBase {
  kind: 'foreach';
  items: string;
  concurrency: number;
  body: WorkflowDag;
  /** Width assumed for partitioning (runtime unknown). */
  estimatedWidth: number;
  /** Sharded over workers (absent: the whole body runs on this node's worker, as before). */
  shard?: ForeachShard;
}

export type DagNode = TaskNode | PassNode | SwitchNode | ForeachNode;

export interface DagEdge {
  from: NodeId;
  to: NodeId;
  /** Only on edges leaving a switch: the case index, or -1 for the implicit default. */
  branch?: number;
  /** Estimated bytes the consumer reads over this edge. */
  bytes: number;
}

export interface WorkflowDag {
  name: string;
  /** Where the workflow came from. */
  format: 'flow' | 'dag' | 'faasflow';
  functions: Record<string, FunctionSpec>;
  /** Sorted by id. */
  nodes: DagNode[];
  /** Sorted by (from, to). */
  edges: DagEdge[];
  sources: NodeId[];
  sinks: NodeId[];
  /** The invocation's output, assembled from node outputs. */
  output: InputTemplate;
  /** JSONata applied to the assembled output. */
  outputExpr?: string;
  /** JSON Schema every invocation input must satisfy (checked by the master). */
  inputSchema?: Record<string, unknown>;
  /**
   * JSONata over the invocation input giving the size of the data it stands for, in bytes
   * (harvesting's models key on it); default: the size of the encoded input.
   */
  inputSize?: string;
  /** How much of each invocation is journaled (docs/durability.md); default: the cluster's. */
  durability?: 'none' | 'checkpoint' | 'strict';
  /** Preparing sandboxes ahead of their nodes; absent: the cluster's default (off). */
  prewarm?: PrewarmSpec;
}
