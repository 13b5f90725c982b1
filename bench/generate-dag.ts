/**
 * Generates valid `WorkflowDag`s of any size for property tests and benchmarks, deterministic
 * from a seed (same options → same DAG, byte for byte).
 *
 * Shapes:
 * - `layered` (default): nodes fill layers of about `width`; every non-source node has a parent
 *   in the previous layer and further parents from earlier layers — the shape of FaaSFlow's
 *   scientific workflows (wide stages, fan-out and fan-in);
 * - `random`: node i picks its parents uniformly among nodes 0..i-1 — long, irregular chains.
 * Non-source nodes have on average `edgesPerNode` parents (default 2). With `kinds: 'mixed'`
 * (default) about 1 node in 5 is a pass, switch or foreach; `'tasks'` makes only tasks.
 * Edge bytes are a random share of the producer's declared output, so per-edge bytes differ from
 * the single per-node size FaaSFlow's grouping uses.
 */
import { normalize } from '../shared/dag/graph.js';
import type {
  DagEdge,
  DagNode,
  FunctionSpec,
  InputTemplate,
  WorkflowDag,
} from '../shared/dag/types.js';
import type { NodeId } from '../shared/ids.js';
import { mulberry32 } from '../shared/random.js';

export interface GenerateOptions {
  /** Number of nodes (≥ 1). */
  nodes: number;
  /** Any integer; the DAG is a pure function of the options. */
  seed: number;
  /** Average number of parents of a non-source node. Default 2. */
  edgesPerNode?: number;
  /** Nodes per layer for the `layered` shape. Default ≈ √nodes. */
  width?: number;
  shape?: 'layered' | 'random';
  kinds?: 'mixed' | 'tasks';
  /** Size of the function catalogue. Default 8. */
  functions?: number;
}

export function generateDag(options: GenerateOptions): WorkflowDag {
  const rand = mulberry32(options.seed);
  const n = options.nodes;
  if (!Number.isInteger(n) || n < 1) throw new Error(`nodes must be an integer ≥ 1, got ${n}`);
  const functions = makeFunctions(options.functions ?? 8, rand);
  const fnNames = Object.keys(functions);
  const pad = String(n - 1).length;
  const ids = Array.from({ length: n }, (_, i) => `n${String(i).padStart(pad, '0')}` as NodeId);

  const parents =
    options.shape === 'random'
      ? randomParents(n, options.edgesPerNode ?? 2, rand)
      : layeredParents(
          n,
          options.width ?? Math.max(2, Math.round(Math.sqrt(n))),
          options.edgesPerNode ?? 2,
          rand,
        );

  const kinds = ids.map(() => pickKind(options.kinds ?? 'mixed', rand));
  const fns = ids.map(() => fnNames[Math.floor(rand() * fnNames.length)]!);
  const children: number[][] = ids.map(() => []);
  const edges: DagEdge[] = [];
  for (let v = 0; v < n; v++) {
    for (const u of parents[v]!) {
      children[u]!.push(v);
      const declared =
        kinds[u] === 'task' ? functions[fns[u]!]!.outputBytes : logUniform(rand, 1e3, 3e7);
      const edge: DagEdge = {
        from: ids[u]!,
        to: ids[v]!,
        bytes: Math.round(declared * pickShare(rand)),
      };
      if (kinds[u] === 'switch') edge.branch = children[u]!.length - 1;
      edges.push(edge);
    }
  }

  const nodes = ids.map((id, v): DagNode => {
    const base = { id, path: `dag.${id}`, input: inputOf(parents[v]!.map((u) => ids[u]!)) };
    switch (kinds[v]!) {
      case 'task':
        return { ...base, kind: 'task', fn: fns[v]! };
      case 'pass':
        return { ...base, kind: 'pass' };
      case 'switch': {
        const count = Math.max(1, children[v]!.length);
        const cases = Array.from({ length: count }, (_, i) => ({
          when: i === count - 1 ? null : `k = ${i}`,
          path: `dag.${id}.cases[${i}]`,
        }));
        return { ...base, kind: 'switch', cases };
      }
      case 'foreach':
        return {
          ...base,
          kind: 'foreach',
          items: 'items',
          concurrency: 1 + Math.floor(rand() * 8),
          estimatedWidth: 1 + Math.floor(rand() * 16),
          body: foreachBody(id, fns[v]!),
        };
    }
  });

  const sinks = ids.filter((_, v) => children[v]!.length === 0);
  const fields: Record<string, InputTemplate> = {};
  for (const s of sinks) fields[s] = { kind: 'node', node: s };
  return normalize({
    name: `generated-${n}-${options.seed}`,
    format: 'dag',
    functions,
    nodes,
    edges,
    output: { kind: 'object', fields },
  });
}

