import { describe, expect, it } from 'vitest';
import { checkDag } from '../../shared/dag/check.js';
import type { DagNode, ForeachNode, WorkflowDag } from '../../shared/dag/types.js';
import type { NodeId } from '../../shared/ids.js';
import { loadWorkflow } from '../../master/workflow/index.js';

// a → switch → (b | c) → foreach { b → c } → d: every node kind, branches and a nested body.
const YAML = `
name: chk
functions:
  a: { code: "export default async (x) => x" }
  b: { code: "export default async (x) => x" }
  c: { code: "export default async (x) => x" }
  d: { code: "export default async (x) => x" }
flow:
  sequence:
    - task: a
    - switch:
        - when: "flagged = true"
          do: { task: b }
        - default: { task: c }
    - foreach: { items: "$.parts", concurrency: 2, do: { sequence: [b, c] } }
    - task: d
`;

function compiled(): WorkflowDag {
  const r = loadWorkflow(YAML);
  expect(r.issues).toEqual([]);
  return structuredClone(r.dag!);
}

function find(dag: WorkflowDag, id: string): DagNode {
  const n = dag.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id}`);
  return n;
}

function body(dag: WorkflowDag): WorkflowDag {
  const fe = find(dag, 'foreach') as ForeachNode;
  expect(fe.kind).toBe('foreach');
  return fe.body;
}

const id = (s: string): NodeId => s as NodeId;

describe('checkDag', () => {
  it('finds nothing wrong in a DAG the compiler produced', () => {
    const dag = compiled();
    expect(dag.nodes.map((n) => n.kind).sort()).toEqual([
      'foreach',
      'switch',
      'task',
      'task',
      'task',
      'task',
    ]);
    expect(checkDag(dag)).toEqual([]);
  });

  it('checks foreach body tasks against the workflow function catalogue', () => {
    const dag = compiled();
    expect(body(dag).functions).toEqual({});
    expect(checkDag(body(dag))).toContain('node b runs undefined function b');
    expect(checkDag(body(dag), dag.functions)).toEqual([]);
  });

  it('reports a duplicate node id', () => {
    const dag = compiled();
    dag.nodes.push(structuredClone(find(dag, 'd')));
    expect(checkDag(dag)).toContain('duplicate node d');
  });

  it('reports edges whose ends are not nodes', () => {
    const dag = compiled();
    dag.edges.push({ from: id('ghost'), to: id('phantom'), bytes: 0 });
    const problems = checkDag(dag);
    expect(problems).toContain('edge from unknown node ghost');
    expect(problems).toContain('edge to unknown node phantom');
  });

  it('reports a duplicate edge', () => {
    const dag = compiled();
    dag.edges.push({ ...dag.edges[0]! });
    expect(checkDag(dag)).toEqual([`duplicate edge ${dag.edges[0]!.from}->${dag.edges[0]!.to}`]);
  });

  it('reports a branch on an edge that does not leave a switch', () => {
    const dag = compiled();
    const edge = dag.edges.find((e) => e.from === 'a' && e.to === 'switch')!;
    edge.branch = 0;
    expect(checkDag(dag)).toEqual([
      'edge a->switch: branch must be set exactly on edges leaving a switch',
    ]);
  });

  it('reports an edge leaving a switch without a branch', () => {
    const dag = compiled();
    const edge = dag.edges.find((e) => e.from === 'switch' && e.to === 'b')!;
    delete edge.branch;
    expect(checkDag(dag)).toEqual([
      'edge switch->b: branch must be set exactly on edges leaving a switch',
    ]);
  });

  it('reports a cycle and names its nodes', () => {
    const dag = compiled();
    dag.edges.push({ from: id('d'), to: id('a'), bytes: 0 });
    const cycle = checkDag(dag).find((p) => p.startsWith('cycle '));
    expect(cycle).toBeDefined();
    const ids = cycle!.slice('cycle '.length).split(' -> ');
    expect(ids[0]).toBe(ids.at(-1));
    expect(ids).toEqual(expect.arrayContaining(['a', 'switch', 'foreach', 'd']));
  });

  it('reports a template that reads a node without an edge from it', () => {
    const dag = compiled();
    find(dag, 'd').input = {
      kind: 'array',
      items: [
        { kind: 'node', node: id('foreach') },
        { kind: 'node', node: id('a') },
      ],
    };
    expect(checkDag(dag)).toEqual(['node d reads a without an edge from it']);
  });

  it('reports sources and sinks that do not match the edges', () => {
    const dag = compiled();
    dag.sources = [id('b')];
    dag.sinks = [id('a'), id('d')];
    expect(checkDag(dag)).toEqual(['sources b should be a', 'sinks a,d should be d']);
  });

  it('reports a task whose function is not in the catalogue', () => {
    const dag = compiled();
    const a = find(dag, 'a');
    if (a.kind !== 'task') throw new Error('a is not a task');
    a.fn = 'nope';
    expect(checkDag(dag)).toEqual(['node a runs undefined function nope']);
  });

  it('reports problems inside a foreach body with the foreach id in front', () => {
    const dag = compiled();
    const inner = body(dag);
    const c = inner.nodes.find((n) => n.id === 'c')!;
    if (c.kind !== 'task') throw new Error('body c is not a task');
    c.fn = 'missing';
    inner.edges.push({ ...inner.edges[0]! });
    inner.sinks = [];
    expect(checkDag(dag)).toEqual([
      'foreach.body: duplicate edge b->c',
      'foreach.body: node c runs undefined function missing',
      'foreach.body: sinks  should be c',
    ]);
  });

  it('reports every problem at once', () => {
    const dag = compiled();
    dag.edges.push({ ...dag.edges[0]! });
    const a = find(dag, 'a');
    if (a.kind !== 'task') throw new Error('a is not a task');
    a.fn = 'nope';
    dag.sinks = [];
    expect(checkDag(dag)).toHaveLength(3);
  });
});
