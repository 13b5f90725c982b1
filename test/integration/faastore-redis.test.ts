/**
 * The Redis tier's behaviour beyond the tier contract, against a real Redis (unique prefix).
 *
 * Scenarios:
 * - a tracking group's TTL grows to outlive its newest member and never shrinks;
 * - releasing and deleting thousands of keys (past the script's and the delete's batch size);
 * - a lost connection (a loopback TCP proxy in front of Redis, cut mid-test) makes commands
 *   fail with STORE_UNAVAILABLE instead of hanging, and the tier recovers once Redis is back;
 * - FaaStore rolls back the memory copy of a mixed put whose Redis write failed.
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { FaaStore, createRedisTier, type RedisTier } from '../../faastore/index.js';
import { AppError } from '../../shared/errors.js';
import { newInvocationId } from '../../shared/ids.js';
import { eventually, expectAppError } from '../contract/tier.contract.js';
import {
  deletePrefix,
  pttl,
  redisUrl,
  requireRedis,
  scanKeys,
  uniquePrefix,
} from '../helpers/redis.js';

const redisUp = await requireRedis();
const prefix = uniquePrefix('faastore-redis');

/** A TCP proxy to Redis on a loopback port that can be cut and restored. */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(port = 0): Promise<void> {
    const target = new URL(redisUrl());
    const server = createServer((client) => {
      const upstream = connect({ host: target.hostname, port: Number(target.port || 6379) });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(): string {
    const target = new URL(redisUrl());
    target.host = `127.0.0.1:${this.port}`;
    return target.toString();
  }
}

const tiers: RedisTier[] = [];
const proxies: CuttableProxy[] = [];

afterEach(async () => {
  await Promise.all(tiers.splice(0).map((t) => t.close()));
  await Promise.all(proxies.splice(0).map((p) => p.cut()));
});
afterAll(async () => {
  if (redisUp) await deletePrefix(prefix);
});

async function tier(url = redisUrl()): Promise<RedisTier> {
  const t = await createRedisTier(url, {
    prefix,
    connectTimeoutMs: 1000,
    maxReconnectDelayMs: 100,
  });
  tiers.push(t);
  return t;
}

describe.skipIf(!redisUp)('Redis tier', () => {
  it('lengthens a tracking group TTL to its newest member and never shortens it', async () => {
    const t = await tier();
    const group = `ttl-${randomBytes(4).toString('hex')}`;
    await t.put(`${group}-a`, Buffer.from('a'), 1_000, group);
    expect(await pttl(`${prefix}g:${group}`)).toBeLessThanOrEqual(1_000);
    await t.put(`${group}-b`, Buffer.from('b'), 600_000, group);
    expect(await pttl(`${prefix}g:${group}`)).toBeGreaterThan(1_000);
    await t.put(`${group}-c`, Buffer.from('c'), 1_000, group);
    expect(await pttl(`${prefix}g:${group}`)).toBeGreaterThan(1_000);
    expect(await pttl(`${prefix}o:${group}-b`)).toBeGreaterThan(1_000);
  });

  it('releases and deletes thousands of keys', async () => {
    const t = await tier();
    const keys = Array.from({ length: 2500 }, (_, i) => `many-${i}`);
    await Promise.all(keys.map((k) => t.put(k, Buffer.from(k), 60_000, 'many')));
    expect(await t.releaseGroup('many')).toBe(2500);
    expect(await scanKeys(`${prefix}o:many-`)).toEqual([]);

    await Promise.all(keys.map((k) => t.put(k, Buffer.from(k), 60_000)));
    await t.delete(keys);
    expect(await scanKeys(`${prefix}o:many-`)).toEqual([]);
  });

  it('fails fast with STORE_UNAVAILABLE while the connection is down, then recovers', async () => {
    const proxy = new CuttableProxy();
    proxies.push(proxy);
    await proxy.start();
    const t = await tier(proxy.url());
    await t.put('lost', Buffer.from('before'), 60_000);

    await proxy.cut();
    const err = await expectAppError(t.getBuffer('lost'), 'STORE_UNAVAILABLE');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain(`127.0.0.1:${proxy.port}`);
    await expectAppError(t.put('lost', Buffer.from('during'), 60_000), 'STORE_UNAVAILABLE');

    await proxy.start(proxy.port);
    await eventually(
      () =>
        t.getBuffer('lost').then(
          (v) => v.toString() === 'before',
          () => false,
        ),
      10_000,
      'reconnection',
    );
  });
});

describe.skipIf(!redisUp)('FaaStore over a failing Redis', () => {
  it('rolls back the memory copy of a mixed put whose Redis write failed', async () => {
    const proxy = new CuttableProxy();
    proxies.push(proxy);
    await proxy.start();
    const redis = await createRedisTier(proxy.url(), { prefix, connectTimeoutMs: 1000 });
    const store = await FaaStore.create({
      workerId: 'wa',
      workerUrl: 'http://127.0.0.1:1',
      redis,
      inlineMaxBytes: 0,
    });
    try {
      await proxy.cut();
      const err: unknown = await store
        .put(newInvocationId(), 'n', randomBytes(1000), { local: 1, remote: 1 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('STORE_UNAVAILABLE');
      expect(store.stats()).toMatchObject({ memoryBytes: 0, memoryObjects: 0 });
    } finally {
      await store.close();
    }
  });
});
