/**
 * FaaStore against a real Redis (unique key prefix, removed afterwards) and real spill files.
 *
 * Scenarios:
 * - placement: inline, memory (all local), Redis (all remote), memory + Redis (mixed), peer
 *   (no Redis), and what each worker can read back;
 * - memory quota: exact accounting, replacement, spill to Redis, spill to disk;
 * - release frees memory, spill files and Redis, leaving no key under the prefix, and leaves
 *   other invocations alone;
 * - peer reads through an in-test fetcher calling the producer's `serveLocal`;
 * - a dead Redis is STORE_UNAVAILABLE at creation, with the password redacted;
 * - option errors are reported all at once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  FaaStore,
  createRedisTier,
  type FaaStoreOptions,
  type PeerFetcher,
} from '../../faastore/index.js';
import { AppError } from '../../shared/errors.js';
import { newInvocationId } from '../../shared/ids.js';
import { expectAppError } from '../contract/tier.contract.js';
import {
  deletePrefix,
  redisCommand,
  redisUrl,
  requireRedis,
  scanKeys,
  uniquePrefix,
} from '../helpers/redis.js';
import { invId } from '../helpers/ids.js';

const KB = 1024;
const MB = 1024 * KB;
const redisUp = await requireRedis();
const prefix = uniquePrefix('faastore');

/** Routes peer fetches to the `serveLocal` of the store registered under the URL. */
class InProcessPeers implements PeerFetcher {
  readonly stores = new Map<string, FaaStore>();
  calls = 0;
  async fetch(url: string, key: string): Promise<Buffer> {
    this.calls += 1;
    const store = this.stores.get(url);
    if (store === undefined) throw new AppError('WORKER_UNREACHABLE', `no worker at ${url}`);
    return store.serveLocal(key);
  }
}

let spillParent = '';
const open: FaaStore[] = [];

