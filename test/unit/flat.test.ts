import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import jsonata from 'jsonata';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { checkDag } from '../../shared/dag/check.js';
import type { DagNode, ForeachNode, SwitchNode, WorkflowDag } from '../../shared/dag/types.js';
import { translateCondition } from '../../master/workflow/flat-condition.js';
import {
  importFlat,
  isFlatWorkflow,
  type FlatImportOptions,
  type FlatImportResult,
} from '../../master/workflow/flat.js';
import { faasflowBenchmarks } from '../../bench/paths.js';

const BENCHMARKS = faasflowBenchmarks();

function load(file: string): Record<string, unknown> {
  return YAML.parse(readFileSync(join(BENCHMARKS, file), 'utf8')) as Record<string, unknown>;
}

function imported(file: string, options?: FlatImportOptions): WorkflowDag {
  const result = importFlat(load(file), 'bench', options);
  expect(result.issues).toEqual([]);
  expect(result.dag).not.toBeNull();
  return result.dag!;
}

function node(dag: WorkflowDag, id: string): DagNode {
  const n = dag.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
}

function edge(dag: WorkflowDag, from: string, to: string) {
  const e = dag.edges.find((x) => x.from === from && x.to === to);
  if (!e) throw new Error(`no edge ${from} -> ${to}`);
  return e;
}

/** A minimal flat document: entries given as [name, next nodes] pairs. */
function chain(...entries: [string, string[]][]): Record<string, unknown> {
  return {
    functions: entries.map(([name, next]) => ({
      name,
      source: name,
      runtime: 1,
      output: { out: { type: 'normal', size: 10 } },
      next: { type: 'pass', nodes: next },
    })),
  };
}

function paths(result: FlatImportResult): string[] {
  return result.issues.map((i) => i.path);
}

/** Asserts exactly these issues, in order: [path, a fragment of the message]. */
function expectIssues(result: FlatImportResult, expected: [string, string][]): void {
  expect(result.dag).toBeNull();
  expect(paths(result)).toEqual(expected.map(([path]) => path));
  expected.forEach(([, fragment], k) => expect(result.issues[k]!.message).toContain(fragment));
}

