import { describe, expect, it } from 'vitest';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import { WorkflowCatalog, type WorkflowVersion } from '../../master/workflow/catalog.js';

function entry(name: string, tag = ''): Omit<WorkflowVersion, 'version' | 'createdAt'> {
  const dag: WorkflowDag = {
    name,
    format: 'flow',
    functions: {},
    nodes: [],
    edges: [],
    sources: [],
    sinks: [],
    output: { kind: 'const', value: tag },
  };
  const partition = {
    groups: [],
    groupOf: {},
    edges: [],
    localBytes: 0,
    totalBytes: 0,
    criticalPathMs: 0,
  };
  return { name, dag, partition, files: {}, warnings: tag === '' ? [] : [tag] };
}

function notFound(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected WORKFLOW_NOT_FOUND, nothing was thrown');
}

describe('WorkflowCatalog', () => {
  it('numbers the versions of a workflow 1, 2, 3 and stamps each with its time', () => {
    const c = new WorkflowCatalog();
    const t = new Date('2030-01-02T03:04:05.000Z');
    expect(c.add(entry('wf'), t)).toMatchObject({
      name: 'wf',
      version: 1,
      createdAt: '2030-01-02T03:04:05.000Z',
    });
    expect(c.add(entry('wf')).version).toBe(2);
    expect(c.add(entry('wf')).version).toBe(3);
    expect(c.versions('wf').map((v) => v.version)).toEqual([1, 2, 3]);
  });

  it('numbers each workflow on its own', () => {
    const c = new WorkflowCatalog();
    c.add(entry('a'));
    c.add(entry('a'));
    expect(c.add(entry('b')).version).toBe(1);
  });

  it('returns the newest version as latest', () => {
    const c = new WorkflowCatalog();
    c.add(entry('wf', 'first'));
    c.add(entry('wf', 'second'));
    expect(c.latest('wf')).toMatchObject({ version: 2, warnings: ['second'] });
  });

  it('lists the newest version of every workflow, sorted by name', () => {
    const c = new WorkflowCatalog();
    c.add(entry('zeta'));
    c.add(entry('alpha'));
    c.add(entry('zeta'));
    expect(c.current().map((v) => `${v.name}@${v.version}`)).toEqual(['alpha@1', 'zeta@2']);
  });

  it('removes every version of a workflow and leaves the others', () => {
    const c = new WorkflowCatalog();
    c.add(entry('gone'));
    c.add(entry('gone'));
    c.add(entry('kept'));
    c.remove('gone');
    expect(c.current().map((v) => v.name)).toEqual(['kept']);
    expect(notFound(() => c.latest('gone')).code).toBe('WORKFLOW_NOT_FOUND');
    expect(notFound(() => c.versions('gone')).code).toBe('WORKFLOW_NOT_FOUND');
  });

  it('does not reuse version numbers after a workflow is removed and deployed again', () => {
    // Workers and in-flight invocations know a version as name@version; a reused number would
    // let a late trigger or completion of the old workflow resolve against the new DAG.
    const c = new WorkflowCatalog();
    c.add(entry('wf'));
    c.add(entry('wf'));
    c.remove('wf');
    expect(c.add(entry('wf')).version).toBe(3);
    expect(c.versions('wf').map((v) => v.version)).toEqual([3]);
  });

  it('answers WORKFLOW_NOT_FOUND (404) naming the workflow for an unknown name', () => {
    const c = new WorkflowCatalog();
    for (const fn of [() => c.latest('nope'), () => c.versions('nope'), () => c.remove('nope')]) {
      const err = notFound(fn);
      expect(err).toMatchObject({ code: 'WORKFLOW_NOT_FOUND', statusCode: 404, retryable: false });
      expect(err.message).toContain('"nope"');
    }
  });

  it('lists nothing when empty', () => {
    expect(new WorkflowCatalog().current()).toEqual([]);
  });
});
