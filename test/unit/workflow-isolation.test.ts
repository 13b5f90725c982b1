/**
 * `isolation:` per function and the workflow's `defaults:`: the function's own value wins, the
 * default fills the rest, an image function keeps to containers, and bad values are reported with
 * their path and the valid ones.
 */
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../master/workflow/index.js';

const CODE = `code: "export default async (x) => x"`;

function compile(yaml: string) {
  const r = loadWorkflow(yaml);
  if (r.dag === null) throw new Error(JSON.stringify(r.issues, null, 1));
  return r.dag;
}

describe('function isolation', () => {
  it('leaves isolation out when neither the function nor the defaults say', () => {
    const dag = compile(`name: w\nfunctions: { f: { ${CODE} } }\nflow: { task: f }`);
    expect(dag.functions['f']).not.toHaveProperty('isolation');
  });

  it('takes the function’s own isolation over the workflow default', () => {
    const dag = compile(
      [
        'name: w',
        'defaults: { isolation: thread }',
        'functions:',
        `  a: { ${CODE} }`,
        `  b: { ${CODE}, isolation: trusted }`,
        `  c: { ${CODE}, isolation: process }`,
        '  d: { image: "faasflow-runtime:latest" }',
        '  e: { image: "faasflow-runtime:latest", isolation: docker }',
        'flow: { sequence: [ { task: a }, { task: b }, { task: c }, { task: d }, { task: e } ] }',
      ].join('\n'),
    );
    expect(dag.functions['a']?.isolation).toBe('thread');
    expect(dag.functions['b']?.isolation).toBe('trusted');
    expect(dag.functions['c']?.isolation).toBe('process');
    // An image function runs in a container: a default of thread does not apply to it.
    expect(dag.functions['d']).not.toHaveProperty('isolation');
    expect(dag.functions['e']?.isolation).toBe('docker');
  });

  it('reports bad values with their path and what is valid', () => {
    const r = loadWorkflow(
      [
        'name: w',
        'defaults: { isolation: vm, timeout: 3 }',
        'functions:',
        `  a: { ${CODE}, isolation: fast }`,
        '  b: { image: "faasflow-runtime:latest", isolation: thread }',
        'flow: { sequence: [ { task: a }, { task: b } ] }',
      ].join('\n'),
    );
    expect(r.dag).toBeNull();
    const at = (path: string) => r.issues.filter((i) => i.path === path).map((i) => i.message);
    expect(at('defaults.isolation')).toEqual([
      'must be one of process, docker, thread, trusted (docs/guides/sandboxes.md), got the string "vm"',
    ]);
    expect(at('functions.a.isolation')[0]).toMatch(
      /must be one of process, docker, thread, trusted.*"fast"/,
    );
    expect(at('functions.b.isolation')[0]).toMatch(
      /image function runs in a container: use docker/,
    );
    expect(r.issues.some((i) => /timeout/.test(i.message) || /timeout/.test(i.path))).toBe(true);
  });

  it('rejects defaults that are not a mapping', () => {
    const r = loadWorkflow(
      `name: w\ndefaults: thread\nfunctions: { f: { ${CODE} } }\nflow: { task: f }`,
    );
    expect(r.issues.map((i) => [i.path, i.message])).toContainEqual([
      'defaults',
      'must be a mapping such as { isolation: thread }, got the string "thread"',
    ]);
  });
});