describe('importFlat on the FaaSFlow benchmarks', () => {
  // Counts from the benchmarks README: nodes = entries (VIRTUAL and END included), edges =
  // entries of all next.nodes lists.
  const table: [string, number, number][] = [
    ['cycles/flat_workflow.yaml', 46, 52],
    ['epigenomics/flat_workflow.yaml', 45, 50],
    ['genome/flat_workflow.yaml', 50, 74],
    ['soykb/flat_workflow.yaml', 45, 77],
    ['video/flat_workflow.yaml', 6, 5],
    ['illgal_recognizer/flat_workflow.yaml', 10, 11],
    ['fileprocessing/flat_workflow.yaml', 4, 4],
    ['wordcount/flat_workflow.yaml', 3, 2],
    ['genome-scalability/10.yaml', 10, 12],
    ['genome-scalability/25.yaml', 25, 37],
    ['genome-scalability/50.yaml', 50, 74],
    ['genome-scalability/100.yaml', 100, 148],
    ['genome-scalability/200.yaml', 200, 296],
    ['examples-foreach/flat_workflow.yaml', 3, 2],
    ['examples-parallel/flat_workflow.yaml', 4, 4],
    ['examples-parallel2/flat_workflow.yaml', 7, 8],
    ['examples-switch/flat_workflow.yaml', 4, 3],
  ];

  it.each(table)('imports %s with %i nodes and %i edges', (file, nodes, edges) => {
    const dag = imported(file);
    expect(dag.format).toBe('faasflow');
    expect(dag.name).toBe('bench');
    expect(dag.nodes).toHaveLength(nodes);
    expect(dag.edges).toHaveLength(edges);
    expect(checkDag(dag)).toEqual([]);
    const ids = new Set(dag.nodes.map((n) => n.id));
    for (const e of dag.edges) {
      expect(ids.has(e.from) && ids.has(e.to)).toBe(true);
      expect(e.branch !== undefined).toBe(node(dag, e.from).kind === 'switch');
    }
  });

  it('routes illgal_recognizer mosaic from both switches on branch 0 and ends in a pass node', () => {
    const dag = imported('illgal_recognizer/flat_workflow.yaml');
    expect(dag.edges.filter((e) => e.to === 'mosaic')).toEqual([
      expect.objectContaining({ from: 'virtual1', branch: 0 }),
      expect.objectContaining({ from: 'virtual2', branch: 0 }),
    ]);
    expect(edge(dag, 'virtual1', 'extract').branch).toBe(1);
    expect(edge(dag, 'virtual2', 'END').branch).toBe(1);
    expect(node(dag, 'END').kind).toBe('pass');
    const v1 = node(dag, 'virtual1') as SwitchNode;
    expect(v1.kind).toBe('switch');
    expect(v1.cases.map((c) => c.when)).toEqual(['illegal_flag', null]);
    expect(v1.input).toEqual({
      kind: 'merge',
      items: [
        { kind: 'input' },
        { kind: 'node', node: 'adult' },
        { kind: 'node', node: 'violence' },
      ],
    });
    expect(dag.sinks).toEqual(['END', 'mosaic']);
  });

  it('makes video transcode a foreach node over split_keys whose body runs transcode', () => {
    const dag = imported('video/flat_workflow.yaml');
    const t = node(dag, 'transcode') as ForeachNode;
    expect(t.kind).toBe('foreach');
    expect(t.items).toBe('split_keys');
    expect(t.concurrency).toBe(3);
    expect(t.estimatedWidth).toBe(3);
    expect(t.body.format).toBe('faasflow');
    expect(t.body.nodes).toEqual([
      expect.objectContaining({
        kind: 'task',
        id: 'transcode',
        fn: 'transcode',
        input: { kind: 'input' },
      }),
    ]);
    expect(t.body.edges).toEqual([]);
    expect(t.body.output).toEqual({ kind: 'node', node: 'transcode' });
    expect(t.body.functions['transcode']).toEqual(dag.functions['transcode']);
    const split = dag.functions['split']!.source;
    expect(split).toEqual({
      kind: 'builtin',
      builtin: {
        sleepMs: 630,
        fields: { split_keys: 8, content: 51724615 },
        keys: { split_keys: 3 },
      },
    });
  });

  it('uses defaultForeachWidth when the consumer has no split_ratio', () => {
    const dag = imported('wordcount/flat_workflow.yaml', { defaultForeachWidth: 5 });
    const count = node(dag, 'count') as ForeachNode;
    expect([count.items, count.concurrency, count.estimatedWidth]).toEqual(['filename', 5, 5]);
    expect(dag.functions['start']!.source).toMatchObject({ builtin: { keys: { filename: 5 } } });
    expect(
      imported('wordcount/flat_workflow.yaml').nodes.find((n) => n.id === 'count'),
    ).toMatchObject({
      concurrency: 8,
    });
  });

  it('weighs Genome edges at the ~177 MB FaaSFlow moves between functions', () => {
    const dag = imported('genome/flat_workflow.yaml');
    const total = dag.edges.reduce((sum, e) => sum + e.bytes, 0);
    console.log(`genome: ${dag.edges.length} edges carry ${(total / 1e6).toFixed(2)} MB`);
    expect(total).toBeGreaterThan(170e6);
    expect(total).toBeLessThan(185e6);
  });

  it('weighs an edge by the inputs the consumer declares from the producer', () => {
    const dag = imported('fileprocessing/flat_workflow.yaml');
    expect(edge(dag, 'start', 'conversion').bytes).toBe(29600094);
    expect(edge(dag, 'conversion', 'upload').bytes).toBe(29600099);
    expect(edge(dag, 'sentiment', 'upload').bytes).toBe(8);
  });

  it('weighs switch edges by what the condition and the branches read, not by the blobs', () => {
    const dag = imported('illgal_recognizer/flat_workflow.yaml');
    // adult outputs 24 bytes; the switch condition reads illegal_flag (8); mosaic and extract read
    // nothing of adult's.
    expect(edge(dag, 'adult', 'virtual1').bytes).toBe(8);
    expect(edge(dag, 'virtual1', 'mosaic').bytes).toBe(0);
    expect(edge(dag, 'virtual2', 'END').bytes).toBe(0);
    // upload's consumers declare nothing from it: FaaSFlow's weight, all of upload's outputs.
    expect(edge(dag, 'upload', 'adult').bytes).toBe(1327855);
    // transcode → merge: merge declares no input from transcode, so all transcode's outputs.
    expect(edge(imported('video/flat_workflow.yaml'), 'transcode', 'merge').bytes).toBe(22694084);
  });

  it('builds synthetic functions from runtime, sizes and the runtime scale', () => {
    const dag = imported('fileprocessing/flat_workflow.yaml', { runtimeScale: 0.5 });
    expect(dag.functions['conversion']).toEqual({
      name: 'conversion',
      source: { kind: 'builtin', builtin: { sleepMs: 9500, fields: { html: 29600099 } } },
      cpu: 1,
      memoryMb: 256,
      timeoutMs: 95000,
      retries: 0,
      network: 'none',
      runtimeMs: 9500,
      outputBytes: 29600099,
    });
    expect(dag.functions['start']!.timeoutMs).toBe(60000);
    expect(node(dag, 'start').input).toEqual({ kind: 'input' });
    expect(node(dag, 'upload').input).toEqual({
      kind: 'merge',
      items: [
        { kind: 'input' },
        { kind: 'node', node: 'conversion' },
        { kind: 'node', node: 'sentiment' },
      ],
    });
  });

  it('turns a pass global_output into an object template and a picking outputExpr', async () => {
    const dag = imported('examples-foreach/flat_workflow.yaml');
    expect(dag.output).toEqual({
      kind: 'object',
      fields: { result: { kind: 'node', node: 'add' } },
    });
    const picked: unknown = await jsonata(dag.outputExpr!).evaluate({
      result: { add_result: 42, other: 'big blob' },
    });
    expect(picked).toEqual({ result: 42 });
  });

  it('turns a switch global_output into a first template', async () => {
    const dag = imported('examples-switch/flat_workflow.yaml');
    expect(dag.output).toEqual({
      kind: 'object',
      fields: {
        result: {
          kind: 'first',
          options: [
            { kind: 'node', node: 'invalid' },
            { kind: 'node', node: 'sqrt' },
          ],
        },
      },
    });
    expect(await jsonata(dag.outputExpr!).evaluate({ result: { sqrt_result: 3 } })).toEqual({
      result: 3,
    });
    const v = node(dag, 'virtual1') as SwitchNode;
    expect(v.input).toEqual({ kind: 'input' });
    expect(v.cases.map((c) => c.when)).toEqual(['input1 < input2', null]);
  });

  it('reports only the sinks as output when there is no global_output', () => {
    const dag = imported('cycles/flat_workflow.yaml');
    expect(dag.output).toEqual({ kind: 'const', value: { sinks: dag.sinks } });
    expect(dag.sinks).toHaveLength(4);
    expect(dag.outputExpr).toBeUndefined();
  });

  it('accepts the fuctions typo with a warning', () => {
    const result = importFlat(load('examples-parallel/flat_workflow.yaml'), 'p');
    expect(result.issues).toEqual([]);
    expect(result.warnings).toEqual([expect.stringContaining('fuctions')]);
    expect(importFlat(load('fileprocessing/flat_workflow.yaml'), 'p').warnings).toEqual([]);
  });

  it('makes a VIRTUAL entry that does not switch a pass node', () => {
    const dag = imported('examples-parallel2/flat_workflow.yaml');
    expect(node(dag, 'virtual3').kind).toBe('pass');
  });
});

