import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalize, topologicalOrder } from '../../shared/dag/graph.js';
import type { DagNode, FunctionSpec, WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';
import {
  partition,
  partitionFaasflow,
  type PartitionOptions,
  type PartitionResult,
} from '../../master/partition/index.js';
import { generateDag, shuffleDag } from '../../bench/generate-dag.js';

const MB = 1_000_000;

function fn(name: string, over: Partial<FunctionSpec> = {}): FunctionSpec {
  return {
    name,
    source: { kind: 'builtin', builtin: { sleepMs: 100 } },
    cpu: 1,
    memoryMb: 256,
    timeoutMs: 60_000,
    retries: 0,
    network: 'none',
    runtimeMs: 100,
    outputBytes: 1024,
    ...over,
  };
}

/** A DAG of tasks, each running its own function `f_<id>`; edges as [from, to, bytes]. */
function tasks(
  runtimes: Record<string, number>,
  edges: [string, string, number][],
  over: Partial<FunctionSpec> = {},
): WorkflowDag {
  const functions: Record<string, FunctionSpec> = {};
  const nodes: DagNode[] = Object.entries(runtimes).map(([id, runtimeMs]) => {
    functions[`f_${id}`] = fn(`f_${id}`, { runtimeMs, ...over });
    return {
      id: id as NodeId,
      kind: 'task',
      fn: `f_${id}`,
      path: `dag.${id}`,
      input: { kind: 'input' },
    };
  });
  return normalize({
    name: 'test',
    format: 'dag',
    functions,
    nodes,
    edges: edges.map(([from, to, bytes]) => ({ from: from as NodeId, to: to as NodeId, bytes })),
    output: { kind: 'const', value: null },
  });
}

function isLocal(result: PartitionResult, from: string, to: string): boolean {
  const edge = result.edges.find((e) => e.from === from && e.to === to);
  if (!edge) throw new Error(`no edge ${from} -> ${to}`);
  return edge.local;
}

/** Recomputes each group's demands independently of the partitioner and checks the rule. */
function expectValidPartition(
  dag: WorkflowDag,
  result: PartitionResult,
  options: PartitionOptions,
): void {
  const capacity = options.capacity ?? { cpu: 8, memoryMb: 16384 };
  const quota = options.memoryQuotaBytes ?? 1024 ** 3;
  const ids = dag.nodes.map((n) => n.id as string).sort();
  expect(result.groups.flat().sort()).toEqual(ids);
  result.groups.forEach((group, g) => {
    expect([...group].sort()).toEqual(group);
    for (const id of group) expect(result.groupOf[id]).toBe(g);
  });
  expect(result.groups.map((group) => group[0])).toEqual(
    result.groups.map((group) => group[0]).sort(),
  );

  const order = topologicalOrder(dag.nodes, dag.edges).order!;
  const level = new Map<string, number>(order.map((id) => [id, 0]));
  for (const id of order) {
    for (const e of dag.edges.filter((x) => x.from === id)) {
      level.set(e.to, Math.max(level.get(e.to)!, level.get(id)! + 1));
    }
  }
  const byId = new Map(dag.nodes.map((n) => [n.id as string, n]));
  for (const group of result.groups.filter((g) => g.length > 1)) {
    let memoryMb = 0;
    const cpuAtLevel = new Map<number, number>();
    for (const id of group) {
      const { cpu, memoryMb: mb } = demand(byId.get(id)!, dag.functions);
      memoryMb += mb;
      cpuAtLevel.set(level.get(id)!, (cpuAtLevel.get(level.get(id)!) ?? 0) + cpu);
    }
    const inside = new Set(group);
    const localBytes = dag.edges
      .filter((e) => inside.has(e.from) && inside.has(e.to))
      .reduce((sum, e) => sum + e.bytes, 0);
    expect(memoryMb).toBeLessThanOrEqual(capacity.memoryMb);
    expect(Math.max(...cpuAtLevel.values())).toBeLessThanOrEqual(capacity.cpu);
    expect(localBytes).toBeLessThanOrEqual(quota);
  }
  const local = dag.edges.filter((e) => result.groupOf[e.from] === result.groupOf[e.to]);
  expect(result.localBytes).toBe(local.reduce((sum, e) => sum + e.bytes, 0));
  expect(result.totalBytes).toBe(dag.edges.reduce((sum, e) => sum + e.bytes, 0));
}

function demand(
  node: DagNode,
  functions: WorkflowDag['functions'],
): { cpu: number; memoryMb: number } {
  switch (node.kind) {
    case 'task':
      return { cpu: functions[node.fn]!.cpu, memoryMb: functions[node.fn]!.memoryMb };
    case 'foreach': {
      // Generated bodies are one task.
      const body = node.body.nodes[0]!;
      if (body.kind !== 'task') throw new Error('generated foreach bodies are one task');
      const copies = Math.min(node.concurrency, node.estimatedWidth);
      return {
        cpu: functions[body.fn]!.cpu * copies,
        memoryMb: functions[body.fn]!.memoryMb * copies,
      };
    }
    case 'pass':
    case 'switch':
      return { cpu: 0, memoryMb: 0 };
  }
}

function components(dag: WorkflowDag): string[][] {
  const parent = new Map(dag.nodes.map((n) => [n.id as string, n.id as string]));
  const find = (x: string): string => (parent.get(x) === x ? x : find(parent.get(x)!));
  for (const e of dag.edges) parent.set(find(e.from), find(e.to));
  const by = new Map<string, string[]>();
  for (const n of dag.nodes) by.set(find(n.id), [...(by.get(find(n.id)) ?? []), n.id]);
  return [...by.values()].map((c) => c.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}

const HUGE: PartitionOptions = {
  workers: 3,
  capacity: { cpu: 1e9, memoryMb: 1e12 },
  memoryQuotaBytes: 1e15,
};

describe('partition', () => {
  it('puts every node in exactly one group and respects capacity and quota', () => {
    for (const seed of [1, 2, 3]) {
      const dag = generateDag({ nodes: 120, seed, shape: seed === 2 ? 'random' : 'layered' });
      const options = {
        workers: 3,
        capacity: { cpu: 4, memoryMb: 2048 },
        memoryQuotaBytes: 40 * MB,
      };
      expectValidPartition(dag, partition(dag, options), options);
      expectValidPartition(dag, partitionFaasflow(dag, options), options);
    }
  });

  it('gives the same result for nodes and edges in any order', () => {
    const dag = generateDag({ nodes: 150, seed: 11 });
    const options = { workers: 3, capacity: { cpu: 4, memoryMb: 2048 } };
    const expected = partition(dag, options);
    const baseline = partitionFaasflow(dag, options);
    for (const seed of [1, 2, 3, 4]) {
      expect(partition(shuffleDag(dag, seed), options)).toEqual(expected);
      expect(partitionFaasflow(shuffleDag(dag, seed), options)).toEqual(baseline);
    }
  });

  it('merges each connected component into one group when capacity is unlimited', () => {
    const two = tasks({ a: 1, b: 1, c: 1, x: 1, y: 1 }, [
      ['a', 'b', 0],
      ['b', 'c', 5],
      ['x', 'y', 7],
    ]);
    expect(partition(two, HUGE).groups).toEqual([
      ['a', 'b', 'c'],
      ['x', 'y'],
    ]);
    for (const seed of [5, 6]) {
      const dag = generateDag({ nodes: 200, seed, shape: seed === 6 ? 'random' : 'layered' });
      const result = partition(dag, HUGE);
      expect(result.groups).toEqual(components(dag));
      expect(result.localBytes).toBe(result.totalBytes);
    }
  });

  it('packs unconnected groups together with a single worker when they fit', () => {
    const two = tasks({ a: 1, b: 1, c: 1, x: 1, y: 1 }, [
      ['a', 'b', 0],
      ['b', 'c', 5],
      ['x', 'y', 7],
    ]);
    expect(partition(two, { ...HUGE, workers: 1 }).groups).toEqual([['a', 'b', 'c', 'x', 'y']]);
    // Three tasks of 256 MB per worker: {a, b, c} fills one, {x, y} the next.
    const tight = { workers: 1, capacity: { cpu: 8, memoryMb: 768 } };
    expect(partition(two, tight).groups).toEqual([
      ['a', 'b', 'c'],
      ['x', 'y'],
    ]);
  });

  it('merges nothing when a worker holds only one function', () => {
    const generated = generateDag({ nodes: 100, seed: 8, kinds: 'tasks' });
    const functions = Object.fromEntries(
      Object.entries(generated.functions).map(([name, spec]) => [name, { ...spec, memoryMb: 256 }]),
    );
    const dag = { ...generated, functions };
    const single = partition(dag, { workers: 3, capacity: { cpu: 8, memoryMb: 511 } });
    expect(single.groups).toHaveLength(100);
    expect(single.localBytes).toBe(0);
    const pairs = partition(dag, { workers: 3, capacity: { cpu: 8, memoryMb: 512 } });
    expect(Math.max(...pairs.groups.map((g) => g.length))).toBe(2);
  });

  it('keeps the heavy edge of a diamond local', () => {
    const dag = tasks({ a: 100, b: 100, c: 100, d: 100 }, [
      ['a', 'b', 1000],
      ['a', 'c', 100 * MB],
      ['b', 'd', 1000],
      ['c', 'd', 2000],
    ]);
    const options = { workers: 2, capacity: { cpu: 8, memoryMb: 512 } };
    const ours = partition(dag, options);
    expect(isLocal(ours, 'a', 'c')).toBe(true);
    expect(ours.groups).toEqual([
      ['a', 'c'],
      ['b', 'd'],
    ]);
    // FaaSFlow weighs every edge out of a by a's whole output, so it cannot tell a -> c apart.
    expect(isLocal(partitionFaasflow(dag, options), 'a', 'c')).toBe(false);
  });

  it('keeps merging a heavy edge off the critical path after the path is blocked', () => {
    // a -> b -> c is critical (60 s each) and blocked after {a, b}: groups hold two tasks.
    // x -> y carries 50 MB but is short; FaaSFlow stops before reaching it.
    const dag = tasks({ a: 60_000, b: 60_000, c: 60_000, x: 1, y: 1 }, [
      ['a', 'b', 10 * MB],
      ['b', 'c', 10 * MB],
      ['a', 'x', 1000],
      ['x', 'y', 50 * MB],
    ]);
    const options = { workers: 3, capacity: { cpu: 8, memoryMb: 512 } };
    const baseline = partitionFaasflow(dag, options);
    expect(isLocal(baseline, 'a', 'b')).toBe(true);
    expect(isLocal(baseline, 'x', 'y')).toBe(false);
    const ours = partition(dag, options);
    expect(isLocal(ours, 'a', 'b')).toBe(true);
    expect(isLocal(ours, 'x', 'y')).toBe(true);
    expect(ours.localBytes).toBe(60 * MB);
  });

  it('never keeps an edge local when the in-memory quota is smaller than its bytes', () => {
    const dag = tasks({ a: 100, b: 100 }, [['a', 'b', 10 * MB]]);
    expect(partition(dag, { workers: 1, memoryQuotaBytes: 10 * MB - 1 }).groups).toHaveLength(2);
    expect(partition(dag, { workers: 1, memoryQuotaBytes: 10 * MB }).groups).toHaveLength(1);
  });

  it('lets two tasks share a group only when their cores fit side by side', () => {
    const parallel = tasks(
      { a: 100, b: 100, c: 100 },
      [
        ['a', 'b', MB],
        ['a', 'c', MB],
      ],
      { cpu: 4 },
    );
    const options = { workers: 3, capacity: { cpu: 4, memoryMb: 16384 } };
    const result = partition(parallel, options);
    expect(result.groupOf['b']).not.toBe(result.groupOf['c']);
    const chain = tasks(
      { a: 100, b: 100, c: 100 },
      [
        ['a', 'b', MB],
        ['b', 'c', MB],
      ],
      { cpu: 4 },
    );
    expect(partition(chain, options).groups).toEqual([['a', 'b', 'c']]);
  });

  it('reports the critical path of the final grouping in model milliseconds', () => {
    const dag = tasks({ a: 100, b: 100 }, [['a', 'b', 6_250_000]]);
    const apart = partition(dag, { workers: 3, capacity: { cpu: 8, memoryMb: 300 } });
    expect(apart.criticalPathMs).toBe(100 + 1000 + 100);
    expect(partition(dag, { workers: 3 }).criticalPathMs).toBe(200);
  });

  it('costs a foreach by its concurrent copies and its waves', () => {
    const item = 'item' as NodeId;
    const body: WorkflowDag = {
      name: 'body',
      format: 'dag',
      functions: {},
      nodes: [{ id: item, kind: 'task', fn: 'work', path: 'do', input: { kind: 'input' } }],
      edges: [],
      sources: [item],
      sinks: [item],
      output: { kind: 'node', node: item },
    };
    const base = tasks({ a: 10 }, []);
    const loop: DagNode = {
      id: 'loop' as NodeId,
      kind: 'foreach',
      path: 'flow.foreach',
      input: { kind: 'node', node: 'a' as NodeId },
      items: 'items',
      concurrency: 4,
      estimatedWidth: 10,
      body,
    };
    const dag = normalize({
      ...base,
      functions: { ...base.functions, work: fn('work', { runtimeMs: 50, memoryMb: 1024 }) },
      nodes: [...base.nodes, loop],
      edges: [{ from: 'a' as NodeId, to: 'loop' as NodeId, bytes: 0 }],
    });
    // 4 copies × 1024 MB + 256 MB for a: fits 4352 MB, not 4351.
    expect(
      partition(dag, { workers: 3, capacity: { cpu: 8, memoryMb: 4352 } }).groups,
    ).toHaveLength(1);
    const apart = partition(dag, { workers: 3, capacity: { cpu: 8, memoryMb: 4351 } });
    expect(apart.groups).toHaveLength(2);
    expect(apart.criticalPathMs).toBe(10 + 50 * 3);
  });

  it('partitions an empty DAG into no groups', () => {
    const result = partition(tasks({}, []), { workers: 1 });
    expect(result).toEqual({
      groups: [],
      groupOf: {},
      edges: [],
      localBytes: 0,
      totalBytes: 0,
      criticalPathMs: 0,
    });
  });

  it('rejects invalid options naming each one and what would be valid', () => {
    const dag = tasks({ a: 1 }, []);
    const call = (): unknown =>
      partition(dag, { workers: 0, capacity: { cpu: -1, memoryMb: 10 }, bandwidthBytesPerSec: 0 });
    expect(call).toThrow(AppError);
    expect(call).toThrow(
      /workers must be an integer ≥ 1, got 0.*capacity\.cpu.*bandwidthBytesPerSec/,
    );
  });

  it('rejects a DAG with an edge to an unknown node or an unknown function', () => {
    const dag = tasks({ a: 1, b: 1 }, [['a', 'b', 1]]);
    const dangling = { ...dag, edges: [{ from: 'a' as NodeId, to: 'zz' as NodeId, bytes: 1 }] };
    expect(() => partition(dangling, { workers: 1 })).toThrow(
      /edge a -> zz names zz, which is not a node/,
    );
    const unknown = { ...dag, functions: {} };
    expect(() => partition(unknown, { workers: 1 })).toThrow(
      /node a runs function f_a, which is not in the catalogue/,
    );
  });

  it('rejects a cyclic DAG naming the cycle', () => {
    const dag = tasks({ a: 1, b: 1 }, [
      ['a', 'b', 1],
      ['b', 'a', 1],
    ]);
    expect(() => partition(dag, { workers: 1 })).toThrow(/cycle: a -> b -> a/);
  });

  it('keeps at least as many bytes local as FaaSFlow on generated DAGs', () => {
    const scenario = fc.record({
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      nodes: fc.integer({ min: 1, max: 80 }),
      shape: fc.constantFrom('layered' as const, 'random' as const),
      kinds: fc.constantFrom('mixed' as const, 'tasks' as const),
      workers: fc.integer({ min: 1, max: 4 }),
      cpu: fc.constantFrom(1, 2, 4, 8, 16),
      memoryMb: fc.constantFrom(256, 1024, 4096, 16384),
      memoryQuotaBytes: fc.constantFrom(0, 5 * MB, 50 * MB, 1024 ** 3),
    });
    fc.assert(
      fc.property(scenario, (s) => {
        const dag = generateDag({ nodes: s.nodes, seed: s.seed, shape: s.shape, kinds: s.kinds });
        const options = {
          workers: s.workers,
          capacity: { cpu: s.cpu, memoryMb: s.memoryMb },
          memoryQuotaBytes: s.memoryQuotaBytes,
        };
        const ours = partition(dag, options);
        const theirs = partitionFaasflow(dag, options);
        expectValidPartition(dag, ours, options);
        expect(ours.localBytes).toBeGreaterThanOrEqual(theirs.localBytes);
      }),
      { numRuns: 300, seed: 20240501 },
    );
  });
});