beforeAll(async () => {
  spillParent = await mkdtemp(join(tmpdir(), 'ff-faastore-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await rm(spillParent, { recursive: true, force: true });
  if (redisUp) await deletePrefix(prefix);
});

async function withRedis(
  workerId: string,
  options: Partial<FaaStoreOptions> = {},
  redisPrefix = prefix,
): Promise<FaaStore> {
  const store = await FaaStore.create({
    workerId,
    workerUrl: `http://127.0.0.1:1/${workerId}`,
    redis: await createRedisTier(redisUrl(), { prefix: redisPrefix }),
    ...options,
  });
  open.push(store);
  return store;
}

async function withPeers(
  workerId: string,
  peers: InProcessPeers,
  options: Partial<FaaStoreOptions> = {},
): Promise<FaaStore> {
  const workerUrl = `http://127.0.0.1:1/${workerId}`;
  const store = await FaaStore.create({
    workerId,
    workerUrl,
    peer: peers,
    spillDir: spillParent,
    ...options,
  });
  peers.stores.set(workerUrl, store);
  open.push(store);
  return store;
}

describe.skipIf(!redisUp)('FaaStore with Redis', () => {
  it('carries a value up to inlineMaxBytes inline and stores nothing', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 100 });
    const value = randomBytes(100);
    const ref = await a.put(newInvocationId(), 'small', value, { local: 0, remote: 2 });
    expect(ref).toEqual({ tier: 'inline', data: value.toString('base64'), sizeBytes: 100 });
    expect((await a.getBuffer(ref)).equals(value)).toBe(true);
    expect(a.stats().objects).toBe(0);
  });

  it('keeps an object with only local consumers in memory, out of Redis', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0 });
    const inv = newInvocationId();
    const value = randomBytes(10 * KB);
    const ref = await a.put(inv, 'n1', value, { local: 2, remote: 0 });
    expect(ref).toEqual({
      tier: 'memory',
      key: `default:${inv}:n1`,
      worker: 'wa',
      sizeBytes: value.length,
    });
    expect((await a.getBuffer(ref)).equals(value)).toBe(true);
    expect(a.stats()).toMatchObject({ memoryBytes: value.length, memoryObjects: 1 });
    expect(await scanKeys(`${prefix}o:default:${inv}`)).toEqual([]);
  });

  it('puts an object with only remote consumers in Redis, readable by another worker', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0 });
    const b = await withRedis('wb');
    const value = randomBytes(64 * KB);
    const ref = await a.put(newInvocationId(), 'n1', value, { local: 0, remote: 1 });
    expect(ref).toMatchObject({ tier: 'redis', sizeBytes: value.length });
    expect(ref).not.toHaveProperty('worker');
    expect(a.stats().memoryBytes).toBe(0);
    expect((await b.getBuffer(ref)).equals(value)).toBe(true);
  });

  it('puts a mixed-consumer object in memory and Redis, and the producer reads memory', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0 });
    const b = await withRedis('wb');
    const value = randomBytes(64 * KB);
    const ref = await a.put(newInvocationId(), 'mixed', value, { local: 1, remote: 1 });
    expect(ref).toMatchObject({ tier: 'redis', worker: 'wa', sizeBytes: value.length });
    expect((await b.getBuffer(ref)).equals(value)).toBe(true);
    // Removing the Redis copy behind the store's back shows who reads what.
    await redisCommand(['UNLINK', `${prefix}o:${ref.tier === 'redis' ? ref.key : ''}`]);
    expect((await a.getBuffer(ref)).equals(value)).toBe(true);
    await expectAppError(b.getBuffer(ref), 'OBJECT_NOT_FOUND');
  });

  it('namespaces keys by the tenant given to put', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0, tenant: 'acme' });
    const inv = newInvocationId();
    const byDefault = await a.put(inv, 'n1', randomBytes(10), { local: 1, remote: 0 });
    const byOption = await a.put(
      inv,
      'n1',
      randomBytes(10),
      { local: 1, remote: 0 },
      { tenant: 'other' },
    );
    expect(byDefault).toMatchObject({ key: `acme:${inv}:n1` });
    expect(byOption).toMatchObject({ key: `other:${inv}:n1` });
  });

  it('accounts memory exactly and spills to Redis what would exceed the quota', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0, memoryQuotaBytes: MB });
    const inv = newInvocationId();
    const first = await a.put(inv, 'first', randomBytes(600 * KB), { local: 1, remote: 0 });
    const second = await a.put(inv, 'second', randomBytes(600 * KB), { local: 1, remote: 0 });
    expect(first.tier).toBe('memory');
    expect(second).toMatchObject({ tier: 'redis' });
    expect(second).not.toHaveProperty('worker');
    expect(a.stats()).toMatchObject({ memoryBytes: 600 * KB, memoryObjects: 1 });
    // Replacing a key counts its old bytes as free: 900 KB fits in place of 600 KB.
    const replaced = await a.put(inv, 'first', randomBytes(900 * KB), { local: 1, remote: 0 });
    expect(replaced.tier).toBe('memory');
    expect(a.stats().memoryBytes).toBe(900 * KB);
    // Mixed consumers over quota: Redis only, no memory copy.
    const mixed = await a.put(inv, 'mixed', randomBytes(200 * KB), { local: 1, remote: 1 });
    expect(mixed).toMatchObject({ tier: 'redis' });
    expect(mixed).not.toHaveProperty('worker');
    expect(a.stats().memoryBytes).toBe(900 * KB);
  });

  it('releases an invocation everywhere, leaving no key under the prefix, and no other invocation', async () => {
    const own = `${prefix}release:`;
    const a = await withRedis('wa', { inlineMaxBytes: 0, memoryQuotaBytes: 100 * KB }, own);
    const inv = newInvocationId();
    const other = newInvocationId();
    const refs = [
      await a.put(inv, 'local', randomBytes(50 * KB), { local: 1, remote: 0 }),
      await a.put(inv, 'mixed', randomBytes(40 * KB), { local: 1, remote: 1 }),
      await a.put(inv, 'remote', randomBytes(30 * KB), { local: 0, remote: 3 }),
      await a.put(inv, 'spilled', randomBytes(200 * KB), { local: 1, remote: 0 }),
    ];
    const kept = await a.put(other, 'remote', randomBytes(30 * KB), { local: 0, remote: 1 });
    expect(refs.map((r) => r.tier)).toEqual(['memory', 'redis', 'redis', 'redis']);
    expect(a.stats().memoryBytes).toBe(90 * KB);

    expect(await a.releaseInvocation(inv)).toBe(5); // 2 in memory + 3 in Redis
    expect(a.stats()).toMatchObject({ memoryBytes: 0, memoryObjects: 0, objects: 0 });
    for (const ref of refs) await expectAppError(a.getBuffer(ref), 'OBJECT_NOT_FOUND');
    expect((await scanKeys(own)).sort()).toEqual([
      `${own}g:${other}:wa`,
      `${own}o:default:${other}:remote`,
    ]);
    expect((await a.getBuffer(kept)).length).toBe(30 * KB);

    await a.releaseInvocation(other);
    expect(await scanKeys(own)).toEqual([]);
  });

  it('round-trips a 100 MB object through Redis', async () => {
    const a = await withRedis('wa');
    const b = await withRedis('wb');
    const value = randomBytes(100 * MB);
    const ref = await a.put(newInvocationId(), 'big', value, { local: 0, remote: 1 });
    expect(ref.tier).toBe('redis');
    expect((await b.getBuffer(ref)).equals(value)).toBe(true);
  });

  it('refuses to read another worker memory ref with OBJECT_NOT_FOUND naming both workers', async () => {
    const a = await withRedis('wa', { inlineMaxBytes: 0 });
    const b = await withRedis('wb');
    const ref = await a.put(newInvocationId(), 'n1', randomBytes(10), { local: 1, remote: 0 });
    const err = await expectAppError(b.getBuffer(ref), 'OBJECT_NOT_FOUND');
    expect(err.message).toMatch(/wa.*wb/);
  });
});

