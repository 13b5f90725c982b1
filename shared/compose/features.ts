/**
 * Features of (graph, context) pairs for the composition learner. Pure.
 *
 * A graph is embedded by message passing over its DAG: each function node starts from its
 * identity (one-hot over the workflow's functions, hashed when there are more than
 * `IDENTITY_DIMS`) and its recent measurements (latency, CPU, output size, failure rate, each
 * squashed to about [0, 1]); `ROUNDS` rounds add half the mean of the parents' states to each
 * node's, and the readout sums the nodes (rewards such as latency add up along a graph). The
 * identity part, with a bias, is crossed with the encoded context so that which function serves
 * best may depend on the input; the measurement part enters once, uncrossed.
 */

export const IDENTITY_DIMS = 12;
const ROUNDS = 2;
const MEASURES = 4;
/** Slots per context feature: numbers [t, t², 0], booleans [0, 0, ±1], strings hashed. */
const SLOTS = 3;

export interface FunctionStats {
  latencyMs: number;
  cpuMs: number;
  outputBytes: number;
  /** 0..1 */
  failureRate: number;
}

export interface GraphShape {
  nodes: readonly string[];
  edges: readonly (readonly [number, number])[];
}

/** The fixed layout of a workflow's feature vectors. */
export interface FeatureSpace {
  /** Identity index per function (sorted names). */
  identity: Record<string, number>;
  identityDims: number;
  contextNames: string[];
  /** 1 + SLOTS per context feature. */
  contextDims: number;
  /** (1 + identityDims) · contextDims + MEASURES */
  dim: number;
}

export function featureSpace(
  functions: readonly string[],
  contextNames: readonly string[],
  maxIdentityDims: number = IDENTITY_DIMS,
): FeatureSpace {
  const sorted = [...new Set(functions)].sort();
  const identityDims = Math.min(maxIdentityDims, Math.max(1, sorted.length));
  const identity: Record<string, number> = {};
  sorted.forEach((f, i) => (identity[f] = i));
  const contextDims = 1 + SLOTS * contextNames.length;
  return {
    identity,
    identityDims,
    contextNames: [...contextNames],
    contextDims,
    dim: (1 + identityDims) * contextDims + MEASURES,
  };
}

/**
 * Indices of φ where sub-tenants may differ from their tenant (the model's personal projection):
 * the graph's bias and function identities crossed with the context's bias only, so a
 * sub-tenant learns which functions serve it better or worse, in 1 + identityDims dimensions.
 */
export function personalIndices(space: FeatureSpace): number[] {
  return Array.from({ length: 1 + space.identityDims }, (_, j) => j * space.contextDims);
}

/** FNV-1a, 32 bits. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function hashedUnit(s: string, slot: number): number {
  return (hash32(`${slot}:${s}`) / 4294967296) * 2 - 1;
}

function identityVector(space: FeatureSpace, fn: string, out: Float64Array, at: number): void {
  const k = space.identityDims;
  const n = Object.keys(space.identity).length;
  const i = space.identity[fn];
  if (i !== undefined && n <= k) {
    out[at + i] = 1;
    return;
  }
  // More functions than dimensions (or an unknown one): a hashed, nearly orthogonal code.
  for (let d = 0; d < k; d++) out[at + d] = hashedUnit(fn, d) / Math.sqrt(k);
}

const squash = (x: number, scale: number): number => Math.log1p(Math.max(0, x)) / scale;

/**
 * The graph part: `1 + identityDims` crossed dimensions (bias first) and `MEASURES` plain ones.
 * Unknown functions' measurements count as zero.
 */
export function embedGraph(
  space: FeatureSpace,
  g: GraphShape,
  stats: Readonly<Record<string, FunctionStats>>,
): Float64Array {
  const width = space.identityDims + MEASURES;
  const n = g.nodes.length;
  let h = new Float64Array(n * width);
  g.nodes.forEach((fn, v) => {
    identityVector(space, fn, h, v * width);
    const s = stats[fn];
    if (s) {
      const at = v * width + space.identityDims;
      h[at] = squash(s.latencyMs, 10);
      h[at + 1] = squash(s.cpuMs, 10);
      h[at + 2] = squash(s.outputBytes, 20);
      h[at + 3] = Math.min(1, Math.max(0, s.failureRate));
    }
  });
  const parents: number[][] = g.nodes.map(() => []);
  for (const [p, c] of g.edges) parents[c]?.push(p);
  for (let round = 0; round < ROUNDS; round++) {
    const next = new Float64Array(h);
    for (let v = 0; v < n; v++) {
      const ps = parents[v]!;
      if (ps.length === 0) continue;
      const w = 0.5 / ps.length;
      for (const p of ps)
        for (let d = 0; d < width; d++) next[v * width + d]! += w * h[p * width + d]!;
    }
    h = next;
  }
  const out = new Float64Array(1 + width);
  out[0] = 1;
  for (let v = 0; v < n; v++) for (let d = 0; d < width; d++) out[1 + d]! += h[v * width + d]!;
  return out;
}

/** The context part: bias, then SLOTS per feature in `space.contextNames` order. */
export function encodeContext(
  space: FeatureSpace,
  values: Readonly<Record<string, unknown>>,
): Float64Array {
  const x = new Float64Array(space.contextDims);
  x[0] = 1;
  space.contextNames.forEach((name, i) => {
    const at = 1 + SLOTS * i;
    const v = values[name];
    if (typeof v === 'number' && Number.isFinite(v)) {
      const t = Math.max(-3, Math.min(3, (Math.sign(v) * Math.log1p(Math.abs(v))) / 4));
      x[at] = t;
      x[at + 1] = t * t;
    } else if (typeof v === 'boolean') {
      x[at + 2] = v ? 1 : -1;
    } else if (typeof v === 'string') {
      // A random direction of norm √SLOTS per string: distinct values stay apart.
      let norm = 0;
      for (let s = 0; s < SLOTS; s++) norm += hashedUnit(v, s) ** 2;
      const scale = Math.sqrt(SLOTS / Math.max(norm, 1e-9));
      for (let s = 0; s < SLOTS; s++) x[at + s] = hashedUnit(v, s) * scale;
    }
  });
  return x;
}

/** φ(graph, context) into `out` (length `space.dim`). */
export function crossFeatures(
  space: FeatureSpace,
  graph: Float64Array,
  context: Float64Array,
  out: Float64Array,
): Float64Array {
  const crossed = 1 + space.identityDims;
  const dc = space.contextDims;
  for (let j = 0; j < crossed; j++) {
    const gj = graph[j]!;
    for (let k = 0; k < dc; k++) out[j * dc + k] = gj * context[k]!;
  }
  const base = crossed * dc;
  for (let m = 0; m < MEASURES; m++) out[base + m] = graph[crossed + m]!;
  return out;
}
