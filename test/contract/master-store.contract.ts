/**
 * The contract every master store passes (memory, lmdb, redis): catalogue round trips with
 * handler files, delete keeping the version counter, invocation upsert / get / load / trim,
 * atomic idempotency claims, values, an idempotent close, the tenant directory's records, and —
 * for the persistent ones — everything written before a close is seen by the next open of the
 * same place.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AUTH_VALUE, TenantDirectory } from '../../master/auth/directory.js';
import type { InvocationDoc, MasterStore } from '../../master/store/types.js';
import type { WorkflowVersion } from '../../master/workflow/version.js';
import { invId } from '../helpers/ids.js';

export interface StoreFactory {
  /** A store over a fresh, empty place (dir, prefix). */
  fresh(): Promise<MasterStore>;
  /** Opens the place `store` used again; absent for stores that do not persist. */
  reopen?(store: MasterStore): Promise<MasterStore>;
}

export function version(name: string, n: number, code = `v${n}`): WorkflowVersion {
  return {
    name,
    version: n,
    dag: {
      name,
      format: 'flow',
      functions: {
        f: {
          name: 'f',
          source: { kind: 'handler', path: 'f.js' },
        },
      },
      nodes: [],
      edges: [],
      sources: [],
      sinks: [],
      output: { kind: 'const', value: code },
    } as unknown as WorkflowVersion['dag'],
    partition: {
      groups: [['a' as never]],
      groupOf: { a: 0 },
      edges: [],
      localBytes: 10,
      totalBytes: 20,
      criticalPathMs: 1.5,
    },
    files: { 'f.js': Buffer.from(`export default () => '${code}'`).toString('base64') },
    warnings: n % 2 === 0 ? ['even'] : [],
    createdAt: new Date(1_700_000_000_000 + n).toISOString(),
  };
}

function doc(id: string, status: string, startedAt: number, finishedAt?: number): InvocationDoc {
  return {
    id: invId(id),
    workflow: 'wf',
    status,
    startedAt,
    ...(finishedAt === undefined ? {} : { finishedAt }),
    input: { n: startedAt },
    steps: [{ node: 'a', ms: 1 }],
  };
}