describe('FaaStore without Redis (peer tier)', () => {
  it('serves remote consumers from the producer through the peer fetcher', async () => {
    const peers = new InProcessPeers();
    const a = await withPeers('wa', peers, { inlineMaxBytes: 0 });
    const b = await withPeers('wb', peers);
    const inv = newInvocationId();
    const value = randomBytes(256 * KB);
    const ref = await a.put(inv, 'out', value, { local: 0, remote: 1 });
    expect(ref).toEqual({
      tier: 'peer',
      key: `default:${inv}:out`,
      worker: 'wa',
      url: 'http://127.0.0.1:1/wa',
      sizeBytes: value.length,
    });
    expect((await b.getBuffer(ref)).equals(value)).toBe(true);
    expect(peers.calls).toBe(1);

    await a.releaseInvocation(inv);
    await expectAppError(b.getBuffer(ref), 'OBJECT_NOT_FOUND');
  });

  it('reads a mixed-consumer peer object locally on the producer without fetching', async () => {
    const peers = new InProcessPeers();
    const a = await withPeers('wa', peers, { inlineMaxBytes: 0 });
    const value = randomBytes(10 * KB);
    const ref = await a.put(newInvocationId(), 'out', value, { local: 1, remote: 1 });
    expect(ref.tier).toBe('peer');
    expect((await a.getBuffer(ref)).equals(value)).toBe(true);
    expect(peers.calls).toBe(0);
  });

  it('spills what exceeds the quota to disk and still serves it, locally and to peers', async () => {
    const peers = new InProcessPeers();
    const a = await withPeers('wa', peers, { inlineMaxBytes: 0, memoryQuotaBytes: 100 * KB });
    const b = await withPeers('wb', peers);
    const inv = newInvocationId();
    const local = randomBytes(300 * KB);
    const remote = randomBytes(200 * KB);
    const localRef = await a.put(inv, 'local', local, { local: 1, remote: 0 });
    const remoteRef = await a.put(inv, 'remote', remote, { local: 0, remote: 1 });
    expect(localRef).toMatchObject({ tier: 'memory', worker: 'wa' });
    expect(remoteRef).toMatchObject({ tier: 'peer', worker: 'wa' });
    expect(a.stats()).toMatchObject({
      memoryBytes: 0,
      spilledBytes: 500 * KB,
      spilledObjects: 2,
      puts: { disk: 1, peer: 1 },
    });
    expect((await a.getBuffer(localRef)).equals(local)).toBe(true);
    expect((await b.getBuffer(remoteRef)).equals(remote)).toBe(true);

    expect(await a.releaseInvocation(inv)).toBe(2);
    expect(a.stats()).toMatchObject({ spilledBytes: 0, spilledObjects: 0, objects: 0 });
    await expectAppError(
      a.serveLocal(remoteRef.tier === 'peer' ? remoteRef.key : ''),
      'OBJECT_NOT_FOUND',
    );
  });

  it('passes the fetcher error through when the producer is unreachable', async () => {
    const peers = new InProcessPeers();
    const b = await withPeers('wb', peers);
    const ref = {
      tier: 'peer',
      key: 'default:inv_x:n',
      worker: 'gone',
      url: 'http://127.0.0.1:1/gone',
      sizeBytes: 5,
    } as const;
    await expectAppError(b.getBuffer(ref), 'WORKER_UNREACHABLE');
  });
});

describe('FaaStore setup errors', () => {
  it('reports a dead Redis as STORE_UNAVAILABLE with the URL and without the password', async () => {
    const err = await expectAppError(
      createRedisTier('redis://:hunter2@127.0.0.1:1', { connectTimeoutMs: 1000 }),
      'STORE_UNAVAILABLE',
    );
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('127.0.0.1:1');
    expect(err.message).not.toContain('hunter2');
    expect(JSON.stringify(err.details)).not.toContain('hunter2');
  });

  it('lists every invalid option at once as CONFIG_INVALID', async () => {
    const err = await expectAppError(
      FaaStore.create({ workerId: 'bad id', workerUrl: 'nope', inlineMaxBytes: -1, ttlMs: 0 }),
      'CONFIG_INVALID',
    );
    for (const option of ['workerId', 'workerUrl', 'peer', 'inlineMaxBytes', 'ttlMs']) {
      expect(err.message).toContain(option);
    }
  });

  it('rejects keys that would break the namespace with BAD_REQUEST', async () => {
    const a = await withPeers('wa', new InProcessPeers());
    await expectAppError(
      a.put(invId('inv:1'), 'n', Buffer.alloc(1), { local: 1, remote: 0 }),
      'BAD_REQUEST',
    );
    await expectAppError(
      a.put(newInvocationId(), 'a:b', Buffer.alloc(1), { local: 1, remote: 0 }),
      'BAD_REQUEST',
    );
    await expectAppError(
      a.put(newInvocationId(), 'n', Buffer.alloc(1), { local: -1, remote: 0 }),
      'BAD_REQUEST',
    );
  });
});
