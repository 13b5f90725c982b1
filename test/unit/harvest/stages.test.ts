import { describe, expect, it } from 'vitest';
import { checkDag } from '../../../shared/dag/check.js';
import type { NodeId } from '../../../shared/ids.js';
import type { WorkflowDag } from '../../../shared/dag/types.js';
import { loadWorkflow } from '../../../master/workflow/index.js';
import {
  comparePaths,
  findStages,
  foreachInstance,
  type StagePlan,
} from '../../../shared/harvest/stages.js';

function compile(yaml: string): WorkflowDag {
  const r = loadWorkflow(yaml);
  expect(r.issues).toEqual([]);
  expect(checkDag(r.dag!)).toEqual([]);
  return r.dag!;
}

const FNS = `
functions:
  a: { code: "export default async (x) => x" }
  b: { code: "export default async (x) => x" }
  c: { code: "export default async (x) => x" }
  d: { code: "export default async (x) => x" }
`;

/** `stage id: member,member` per stage, in plan order. */
function summary(plan: StagePlan): string[] {
  return plan.stages.map((s) => `${s.id}: ${s.members.map((m) => `${m.node}(${m.fn})`).join(',')}`);
}

describe('findStages', () => {
  it('makes every node of a sequence a stage of width 1, in order', () => {
    const plan = findStages(compile(`name: s\n${FNS}\nflow: { sequence: [a, b, c] }`));
    expect(summary(plan)).toEqual(['a: a(a)', 'b: b(b)', 'c: c(c)']);
    expect(plan.byNode['b']).toEqual({ stage: 'b', index: 0, width: 1 });
  });

  it('puts the first step of every parallel branch in one stage, in branch order', () => {
    const dag = compile(
      `name: p\n${FNS}\nflow:\n  sequence:\n    - a\n    - parallel: [ b, c, { sequence: [b, d] } ]\n    - d`,
    );
    const plan = findStages(dag);
    expect(summary(plan)).toEqual([
      'a: a(a)',
      'b+c+b-2: b(b),c(c),b-2(b)',
      'd: d(d)',
      'd-2: d-2(d)',
    ]);
    expect(plan.byNode['b']).toEqual({ stage: 'b+c+b-2', index: 0, width: 3 });
    expect(plan.byNode['c']).toEqual({ stage: 'b+c+b-2', index: 1, width: 3 });
    expect(plan.byNode['b-2']).toEqual({ stage: 'b+c+b-2', index: 2, width: 3 });
    expect(plan.stages[1]!.readyAfter).toEqual(['a']);
  });

  it('treats the roots of a workflow as one stage fed by the invocation input', () => {
    const plan = findStages(compile(`name: p\n${FNS}\nflow: { parallel: [a, b] }`));
    expect(summary(plan)).toEqual(['a+b: a(a),b(b)']);
    expect(plan.stages[0]!.readyAfter).toEqual(['$input']);
    expect(plan.byNode['end']).toBeUndefined();
  });

  it('groups a fan-out and a diamond by their parents, and the join alone', () => {
    const dag = compile(
      `name: g\n${FNS}\ndag:\n  s: { task: a }\n  x: { task: b, after: [s] }\n  y: { task: c, after: [s] }\n  z: { task: c, after: [s] }\n  j: { task: d, after: [x, y] }\n  k: { task: d, after: [x, y] }\n  t: { task: a, after: [j, k, z] }\n`,
    );
    const plan = findStages(dag);
    expect(summary(plan)).toEqual([
      's: s(a)',
      'x+y+z: x(b),y(c),z(c)',
      'j+k: j(d),k(d)',
      't: t(a)',
    ]);
    expect(plan.stages.map((s) => s.width)).toEqual([1, 3, 2, 1]);
  });

  it('keeps targets of different switch cases apart and targets of one case together', () => {
    const dag = compile(
      `name: g\n${FNS}\ndag:\n  x: { task: a }\n  y: { task: b }\n  m: { task: c, after: [x, y] }\n  route:\n    after: [m]\n    switch:\n      - when: 'flagged'\n        to: [p, q]\n      - default: [r]\n  p: { task: a }\n  q: { task: b }\n  r: { task: c }\n`,
    );
    const plan = findStages(dag);
    expect(summary(plan)).toEqual(['x+y: x(a),y(b)', 'm: m(c)', 'p+q: p(a),q(b)', 'r: r(c)']);
    expect(plan.stages[2]!.readyAfter).toEqual(['route#0']);
    expect(plan.stages[3]!.readyAfter).toEqual(['route#1']);
  });

  it('scopes foreach bodies under the foreach node and numbers run-time instances item-major', () => {
    const dag = compile(
      `name: f\n${FNS}\nflow:\n  sequence:\n    - a\n    - foreach: { items: '$', concurrency: 4, do: { parallel: [b, c] } }\n    - d`,
    );
    const plan = findStages(dag);
    expect(summary(plan)).toEqual(['a: a(a)', 'd: d(d)', 'foreach/b+c: foreach/b(b),foreach/c(c)']);
    const c = plan.byNode['foreach/c']!;
    expect(c).toMatchObject({ stage: 'foreach/b+c', index: 1, width: 2 });
    expect(c.foreach).toMatchObject({ node: 'foreach', concurrency: 4 });
    // 5 items × 2 siblings: item 3's c is instance 7 of 10.
    expect(foreachInstance(c, 3, 5)).toEqual({ index: 7, width: 10 });
  });

  it('sees through pass nodes: tasks behind passes fed by the same parent are one stage', () => {
    const id = (s: string): NodeId => s as NodeId;
    const task = (n: string, fn: string) => ({
      id: id(n),
      kind: 'task' as const,
      fn,
      path: `dag.${n}`,
      input: { kind: 'input' as const },
    });
    const pass = (n: string) => ({
      id: id(n),
      kind: 'pass' as const,
      path: `dag.${n}`,
      input: { kind: 'input' as const },
    });
    const e = (from: string, to: string) => ({ from: id(from), to: id(to), bytes: 1 });
    const dag = {
      ...compile(`name: s\n${FNS}\nflow: { sequence: [a] }`),
      nodes: [
        task('a', 'a'),
        pass('p1'),
        pass('p2'),
        task('x', 'b'),
        task('y', 'c'),
        task('z', 'd'),
      ],
      edges: [e('a', 'p1'), e('a', 'p2'), e('p1', 'x'), e('p2', 'y'), e('a', 'z')],
    } as WorkflowDag;
    expect(summary(findStages(dag))).toEqual(['a: a(a)', 'x+y+z: x(b),y(c),z(d)']);
  });

  it('is deterministic whatever the order of nodes and edges', () => {
    const dag = compile(
      `name: p\n${FNS}\nflow:\n  sequence:\n    - a\n    - parallel: [ b, c, { sequence: [b, d] } ]\n    - d`,
    );
    const shuffled = { ...dag, nodes: [...dag.nodes].reverse(), edges: [...dag.edges].reverse() };
    expect(findStages(shuffled)).toEqual(findStages(dag));
  });

  it('orders paths naturally', () => {
    expect(['p[10]', 'p[2]', 'p[1].q'].sort(comparePaths)).toEqual(['p[1].q', 'p[2]', 'p[10]']);
  });
});
