import { describe, expect, it } from 'vitest';
import { CriticalPathSolver, transferMs } from '../../master/partition/critical-path.js';
import { indexGraph } from '../../master/partition/graph.js';
import { Groups } from '../../master/partition/groups.js';
import { resolveOptions } from '../../master/partition/options.js';
import { mulberry32 } from '../../shared/random.js';
import { generateDag } from '../../bench/generate-dag.js';

describe('critical path solver', () => {
  it('gives after each incremental update exactly what a full solve gives', () => {
    for (const seed of [1, 2, 3, 4]) {
      const dag = generateDag({ nodes: 300, seed, shape: seed % 2 === 0 ? 'random' : 'layered' });
      const graph = indexGraph(dag, dag.functions);
      const options = resolveOptions({
        workers: 3,
        capacity: { cpu: 1e6, memoryMb: 1e9 },
        memoryQuotaBytes: 1e15,
      });
      const groups = new Groups(graph, options);
      const weightMs = transferMs(graph.edgeBytes, options.bandwidthBytesPerSec);
      const root = new Int32Array(graph.ids.length);
      groups.fillRoots(root);
      const incremental = new CriticalPathSolver(graph);
      incremental.solve(weightMs, root);
      const rand = mulberry32(seed);
      for (let step = 0; step < 60; step++) {
        // Merge the groups of a random edge; every edge between the two groups becomes local.
        const e = Math.floor(rand() * graph.edgeFrom.length);
        const a = root[graph.edgeFrom[e]!]!;
        const b = root[graph.edgeTo[e]!]!;
        if (a === b) continue;
        const madeLocal: number[] = [];
        for (let k = 0; k < graph.edgeFrom.length; k++) {
          const from = root[graph.edgeFrom[k]!];
          const to = root[graph.edgeTo[k]!];
          if ((from === a && to === b) || (from === b && to === a)) madeLocal.push(k);
        }
        groups.merge(a, b);
        groups.fillRoots(root);
        const updated = incremental.update(weightMs, root, madeLocal);
        expect(updated).toEqual(new CriticalPathSolver(graph).solve(weightMs, root));
      }
    }
  });

  it('follows the longest chain of runtimes and cross-group transfers', () => {
    const dag = generateDag({ nodes: 40, seed: 9, kinds: 'tasks' });
    const graph = indexGraph(dag, dag.functions);
    const weightMs = transferMs(graph.edgeBytes, 6_250_000);
    const root = Int32Array.from(graph.ids, (_, v) => v);
    const path = new CriticalPathSolver(graph).solve(weightMs, root);
    // Brute force: the longest finish over all paths by recursion over parents.
    const memo = new Map<number, number>();
    const finish = (v: number): number => {
      const known = memo.get(v);
      if (known !== undefined) return known;
      let start = 0;
      for (let e = 0; e < graph.edgeTo.length; e++) {
        if (graph.edgeTo[e] === v)
          start = Math.max(start, finish(graph.edgeFrom[e]!) + weightMs[e]!);
      }
      memo.set(v, start + graph.runtimeMs[v]!);
      return start + graph.runtimeMs[v]!;
    };
    const longest = Math.max(...graph.ids.map((_, v) => finish(v)));
    expect(path.lengthMs).toBeCloseTo(longest, 6);
    let sum = graph.runtimeMs[graph.edgeFrom[path.edges.at(-1)!]!]!;
    for (const e of path.edges) sum += weightMs[e]! + graph.runtimeMs[graph.edgeTo[e]!]!;
    expect(sum).toBeCloseTo(path.lengthMs, 6);
  });
});