describe('importFlat issues', () => {
  it('names the nodes of a cycle at the edge that closes it', () => {
    const result = importFlat(chain(['a', ['b']], ['b', ['c']], ['c', ['a']]), 'w');
    expect(result.dag).toBeNull();
    expectIssues(result, [['functions[0].next.nodes[0]', 'a → b → c → a']]);
  });

  it('reports a next node naming an unknown function with its path', () => {
    const result = importFlat(
      chain(['a', ['b']], ['b', []], ['c', []], ['d', ['a', 'ghost']]),
      'w',
    );
    expectIssues(result, [['functions[3].next.nodes[1]', '"ghost"']]);
  });

  it('reports every problem at once', () => {
    const doc = chain(['a', ['b']], ['b', []], ['b', []]);
    const fns = doc['functions'] as unknown[];
    fns.push({ source: 'x' }, 7, {
      name: 'e',
      runtime: 'slow',
      output: [],
      next: { type: 'loop' },
    });
    const result = importFlat(doc, 'w');
    expect(paths(result)).toEqual([
      'functions[3].name',
      'functions[4]',
      'functions[5].runtime',
      'functions[5].output',
      'functions[5].next.type',
      'functions[2].name',
    ]);
    expect(result.issues[0]!.message).toBe('name is missing');
    expect(result.issues[5]!.message).toContain('duplicate name "b"');
  });

  it('rejects a node listed under several cases of one switch', () => {
    const doc = {
      functions: [
        {
          name: 'v',
          source: 'VIRTUAL',
          next: { type: 'switch', conditions: ['INPUT.x', 'default'], nodes: ['a', 'a'] },
        },
        { name: 'a', source: 'a' },
      ],
    };
    expectIssues(importFlat(doc, 'w'), [['functions[0].next.nodes[1]', 'several cases']]);
  });

  it('reports an untranslatable condition at its path', () => {
    const doc = {
      functions: [
        {
          name: 'v',
          source: 'VIRTUAL',
          next: { type: 'switch', conditions: ['len(INPUT.x) > 2', 'default'], nodes: ['a', 'b'] },
        },
        { name: 'a', source: 'a' },
        { name: 'b', source: 'b' },
      ],
    };
    expectIssues(importFlat(doc, 'w'), [['functions[0].next.conditions[0]', '"len"']]);
  });

  it('rejects a foreach whose producer declares no keys output', () => {
    const doc = chain(['a', ['b']], ['b', []]);
    (doc['functions'] as { next: { type: string } }[])[0]!.next.type = 'foreach';
    expectIssues(importFlat(doc, 'w'), [['functions[0].next.nodes[0]', 'no output of type keys']]);
  });

  it('rejects names that are not valid node ids or are INPUT', () => {
    expectIssues(importFlat(chain(['a b', []], ['INPUT', []]), 'w'), [
      ['functions[0].name', 'must match'],
      ['functions[1].name', 'reserved'],
    ]);
  });

  it('rejects a missing or empty functions list, bad options and a bad workflow name', () => {
    expect(paths(importFlat({ global_input: {} }, 'w'))).toEqual(['functions']);
    expect(paths(importFlat({ functions: [] }, 'w'))).toEqual(['functions']);
    expect(paths(importFlat({ functions: [], fuctions: [] }, 'w'))).toEqual(['fuctions']);
    const bad = importFlat(chain(['a', []]), 'Bad Name', {
      runtimeScale: -1,
      defaultForeachWidth: 0.5,
    });
    expect(paths(bad)).toEqual(['options.runtimeScale', 'options.defaultForeachWidth', '']);
  });

  it('recognises flat documents by their functions list', () => {
    expect(isFlatWorkflow(load('video/flat_workflow.yaml'))).toBe(true);
    expect(isFlatWorkflow(load('examples-parallel/flat_workflow.yaml'))).toBe(true);
    expect(isFlatWorkflow({ functions: { a: { handler: 'a.js' } } })).toBe(false);
    expect(isFlatWorkflow(7 as unknown as Record<string, unknown>)).toBe(false);
  });
});