/** A copy of `dag` with its nodes and edges in a random order (seeded), for determinism tests. */
export function shuffleDag(dag: WorkflowDag, seed: number): WorkflowDag {
  const rand = mulberry32(seed);
  return { ...dag, nodes: shuffle([...dag.nodes], rand), edges: shuffle([...dag.edges], rand) };
}

type Kind = DagNode['kind'];

function pickKind(mode: 'mixed' | 'tasks', rand: () => number): Kind {
  if (mode === 'tasks') return 'task';
  const r = rand();
  return r < 0.8 ? 'task' : r < 0.87 ? 'pass' : r < 0.93 ? 'switch' : 'foreach';
}

function layeredParents(
  n: number,
  width: number,
  edgesPerNode: number,
  rand: () => number,
): number[][] {
  const layerOf: number[] = [];
  const layers: number[][] = [];
  let v = 0;
  while (v < n) {
    const size = Math.max(1, Math.round(width * (0.5 + rand())));
    const layer: number[] = [];
    for (let i = 0; i < size && v < n; i++, v++) {
      layer.push(v);
      layerOf.push(layers.length);
    }
    layers.push(layer);
  }
  return layerOf.map((layer) => {
    if (layer === 0) return [];
    const previous = layers[layer - 1]!;
    const chosen = new Set([previous[Math.floor(rand() * previous.length)]!]);
    const extra = parentCount(edgesPerNode, rand) - 1;
    for (let i = 0; i < extra; i++) {
      // Mostly the previous layer, sometimes further back: skip connections as in real workflows.
      const back = rand() < 0.7 ? 1 : 1 + Math.floor(rand() * layer);
      const from = layers[layer - back]!;
      chosen.add(from[Math.floor(rand() * from.length)]!);
    }
    return [...chosen].sort((a, b) => a - b);
  });
}

function randomParents(n: number, edgesPerNode: number, rand: () => number): number[][] {
  return Array.from({ length: n }, (_, v) => {
    if (v === 0 || rand() < 0.05) return [];
    const chosen = new Set<number>();
    const count = parentCount(edgesPerNode, rand);
    for (let i = 0; i < count; i++) chosen.add(Math.floor(rand() * v));
    return [...chosen].sort((a, b) => a - b);
  });
}

/** 1 + a geometric count with the given mean. */
function parentCount(mean: number, rand: () => number): number {
  const p = 1 / Math.max(1, mean);
  let count = 1;
  while (rand() > p && count < 16) count++;
  return count;
}

function pickShare(rand: () => number): number {
  const r = rand();
  return r < 0.4 ? 1 : r < 0.7 ? 0.5 : r < 0.85 ? 0.1 : rand();
}

function makeFunctions(count: number, rand: () => number): Record<string, FunctionSpec> {
  const functions: Record<string, FunctionSpec> = {};
  for (let i = 0; i < count; i++) {
    const name = `f${i}`;
    const runtimeMs = Math.round(logUniform(rand, 5, 5000));
    const outputBytes = Math.round(logUniform(rand, 100, 2e7));
    functions[name] = {
      name,
      source: { kind: 'builtin', builtin: { sleepMs: runtimeMs, outputBytes } },
      cpu: [1, 1, 1, 2, 4][Math.floor(rand() * 5)]!,
      memoryMb: 128 * [1, 2, 4, 8][Math.floor(rand() * 4)]!,
      timeoutMs: 60_000,
      retries: 0,
      network: 'none',
      runtimeMs,
      outputBytes,
    };
  }
  return functions;
}

function foreachBody(id: NodeId, fn: string): WorkflowDag {
  const item = 'item' as NodeId;
  return {
    name: `${id}-body`,
    format: 'dag',
    functions: {},
    nodes: [{ id: item, path: `dag.${id}.do`, kind: 'task', fn, input: { kind: 'input' } }],
    edges: [],
    sources: [item],
    sinks: [item],
    output: { kind: 'node', node: item },
  };
}

function inputOf(parents: NodeId[]): InputTemplate {
  if (parents.length === 0) return { kind: 'input' };
  return { kind: 'merge', items: parents.map((node): InputTemplate => ({ kind: 'node', node })) };
}

function logUniform(rand: () => number, low: number, high: number): number {
  return Math.exp(Math.log(low) + rand() * (Math.log(high) - Math.log(low)));
}

function shuffle<T>(items: T[], rand: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
