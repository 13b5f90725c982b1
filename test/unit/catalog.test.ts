import { describe, expect, it } from 'vitest';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import { MemoryMasterStore } from '../../master/store/memory.js';
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
  return {
    name,
    dag,
    partition,
    files: tag === '' ? {} : { 'h.js': Buffer.from(tag).toString('base64') },
    warnings: tag === '' ? [] : [tag],
  };
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

/** A store whose writes fail while `failing` is set (a Redis that went away). */
class FlakyStore extends MemoryMasterStore {
  failing = false;
  override putVersion(v: WorkflowVersion): Promise<void> {
    if (this.failing) return Promise.reject(new Error('connection lost'));
    return super.putVersion(v);
  }
  override deleteWorkflow(name: string): Promise<void> {
    if (this.failing) return Promise.reject(new Error('connection lost'));
    return super.deleteWorkflow(name);
  }
}

describe('WorkflowCatalog', () => {
  it('numbers the versions of a workflow 1, 2, 3 and stamps each with its time', async () => {
    const c = new WorkflowCatalog();
    const t = new Date('2030-01-02T03:04:05.000Z');
    expect(await c.add(entry('wf'), t)).toMatchObject({
      name: 'wf',
      version: 1,
      createdAt: '2030-01-02T03:04:05.000Z',
    });
    expect((await c.add(entry('wf'))).version).toBe(2);
    expect((await c.add(entry('wf'))).version).toBe(3);
    expect(c.versions('wf').map((v) => v.version)).toEqual([1, 2, 3]);
  });

  it('numbers concurrent uploads of one workflow without gaps or duplicates, in order', async () => {
    const c = new WorkflowCatalog(new MemoryMasterStore());
    const added = await Promise.all([1, 2, 3, 4, 5].map(() => c.add(entry('wf'))));
    expect(added.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(c.versions('wf').map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
    expect(c.latest('wf').version).toBe(5);
  });

  it('numbers each workflow on its own', async () => {
    const c = new WorkflowCatalog();
    await c.add(entry('a'));
    await c.add(entry('a'));
    expect((await c.add(entry('b'))).version).toBe(1);
  });

  it('returns the newest version as latest', async () => {
    const c = new WorkflowCatalog();
    await c.add(entry('wf', 'first'));
    await c.add(entry('wf', 'second'));
    expect(c.latest('wf')).toMatchObject({ version: 2, warnings: ['second'] });
  });

  it('lists the newest version of every workflow, sorted by name', async () => {
    const c = new WorkflowCatalog();
    await c.add(entry('zeta'));
    await c.add(entry('alpha'));
    await c.add(entry('zeta'));
    expect(c.current().map((v) => `${v.name}@${v.version}`)).toEqual(['alpha@1', 'zeta@2']);
  });

  it('removes every version of a workflow and leaves the others', async () => {
    const c = new WorkflowCatalog();
    await c.add(entry('gone'));
    await c.add(entry('gone'));
    await c.add(entry('kept'));
    await c.remove('gone');
    expect(c.current().map((v) => v.name)).toEqual(['kept']);
    expect(notFound(() => c.latest('gone')).code).toBe('WORKFLOW_NOT_FOUND');
    expect(notFound(() => c.versions('gone')).code).toBe('WORKFLOW_NOT_FOUND');
  });

  it('does not reuse version numbers after a workflow is removed and deployed again', async () => {
    // Workers and in-flight invocations know a version as name@version; a reused number would
    // let a late trigger or completion of the old workflow resolve against the new DAG.
    const c = new WorkflowCatalog();
    await c.add(entry('wf'));
    await c.add(entry('wf'));
    await c.remove('wf');
    expect((await c.add(entry('wf'))).version).toBe(3);
    expect(c.versions('wf').map((v) => v.version)).toEqual([3]);
  });

  it('answers WORKFLOW_NOT_FOUND (404) naming the workflow for an unknown name', async () => {
    const c = new WorkflowCatalog();
    for (const fn of [() => c.latest('nope'), () => c.versions('nope')]) {
      const err = notFound(fn);
      expect(err).toMatchObject({ code: 'WORKFLOW_NOT_FOUND', statusCode: 404, retryable: false });
      expect(err.message).toContain('"nope"');
    }
    await expect(c.remove('nope')).rejects.toMatchObject({
      code: 'WORKFLOW_NOT_FOUND',
      message: expect.stringContaining('"nope"'),
    });
  });

  it('lists nothing when empty', () => {
    expect(new WorkflowCatalog().current()).toEqual([]);
  });
});

describe('WorkflowCatalog and its store', () => {
  it('stores a version before it becomes visible', async () => {
    const store = new MemoryMasterStore();
    const c = new WorkflowCatalog(store);
    const v = await c.add(entry('wf', 'code'));
    const { versions } = await store.loadCatalog();
    expect(versions).toEqual([v]);
  });

  it('leaves nothing behind when the store write fails, and answers STORE_UNAVAILABLE', async () => {
    const store = new FlakyStore();
    const c = new WorkflowCatalog(store);
    await c.add(entry('wf'));
    store.failing = true;
    await expect(c.add(entry('wf'))).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
      retryable: true,
      statusCode: 503,
    });
    expect(c.versions('wf').map((v) => v.version)).toEqual([1]);
    await expect(c.remove('wf')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(c.latest('wf').version).toBe(1);
    store.failing = false;
    // The failed upload's number was never shown to anyone, so it is given to the next one.
    expect((await c.add(entry('wf'))).version).toBe(2);
  });

  it('restores every version with its files, and the counters of deleted workflows', async () => {
    const store = new MemoryMasterStore();
    const before = new WorkflowCatalog(store);
    await before.add(entry('b', 'b1'));
    await before.add(entry('a', 'a1'));
    await before.add(entry('b', 'b2'));
    await before.add(entry('gone'));
    await before.add(entry('gone'));
    await before.remove('gone');

    const after = await WorkflowCatalog.load(store);
    expect(after.current().map((v) => `${v.name}@${v.version}`)).toEqual(['a@1', 'b@2']);
    expect(after.versions('b')).toEqual(before.versions('b'));
    expect(after.latest('b').files).toEqual({ 'h.js': Buffer.from('b2').toString('base64') });
    expect(notFound(() => after.latest('gone')).code).toBe('WORKFLOW_NOT_FOUND');
    expect((await after.add(entry('gone'))).version).toBe(3);
    expect((await after.add(entry('b'))).version).toBe(3);
  });

  it('writes through the store it was loaded from', async () => {
    const store = new MemoryMasterStore();
    const first = await WorkflowCatalog.load(store);
    await first.add(entry('wf'));
    const second = await WorkflowCatalog.load(store);
    expect(second.latest('wf').version).toBe(1);
  });
});
