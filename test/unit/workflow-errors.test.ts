import { describe, expect, it } from 'vitest';
import { LIMITS, loadWorkflow, type Issue } from '../../master/workflow/index.js';

function issues(yaml: string): Issue[] {
  const r = loadWorkflow(yaml);
  expect(r.dag).toBeNull();
  expect(r.issues.length).toBeGreaterThan(0);
  return r.issues;
}

function find(list: Issue[], path: string, pattern: RegExp): Issue {
  const hit = list.find((i) => i.path === path && pattern.test(i.message));
  if (!hit)
    throw new Error(
      `no issue at ${path} matching ${pattern}; got ${JSON.stringify(list, null, 1)}`,
    );
  return hit;
}

const OK_FN = `{ code: "export default async (x) => x" }`;

describe('workflow validation errors', () => {
  it('names the nodes of a cycle', () => {
    const list = issues(
      `name: c\nfunctions: { f: ${OK_FN} }\ndag:\n  a: { task: f, after: [c] }\n  b: { task: f, after: [a] }\n  c: { task: f, after: [b] }`,
    );
    const cycle = find(list, 'dag', /cycle/);
    for (const n of ['a', 'b', 'c']) expect(cycle.message).toContain(n);
  });

  it('rejects a function used but not defined, listing the defined ones', () => {
    const list = issues(
      `name: u\nfunctions: { f: ${OK_FN} }\nflow: { sequence: [ { task: f }, { task: g } ] }`,
    );
    const i = find(list, 'flow.sequence[1].task', /"g" is not defined/);
    expect(i.message).toContain('defined: f');
    expect(i.line).toBe(3);
  });

  it('rejects an empty task name in either form (found by the YAML fuzzer, seed 272982583)', () => {
    const dag = issues(
      `name: e\nfunctions: { f: ${OK_FN} }\ndag:\n  a: { task: "" }\n  b: { task: f, after: [a] }`,
    );
    find(dag, 'dag.a.task', /must not be empty/);
    const flow = issues(
      `name: e\nfunctions: { f: ${OK_FN} }\nflow: { sequence: [ { task: "" }, f ] }`,
    );
    find(flow, 'flow.sequence[0].task', /must name a function of the catalogue/);
  });

  it('rejects unknown node references in after and switch targets', () => {
    const list = issues(
      `name: u\nfunctions: { f: ${OK_FN} }\ndag:\n  a: { task: f, after: [nope] }\n  s: { switch: [ { when: "true", to: [ghost] } ] }`,
    );
    find(list, 'dag.a.after[0]', /unknown node "nope"/);
    find(list, 'dag.s.switch[0].to[0]', /unknown node "ghost"/);
  });

  it('rejects duplicate names: YAML keys with their line, and step names', () => {
    const dup = issues(`name: d\nfunctions:\n  f: ${OK_FN}\n  f: ${OK_FN}\nflow: f`);
    expect(dup[0]!.message).toMatch(/YAML syntax error.*unique/i);
    expect(dup[0]!.line).toBe(4);
    const steps = issues(
      `name: d\nfunctions: { f: ${OK_FN} }\nflow: { sequence: [ { task: f, name: x }, { task: f, name: x } ] }`,
    );
    find(steps, 'flow.sequence[1].name', /duplicate step name "x"/);
  });

  it('rejects resources out of range, saying what is valid', () => {
    const list = issues(
      `name: r\nfunctions:\n  f: { code: "export default () => 1", cpu: 9, memory: 200, timeout: 2h, retries: -1 }\nflow: f`,
    );
    find(list, 'functions.f.cpu', /from 0\.05 \(50m\) to 8 cores/);
    find(list, 'functions.f.memory', /128 to 8192 in steps of 128/);
    find(list, 'functions.f.timeout', /duration/);
    find(list, 'functions.f.retries', /0 to 10/);
  });

  it('rejects empty flows and documents without a flow', () => {
    find(
      issues(`name: e\nfunctions: { f: ${OK_FN} }\nflow: { sequence: [] }`),
      'flow.sequence',
      /empty/,
    );
    find(issues(`name: e\nfunctions: { f: ${OK_FN} }`), '', /has no flow/);
    find(issues(`name: e\nfunctions: { f: ${OK_FN} }\ndag: {}`), 'dag', /empty/);
  });

  it('reports YAML syntax errors with line and column', () => {
    const list = issues('name: y\nfunctions:\n  f: { code: "x"\nflow: f\n');
    expect(list[0]!.message).toMatch(/YAML syntax error/);
    expect(list[0]!.line).toBeGreaterThanOrEqual(3);
    expect(list[0]!.column).toBeGreaterThanOrEqual(1);
  });

  it('rejects documents over the size limit before parsing them', () => {
    const big = `name: big\n# ${'x'.repeat(LIMITS.documentBytes)}\n`;
    find(issues(big), '', /limit is \d+ bytes/);
  });

  it('rejects steps nested deeper than the limit', () => {
    let step = 'f';
    for (let i = 0; i <= LIMITS.stepDepth + 1; i++) step = `{ sequence: [ ${step} ] }`;
    find(
      issues(`name: deep\nfunctions: { f: ${OK_FN} }\nflow: ${step}`),
      'flow' + '.sequence[0]'.repeat(LIMITS.stepDepth + 1),
      /nested more than/,
    );
  });

  it('rejects non-object roots and wrong types', () => {
    find(issues('- a\n- b'), '', /must be a mapping/);
    find(issues('42'), '', /must be a mapping/);
    const list = issues(`name: 7\nfunctions: []\nflow: { parallel: "x" }`);
    find(list, 'name', /must be a string/);
    find(list, 'functions', /mapping of function name/);
    find(list, 'flow.parallel', /must be a list/);
  });

  it('reports JSONata syntax errors at their path, without evaluating anything', () => {
    const list = issues(
      `name: j\nfunctions: { f: ${OK_FN} }\nflow:\n  switch:\n    - when: "a = = b"\n      do: f\n  input: "$.("`,
    );
    find(list, 'flow.switch[0].when', /invalid JSONata/);
    find(list, 'flow.input', /invalid JSONata/);
  });

  it('reports every problem at once', () => {
    const list = issues(
      `name: Bad_Name\nfunctions:\n  f: { cpu: 0 }\nflow: { sequence: [ g, { bogus: 1 } ] }\nextra: 1`,
    );
    expect(list.map((i) => i.path)).toEqual(
      expect.arrayContaining([
        'name',
        'functions.f',
        'functions.f.cpu',
        'flow.sequence[0]',
        'flow.sequence[1]',
        'extra',
      ]),
    );
  });

  it('rejects a source other than exactly one of handler, code, builtin, image', () => {
    find(
      issues(`name: s\nfunctions: { f: { cpu: 1 } }\nflow: f`),
      'functions.f',
      /exactly one source/,
    );
    find(
      issues(`name: s\nfunctions: { f: { code: "x", image: "a:b" } }\nflow: f`),
      'functions.f',
      /code and image/,
    );
    find(
      issues(`name: s\nfunctions: { f: { handler: "../etc/passwd.js" } }\nflow: f`),
      'functions.f.handler',
      /relative path/,
    );
  });

  it('rejects a node that depends on a switch without being one of its targets', () => {
    const list = issues(
      `name: s\nfunctions: { f: ${OK_FN} }\ndag:\n  s: { switch: [ { when: "true", to: [a] } ] }\n  a: { task: f }\n  b: { task: f, after: [s] }`,
    );
    find(list, 'dag.b.after[0]', /not a target/);
  });

  it('rejects an input schema that is not a valid JSON Schema', () => {
    find(
      issues(`name: s\nfunctions: { f: ${OK_FN} }\ninputSchema: { type: 7 }\nflow: f`),
      'inputSchema',
      /not a valid JSON Schema/,
    );
    find(
      issues(`name: s\nfunctions: { f: ${OK_FN} }\ninputSchema: [1]\nflow: f`),
      'inputSchema',
      /must be a JSON Schema object/,
    );
  });

  it('limits YAML alias expansion (billion laughs)', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 8; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
      );
    const r = loadWorkflow(lines.join('\n'));
    expect(r.dag).toBeNull();
    expect(r.issues[0]!.message).toMatch(/alias|could not be loaded|excessive/i);
  });
});
