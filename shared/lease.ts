/**
 * The master's leadership lease in Redis (docs/durability.md, "Two masters"): masters sharing a
 * Redis (the master store `redis`) elect one leader through a key that only its holder can
 * renew; the others wait as standbys and take the key when it expires. Workers read the key to
 * find the master after a failover.
 *
 * Safety: the leader renews every third of the lease; when a renewal finds the key held by
 * someone else it has lost the lease and must stop at once (the caller exits). A renewal that
 * cannot reach Redis is not a loss: while Redis is down no standby can take the key either.
 */
import type { Logger } from './logger.js';
import { connectRedis, quitRedis, redisCall, type Redis } from './redis.js';

export interface LeaderRecord {
  /** Stable per master address, so a master restarted on its address takes its own lease back. */
  id: string;
  /** Where the leader is reached; empty until it listens. */
  url: string;
}

/** KEYS[1] lease; ARGV[1] id, ARGV[2] value, ARGV[3] ttl ms. 1 held (taken or renewed), 0 not. */
const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if not ok or rec.id ~= ARGV[1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

/** KEYS[1] lease; ARGV[1] id. Deletes the key only if it is ours. */
const RELEASE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local ok, rec = pcall(cjson.decode, cur)
  if ok and rec.id == ARGV[1] then redis.call('DEL', KEYS[1]) end
end
return 1`;

type Scripted = Redis & {
  ffClaim(key: string, id: string, value: string, ttl: string): Promise<number>;
  ffRelease(key: string, id: string): Promise<number>;
};

export class RedisLease {
  private closed = false;

  private constructor(
    private readonly client: Scripted,
    private readonly key: string,
  ) {}

  static async connect(
    url: string,
    o: { prefix?: string; logger?: Logger; purpose?: string } = {},
  ): Promise<RedisLease> {
    const { client } = await connectRedis(url, {
      purpose: o.purpose ?? 'lease',
      ...(o.logger ? { logger: o.logger } : {}),
    });
    client.defineCommand('ffClaim', { numberOfKeys: 1, lua: CLAIM });
    client.defineCommand('ffRelease', { numberOfKeys: 1, lua: RELEASE });
    return new RedisLease(client as Scripted, `${o.prefix ?? 'ff:'}m:leader`);
  }

  /** Takes the lease when it is free or already ours, or renews it: true while we hold it. */
  async claim(me: LeaderRecord, ttlMs: number): Promise<boolean> {
    const held = await this.run(() =>
      this.client.ffClaim(this.key, me.id, JSON.stringify(me), String(Math.ceil(ttlMs))),
    );
    return held === 1;
  }

  /** The current leader, when there is one. */
  async leader(): Promise<LeaderRecord | undefined> {
    const v = await this.run(() => this.client.get(this.key));
    if (!v) return undefined;
    try {
      const rec = JSON.parse(v) as LeaderRecord;
      return typeof rec.id === 'string' && typeof rec.url === 'string' ? rec : undefined;
    } catch {
      return undefined;
    }
  }

  /** Gives the lease up (a clean stop), so a standby need not wait for it to expire. */
  async release(me: LeaderRecord): Promise<void> {
    await this.run(() => this.client.ffRelease(this.key, me.id));
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    return redisCall('lease', this.closed, op);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await quitRedis(this.client);
  }
}