export function describeMasterStoreContract(name: string, factory: StoreFactory): void {
  describe(`master store contract: ${name}`, () => {
    const open: MasterStore[] = [];
    const fresh = async (): Promise<MasterStore> => {
      const s = await factory.fresh();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    it('round-trips every version of every workflow with its handler files', async () => {
      const s = await fresh();
      const written = [version('b', 1), version('a', 1), version('b', 2), version('b', 3)];
      for (const v of written) await s.putVersion(v);
      const { versions, lastVersion } = await s.loadCatalog();
      expect(versions).toEqual([
        version('a', 1),
        version('b', 1),
        version('b', 2),
        version('b', 3),
      ]);
      expect(lastVersion).toEqual({ a: 1, b: 3 });
      expect(Buffer.from(versions[0]!.files['f.js']!, 'base64').toString()).toContain("'v1'");
    });

    it('hands back copies: changing what was written or read changes nothing stored', async () => {
      const s = await fresh();
      const v = version('wf', 1);
      await s.putVersion(v);
      v.files['f.js'] = 'changed';
      const first = (await s.loadCatalog()).versions[0]!;
      first.warnings.push('changed');
      expect((await s.loadCatalog()).versions[0]).toEqual(version('wf', 1));
    });

    it('deletes every version of a workflow but keeps its version counter', async () => {
      const s = await fresh();
      await s.putVersion(version('gone', 1));
      await s.putVersion(version('gone', 2));
      await s.putVersion(version('kept', 1));
      await s.deleteWorkflow('gone');
      await s.deleteWorkflow('never-deployed');
      const { versions, lastVersion } = await s.loadCatalog();
      expect(versions.map((v) => `${v.name}@${v.version}`)).toEqual(['kept@1']);
      expect(lastVersion).toEqual({ gone: 2, kept: 1 });
    });

    it('never lowers a counter when an older version is written after a newer one', async () => {
      const s = await fresh();
      await s.putVersion(version('wf', 5));
      await s.putVersion(version('wf', 4));
      expect((await s.loadCatalog()).lastVersion).toEqual({ wf: 5 });
    });

    it('upserts invocation docs by id and reads them back whole', async () => {
      const s = await fresh();
      expect(await s.getInvocation(invId('nope'))).toBeUndefined();
      await s.putInvocation(doc('i1', 'running', 100));
      expect(await s.getInvocation(invId('i1'))).toEqual(doc('i1', 'running', 100));
      const done = { ...doc('i1', 'succeeded', 100, 150), output: { ok: true } };
      await s.putInvocation(done);
      expect(await s.getInvocation(invId('i1'))).toEqual(done);
      expect(await s.loadInvocations(10)).toEqual([done]);
    });

    it('loads every running doc and the newest finished ones, within the limit', async () => {
      const s = await fresh();
      for (let i = 0; i < 6; i++) await s.putInvocation(doc(`f${i}`, 'succeeded', i, 100 + i));
      await s.putInvocation(doc('r2', 'running', 50));
      await s.putInvocation(doc('r1', 'running', 40));
      // An older finishedAt written last still sorts by its finishedAt.
      await s.putInvocation(doc('old', 'failed', 0, 1));
      const ids = (await s.loadInvocations(5)).map((d) => d.id);
      expect(ids).toEqual(['r1', 'r2', 'f3', 'f4', 'f5']);
      expect((await s.loadInvocations(20)).map((d) => d.id)).toEqual([
        'r1',
        'r2',
        'old',
        'f0',
        'f1',
        'f2',
        'f3',
        'f4',
        'f5',
      ]);
      // More running than the limit: all running ones, no finished one.
      expect((await s.loadInvocations(1)).map((d) => d.id)).toEqual(['r1', 'r2']);
    });

    it('trims the oldest finished docs beyond retain and never a running one', async () => {
      const s = await fresh();
      for (let i = 0; i < 5; i++) await s.putInvocation(doc(`f${i}`, 'succeeded', i, 100 + i));
      await s.putInvocation(doc('r', 'running', 0));
      expect(await s.trimInvocations(2)).toBe(3);
      expect(await s.getInvocation(invId('f0'))).toBeUndefined();
      expect(await s.getInvocation(invId('f2'))).toBeUndefined();
      expect(await s.getInvocation(invId('f3'))).toBeDefined();
      expect((await s.loadInvocations(10)).map((d) => d.id)).toEqual(['r', 'f3', 'f4']);
      expect(await s.trimInvocations(2)).toBe(0);
      expect(await s.trimInvocations(0)).toBe(2);
      expect((await s.loadInvocations(10)).map((d) => d.id)).toEqual(['r']);
    });

    it('moves a doc from running to finished on upsert, so trim may drop it afterwards', async () => {
      const s = await fresh();
      await s.putInvocation(doc('x', 'running', 10));
      expect(await s.trimInvocations(0)).toBe(0);
      await s.putInvocation(doc('x', 'succeeded', 10, 20));
      expect(await s.trimInvocations(0)).toBe(1);
      expect(await s.loadInvocations(10)).toEqual([]);
    });

    it('binds an idempotency key once: 100 concurrent claims all get the same id', async () => {
      const s = await fresh();
      const ids = Array.from({ length: 100 }, (_, i) => `inv-${i}`);
      const bound = await Promise.all(
        ids.map((id) => s.claimIdempotencyKey('wf:k1', invId(id), 60_000)),
      );
      expect(new Set(bound).size).toBe(1);
      expect(ids).toContain(bound[0]);
      expect(await s.claimIdempotencyKey('wf:k1', invId('later'), 60_000)).toBe(bound[0]);
      // Another key (or the same key of another workflow) is free.
      expect(await s.claimIdempotencyKey('other:k1', invId('inv-x'), 60_000)).toBe('inv-x');
    });

    it('frees an idempotency key once its binding expired', async () => {
      const s = await fresh();
      expect(await s.claimIdempotencyKey('wf:short', invId('first'), 30)).toBe('first');
      let now = '';
      const deadline = Date.now() + 5_000;
      while (Date.now() < deadline) {
        now = await s.claimIdempotencyKey('wf:short', invId('second'), 60_000);
        if (now === 'second') break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(now).toBe('second');
    });

    it('keeps small named values', async () => {
      const s = await fresh();
      expect(await s.getValue('nope')).toBeUndefined();
      await s.setValue('counts', { wf: 3, other: 0 });
      await s.setValue('n', 7);
      expect(await s.getValue('counts')).toEqual({ wf: 3, other: 0 });
      expect(await s.getValue('n')).toBe(7);
      await s.setValue('n', 8);
      expect(await s.getValue('n')).toBe(8);
    });

    it('closes idempotently and then refuses work with STORE_UNAVAILABLE', async () => {
      const s = await factory.fresh();
      await s.close();
      await s.close();
      await expect(s.getValue('x')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await expect(s.putVersion(version('wf', 1))).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
      });
    });

    it.skipIf(!factory.reopen)('sees after a reopen everything written before close', async () => {
      const s = await factory.fresh();
      await s.putVersion(version('wf', 1));
      await s.putVersion(version('wf', 2));
      await s.putVersion(version('gone', 4));
      await s.deleteWorkflow('gone');
      await s.putInvocation(doc('r', 'running', 5));
      await s.putInvocation(doc('f', 'succeeded', 1, 2));
      await s.claimIdempotencyKey('wf:k', invId('r'), 60_000);
      await s.setValue('counts', { wf: 2 });
      await s.close();

      const again = await factory.reopen!(s);
      open.push(again);
      expect(await again.loadCatalog()).toEqual({
        versions: [version('wf', 1), version('wf', 2)],
        lastVersion: { wf: 2, gone: 4 },
      });
      expect((await again.loadInvocations(10)).map((d) => d.id)).toEqual(['r', 'f']);
      expect(await again.getInvocation(invId('f'))).toEqual(doc('f', 'succeeded', 1, 2));
      expect(await again.claimIdempotencyKey('wf:k', invId('other'), 60_000)).toBe('r');
      expect(await again.getValue('counts')).toEqual({ wf: 2 });
    });

    it('keeps tenants and their hashed keys: a reloaded directory verifies them, revoked ones not', async () => {
      const s = await fresh();
      const dir = await TenantDirectory.load(s);
      const acme = await dir.createTenant('acme', { role: 'deploy' });
      const read = await dir.createKey('acme', 'read');
      const gone = await dir.createKey('acme', 'invoke');
      await dir.revokeKey('acme', gone.key.id);
      const check = async (store: MasterStore): Promise<void> => {
        const loaded = await TenantDirectory.load(store);
        expect(loaded.verify(acme.apiKey)).toMatchObject({ tenant: 'acme', role: 'deploy' });
        expect(loaded.verify(read.apiKey)).toMatchObject({ tenant: 'acme', role: 'read' });
        expect(loaded.verify(gone.apiKey)).toBeUndefined();
        expect(JSON.stringify(await store.getValue(AUTH_VALUE))).not.toContain(acme.apiKey);
      };
      await check(s);
      if (!factory.reopen) return;
      open.splice(open.indexOf(s), 1);
      await s.close();
      const again = await factory.reopen(s);
      open.push(again);
      await check(again);
    });
  });
}