describe('translateCondition', () => {
  it.each([
    ['INPUT.split', 'split'],
    ['INPUT.input1 < INPUT.input2', 'input1 < input2'],
    ['INPUT.flag == True and INPUT.n != None', 'flag = true and n != null'],
    ['not INPUT.a or INPUT.b >= 2.5', '$not(a) or b >= 2.5'],
    ["INPUT['odd-name'] == 'x'", '`odd-name` = "x"'],
    ['INPUT.in is not None', '`in` != null'],
    ['INPUT.k not in [1, 2]', '$not(k in [1, 2])'],
    ['0 < INPUT.x < 10', '(0 < x and x < 10)'],
    ['(INPUT.a + 1) * 2 % 3 == -INPUT.b', '(a + 1) * 2 % 3 = -b'],
  ])('translates %s', (python, expected) => {
    expect(translateCondition(python)).toMatchObject({ ok: true, jsonata: expected });
  });

  it.each([
    'len(INPUT.x)',
    'INPUT',
    'INPUT.a // 2',
    'INPUT.a ==',
    '"open',
    'INPUT.a[0]',
    '('.repeat(40) + '1' + ')'.repeat(40),
  ])('rejects %s', (python) => {
    expect(translateCondition(python).ok).toBe(false);
  });
});

describe('importFlat never throws', () => {
  const seeds = [load('illgal_recognizer/flat_workflow.yaml'), load('video/flat_workflow.yaml')];
  const words = [
    'upload',
    'mosaic',
    'virtual1',
    'END',
    'VIRTUAL',
    'switch',
    'foreach',
    'keys',
    'default',
    'INPUT.x ==',
    '__proto__',
    'constructor',
  ];
  const value = fc.oneof(
    fc.anything({ withNullPrototype: true, maxDepth: 3 }),
    fc.constantFrom(...words),
    fc.array(fc.constantFrom(...words), { maxLength: 4 }),
    fc.integer({ min: -5, max: 1e9 }),
  );
  const mutation = fc.record({
    walk: fc.array(fc.nat(), { maxLength: 6 }),
    action: fc.constantFrom('replace', 'delete', 'duplicate'),
    value,
  });
  type Mutation = { walk: number[]; action: 'replace' | 'delete' | 'duplicate'; value: unknown };

  function mutate(doc: unknown, m: Mutation): void {
    let container = doc as Record<string, unknown> | unknown[];
    for (let i = 0; ; i++) {
      const keys = Object.keys(container);
      if (keys.length === 0) return;
      const key = keys[(m.walk[i] ?? 0) % keys.length]!;
      const child = (container as Record<string, unknown>)[key];
      if (i + 1 < m.walk.length && typeof child === 'object' && child !== null) {
        container = child as Record<string, unknown>;
        continue;
      }
      const target = container as Record<string, unknown>;
      if (m.action === 'replace') target[key] = m.value;
      else if (m.action === 'delete') delete target[key];
      else if (Array.isArray(container)) container.push(structuredClone(child));
      else target[`${key}_copy`] = m.value;
      return;
    }
  }

  it('returns issues (or a valid DAG) for 2000 random mutations of real documents', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        (seed, ms) => {
          const doc = structuredClone(seeds[seed]);
          for (const m of ms) mutate(doc, m);
          const result = importFlat(doc as Record<string, unknown>, 'fuzz');
          expect(result.dag === null).toBe(result.issues.length > 0);
          if (result.dag) {
            const ids = new Set(result.dag.nodes.map((n) => n.id));
            for (const e of result.dag.edges) expect(ids.has(e.from) && ids.has(e.to)).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('returns issues for arbitrary garbage documents and options', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (doc, options) => {
        const result = importFlat(
          doc as Record<string, unknown>,
          'fuzz',
          options as FlatImportOptions,
        );
        expect(result.issues.length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
