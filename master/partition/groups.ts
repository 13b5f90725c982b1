/**
 * The groups of a partition in progress: a union-find over node indices whose roots carry what
 * the capacity rule needs, so "may these two groups merge?" costs O(size of the smaller one).
 *
 * Group capacity rule. A group runs on one worker, so it must fit that worker's capacity:
 * - memory: Σ memoryMb of its nodes — every task keeps a warm sandbox; a foreach counts its
 *   body × min(concurrency, estimatedWidth) (see graph.ts);
 * - CPU: max over topological levels of Σ cpu of its nodes on that level — the nodes of one level
 *   are what can run at the same time;
 * - FaaStore quota: Σ bytes of the edges inside the group ≤ the worker's in-memory quota, since
 *   each of those edges keeps its data in the worker's memory.
 * Merging two groups makes every edge between them local, not only the one being merged, so each
 * root also keeps the bytes it exchanges with each neighbouring group.
 * A single node is a group even when it alone exceeds the capacity: it cannot be split, and
 * placement is where an oversized node is reported; it simply never merges.
 */
import type { IndexedGraph } from './graph.js';
import type { ResolvedOptions } from './options.js';

/** Slack for sums of fractional cores and bytes. */
const EPSILON = 1e-9;

/**
 * Shared by every node without CPU and every absorbed root: it is never written, because writes
 * go only to a live root's larger map, and saves allocating (and collecting) thousands of maps.
 */
const EMPTY: ReadonlyMap<number, number> = new Map();

export class Groups {
  /** Number of groups. */
  count: number;
  private readonly parent: Int32Array;
  /** Members of each group as a ring: next[v] is the next member; two rings join in O(1). */
  private readonly next: Int32Array;
  private readonly size: Int32Array;
  private readonly memoryMb: Float64Array;
  private readonly cpuPeak: Float64Array;
  private readonly localBytes: Float64Array;
  /** Per root: level → Σ cpu of the group's nodes on that level. */
  private readonly levels: Map<number, number>[];
  /** Per root: neighbouring root → Σ bytes of the edges between the two groups. */
  private readonly neighbours: Map<number, number>[];

  constructor(
    graph: IndexedGraph,
    private readonly options: ResolvedOptions,
  ) {
    const n = graph.ids.length;
    this.count = n;
    this.parent = Int32Array.from({ length: n }, (_, v) => v);
    this.next = Int32Array.from({ length: n }, (_, v) => v);
    this.size = new Int32Array(n).fill(1);
    this.memoryMb = Float64Array.from(graph.memoryMb);
    this.cpuPeak = Float64Array.from(graph.cpu);
    this.localBytes = new Float64Array(n);
    this.levels = Array.from({ length: n }, (_, v) =>
      graph.cpu[v]! > 0
        ? new Map([[graph.level[v]!, graph.cpu[v]!]])
        : (EMPTY as Map<number, number>),
    );
    this.neighbours = Array.from({ length: n }, () => new Map<number, number>());
    for (let e = 0; e < graph.edgeFrom.length; e++) {
      const u = graph.edgeFrom[e]!;
      const v = graph.edgeTo[e]!;
      const bytes = graph.edgeBytes[e]!;
      addTo(this.neighbours[u]!, v, bytes);
      addTo(this.neighbours[v]!, u, bytes);
    }
  }

  find(v: number): number {
    const parent = this.parent;
    while (parent[v] !== v) {
      const grand = parent[parent[v]!]!;
      parent[v] = grand;
      v = grand;
    }
    return v;
  }

  /** Writes each node's group root into `into` (length = node count). */
  fillRoots(into: Int32Array): void {
    for (let v = 0; v < into.length; v++) into[v] = this.find(v);
  }

  /** Number of nodes in the group rooted at `root`. */
  sizeOf(root: number): number {
    return this.size[root]!;
  }

  /** Calls `visit` with every member of the group rooted at `root`. */
  forEachMember(root: number, visit: (v: number) => void): void {
    let v = root;
    do {
      visit(v);
      v = this.next[v]!;
    } while (v !== root);
  }

  /** Merges the groups of nodes `a` and `b` when the result fits; says whether it did. */
  tryMerge(a: number, b: number): boolean {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb || !this.canMerge(ra, rb)) return false;
    this.merge(ra, rb);
    return true;
  }

  /** Whether the groups rooted at `ra` and `rb` (distinct roots) fit one worker together. */
  canMerge(ra: number, rb: number): boolean {
    const { capacity, memoryQuotaBytes } = this.options;
    if (this.memoryMb[ra]! + this.memoryMb[rb]! > capacity.memoryMb + EPSILON) return false;
    const between = this.neighbours[ra]!.get(rb) ?? 0;
    const local = this.localBytes[ra]! + this.localBytes[rb]! + between;
    if (local > memoryQuotaBytes + EPSILON) return false;
    const la = this.levels[ra]!;
    const lb = this.levels[rb]!;
    const [small, large] = la.size <= lb.size ? [la, lb] : [lb, la];
    if (Math.max(this.cpuPeak[ra]!, this.cpuPeak[rb]!) > capacity.cpu + EPSILON) return false;
    for (const [level, cpu] of small) {
      if (cpu + (large.get(level) ?? 0) > capacity.cpu + EPSILON) return false;
    }
    return true;
  }

  /** Joins the groups rooted at `ra` and `rb` (distinct, checked by canMerge); returns the root. */
  merge(ra: number, rb: number): number {
    // The root keeps the larger neighbour map, so only the smaller one is re-pointed.
    const [root, gone] =
      this.neighbours[ra]!.size >= this.neighbours[rb]!.size ? [ra, rb] : [rb, ra];
    this.parent[gone] = root;
    this.count--;
    const after = this.next[root]!;
    this.next[root] = this.next[gone]!;
    this.next[gone] = after;
    this.size[root]! += this.size[gone]!;
    this.memoryMb[root]! += this.memoryMb[gone]!;
    this.localBytes[root]! += this.localBytes[gone]!;

    const rootNeighbours = this.neighbours[root]!;
    for (const [other, bytes] of this.neighbours[gone]!) {
      if (other === root) {
        this.localBytes[root]! += bytes;
        continue;
      }
      const theirs = this.neighbours[other]!;
      theirs.delete(gone);
      addTo(theirs, root, bytes);
      addTo(rootNeighbours, other, bytes);
    }
    rootNeighbours.delete(gone);
    this.neighbours[gone] = EMPTY as Map<number, number>;

    let small = this.levels[gone]!;
    let large = this.levels[root]!;
    if (small.size > large.size) [small, large] = [large, small];
    let peak = Math.max(this.cpuPeak[root]!, this.cpuPeak[gone]!);
    for (const [level, cpu] of small) {
      const sum = cpu + (large.get(level) ?? 0);
      large.set(level, sum);
      if (sum > peak) peak = sum;
    }
    this.levels[root] = large;
    this.levels[gone] = EMPTY as Map<number, number>;
    this.cpuPeak[root] = peak;
    return root;
  }
}

function addTo(map: Map<number, number>, key: number, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}
