/**
 * The master lease in a real Redis (shared/lease.ts): one holder at a time; the holder renews
 * and gets its own lease back after a restart; another takes it only once it is released or has
 * expired; workers read the leader's URL.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { RedisLease } from '../../shared/lease.js';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.js';

const up = await requireRedis();

describe.skipIf(!up)('master lease', () => {
  const prefix = uniquePrefix('lease');
  const open: RedisLease[] = [];
  const lease = async (): Promise<RedisLease> => {
    const l = await RedisLease.connect(redisUrl(), { prefix });
    open.push(l);
    return l;
  };

  afterAll(async () => {
    for (const l of open) await l.close();
    await deletePrefix(prefix);
  });

  it('has one holder, which renews; another takes it once released', async () => {
    const [a, b] = [await lease(), await lease()];
    const me = { id: 'a', url: '' };
    expect(await a.claim(me, 5_000)).toBe(true);
    expect(await b.claim({ id: 'b', url: 'http://b' }, 5_000)).toBe(false);
    expect(await a.claim({ id: 'a', url: 'http://a' }, 5_000)).toBe(true);
    expect(await b.leader()).toEqual({ id: 'a', url: 'http://a' });
    await b.release({ id: 'b', url: '' });
    expect((await b.leader())?.id).toBe('a');
    await a.release(me);
    expect(await b.leader()).toBeUndefined();
    expect(await b.claim({ id: 'b', url: 'http://b' }, 5_000)).toBe(true);
    await b.release({ id: 'b', url: '' });
  });

  it('goes to another master once the holder stops renewing', async () => {
    const [a, b] = [await lease(), await lease()];
    expect(await a.claim({ id: 'a2', url: 'http://a' }, 300)).toBe(true);
    expect(await b.claim({ id: 'b2', url: 'http://b' }, 300)).toBe(false);
    const until = Date.now() + 5_000;
    let taken = false;
    while (!taken && Date.now() < until) {
      taken = await b.claim({ id: 'b2', url: 'http://b' }, 300);
      if (!taken) await new Promise((r) => setTimeout(r, 50));
    }
    expect(taken).toBe(true);
    expect(await a.claim({ id: 'a2', url: 'http://a' }, 300)).toBe(false);
  });
});
