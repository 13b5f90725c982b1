import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDag } from '../../shared/dag/check.js';
import type { DagNode, WorkflowDag } from '../../shared/dag/types.js';
import { loadWorkflow } from '../../master/workflow/index.js';
import { repoRoot } from '../../bench/paths.js';

function compile(yaml: string): WorkflowDag {
  const r = loadWorkflow(yaml);
  expect(r.issues).toEqual([]);
  expect(r.dag).not.toBeNull();
  expect(checkDag(r.dag!)).toEqual([]);
  return r.dag!;
}

function node(dag: WorkflowDag, id: string): DagNode {
  const n = dag.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id} in ${dag.nodes.map((x) => x.id).join(',')}`);
  return n;
}

const FNS = `
functions:
  a: { code: "export default async (x) => x" }
  b: { code: "export default async (x) => x" }
  c: { code: "export default async (x) => x" }
  d: { code: "export default async (x) => x" }
`;

describe('structured flow', () => {
  it('chains a sequence, each task reading the previous output', () => {
    const dag = compile(`name: s\n${FNS}\nflow: { sequence: [ {task: a}, {task: b}, c ] }`);
    expect(dag.nodes.map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(dag.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['a>b', 'b>c']);
    expect(node(dag, 'a').input).toEqual({ kind: 'input' });
    expect(node(dag, 'c').input).toEqual({ kind: 'node', node: 'b' });
    expect(dag.output).toEqual({ kind: 'node', node: 'c' });
    expect(dag.sources).toEqual(['a']);
    expect(dag.sinks).toEqual(['c']);
  });

  it('gives every parallel branch the same input and the next step the array of outputs', () => {
    const dag = compile(
      `name: p\n${FNS}\nflow:\n  sequence:\n    - task: a\n    - parallel: [ {task: b}, {task: c} ]\n    - task: d`,
    );
    expect(node(dag, 'b').input).toEqual({ kind: 'node', node: 'a' });
    expect(node(dag, 'c').input).toEqual({ kind: 'node', node: 'a' });
    expect(node(dag, 'd').input).toEqual({
      kind: 'array',
      items: [
        { kind: 'node', node: 'b' },
        { kind: 'node', node: 'c' },
      ],
    });
    expect(dag.edges.map((e) => `${e.from}>${e.to}`)).toEqual(['a>b', 'a>c', 'b>d', 'c>d']);
  });

  it('closes a trailing parallel with an end node so the workflow has one output', () => {
    const dag = compile(`name: p\n${FNS}\nflow: { parallel: [a, b] }`);
    expect(dag.sinks).toEqual(['end']);
    expect(dag.output).toEqual({ kind: 'node', node: 'end' });
    expect(node(dag, 'end').kind).toBe('pass');
  });

  it('compiles a switch whose untaken cases are skipped and whose join stays reachable', () => {
    const dag = compile(
      `name: sw\n${FNS}\nflow:\n  sequence:\n    - task: a\n    - switch:\n        - when: "flagged = true"\n          do: { task: b }\n        - default: { task: c }\n    - task: d`,
    );
    const sw = node(dag, 'switch');
    expect(sw.kind).toBe('switch');
    expect(dag.edges.filter((e) => e.from === 'switch').map((e) => [e.to, e.branch])).toEqual([
      ['b', 0],
      ['c', 1],
    ]);
    // The join behind both exclusive branches has an edge from each, and picks the one that ran.
    expect(dag.edges.filter((e) => e.to === 'd').map((e) => e.from)).toEqual(['b', 'c']);
    expect(node(dag, 'd').input).toEqual({
      kind: 'first',
      options: [
        { kind: 'node', node: 'b' },
        { kind: 'node', node: 'c' },
      ],
    });
  });

  it('passes the input on through an implicit default when a switch has no default case', () => {
    const dag = compile(
      `name: sw\n${FNS}\nflow:\n  sequence:\n    - task: a\n    - switch: [ { when: "x > 1", do: b } ]\n    - task: d`,
    );
    expect(dag.edges.filter((e) => e.to === 'd').map((e) => [e.from, e.branch])).toEqual([
      ['b', undefined],
      ['switch', -1],
    ]);
  });

  it('compiles foreach to one node whose body runs per item', () => {
    const dag = compile(
      `name: fe\n${FNS}\nflow:\n  sequence:\n    - task: a\n    - foreach: { items: "$.parts", concurrency: 3, do: { sequence: [b, c] } }\n    - task: d`,
    );
    const fe = node(dag, 'foreach');
    if (fe.kind !== 'foreach') throw new Error('not a foreach');
    expect(fe.items).toBe('$.parts');
    expect(fe.concurrency).toBe(3);
    expect(fe.body.nodes.map((n) => n.id)).toEqual(['b', 'c']);
    expect(fe.body.output).toEqual({ kind: 'node', node: 'c' });
    expect(node(dag, 'd').input).toEqual({ kind: 'node', node: 'foreach' });
  });

  it('names repeated functions uniquely and honours step names', () => {
    const dag = compile(`name: n\n${FNS}\nflow: { sequence: [a, a, { task: a, name: third }] }`);
    expect(dag.nodes.map((n) => n.id).sort()).toEqual(['a', 'a-2', 'third']);
  });

  it('attaches input and output reshaping to nodes, with pass nodes where a step has none', () => {
    const dag = compile(
      `name: r\n${FNS}\nflow:\n  sequence:\n    - { task: a, input: "$.x", output: "{ 'y': $ }" }\n    - parallel: [b, c]\n      output: "$[0]"`,
    );
    const a = node(dag, 'a');
    expect(a.inputExpr).toBe('$.x');
    expect(a.outputExpr).toBe("{ 'y': $ }");
    const pass = dag.nodes.find((n) => n.kind === 'pass' && n.outputExpr === '$[0]');
    expect(pass).toBeDefined();
  });
});

describe('explicit dag', () => {
  it('gives a join an object keyed by parent', () => {
    const dag = compile(
      `name: d\n${FNS}\ndag:\n  x: { task: a }\n  y: { task: b, after: [x] }\n  z: { task: c, after: [x] }\n  w: { task: d, after: [y, z] }`,
    );
    expect(node(dag, 'w').input).toEqual({
      kind: 'object',
      fields: { y: { kind: 'node', node: 'y' }, z: { kind: 'node', node: 'z' } },
    });
    expect(node(dag, 'y').input).toEqual({ kind: 'node', node: 'x' });
    expect(node(dag, 'x').input).toEqual({ kind: 'input' });
    expect(dag.output).toEqual({ kind: 'node', node: 'w' });
  });

  it('keys the output by sink when there are several', () => {
    const dag = compile(
      `name: d\n${FNS}\ndag:\n  x: { task: a }\n  y: { task: b, after: x }\n  z: { task: c, after: [x] }`,
    );
    expect(dag.sinks).toEqual(['y', 'z']);
    expect(dag.output.kind).toBe('object');
  });

  it('routes switch targets by branch and keeps the join behind them reachable', () => {
    const text = readFileSync(join(repoRoot(), 'deploy/examples/moderation.yaml'), 'utf8');
    const dag = compile(text);
    expect(dag.edges.filter((e) => e.from === 'route').map((e) => [e.to, e.branch])).toEqual([
      ['blur', 0],
      ['keep', 1],
    ]);
    expect(dag.edges.filter((e) => e.to === 'store').map((e) => e.from)).toEqual(['blur', 'keep']);
  });
});

describe('examples', () => {
  it.each(['hello', 'video-analytics', 'genome-like', 'moderation'])(
    'compiles deploy/examples/%s.yaml',
    (name) => {
      const text = readFileSync(join(repoRoot(), `deploy/examples/${name}.yaml`), 'utf8');
      const dag = compile(text);
      expect(dag.name).toBe(name);
    },
  );
});

describe('inputSize', () => {
  const base = (extra: string): string =>
    `name: sized\n${extra}functions:\n  f: { code: "export default async (x) => x" }\nflow: { task: f }\n`;

  it('is kept on the DAG when it is a valid expression', () => {
    expect(compile(base("inputSize: 'frames * 3'\n")).inputSize).toBe('frames * 3');
    expect(compile(base('')).inputSize).toBeUndefined();
  });

  it('is rejected with its position when it does not parse', () => {
    const r = loadWorkflow(base("inputSize: 'frames *'\n"));
    expect(r.dag).toBeNull();
    expect(r.issues[0]).toMatchObject({
      path: 'inputSize',
      message: expect.stringMatching(/JSONata/),
    });
  });
});
