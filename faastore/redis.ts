/**
 * The Redis tier (the connection is made by shared/redis.ts).
 *
 * Keys: objects at `<prefix>o:<key>`, tracking groups (sets of full object keys) at
 * `<prefix>g:<group>`. A put is one MULTI round trip: `SET PX`, `SADD` to the group, and a
 * script that lengthens the group's TTL to outlive its newest member (never shortens it).
 * Releasing a group is one script: SMEMBERS, UNLINK of the members and of the set, atomically,
 * so a release never scans and never misses a member added during it.
 *
 * Failure behaviour: `createRedisTier` connects eagerly with a bounded timeout and no retries;
 * once connected the offline queue is off, so while the connection is down every command fails
 * at once with STORE_UNAVAILABLE (retryable) instead of hanging, and ioredis reconnects in the
 * background with capped backoff.
 */
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { connectRedis, type Redis } from '../shared/redis.js';
import type { ObjectTier } from './store.js';

export interface RedisTierOptions {
  /** Prepended to every key, so deployments and tests can share one Redis. Default `ff:`. */
  prefix?: string;
  /** Limit on establishing the connection. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Limit on one command's reply; large values need room. Default 30000 ms. */
  commandTimeoutMs?: number;
  /** Ceiling of the reconnect backoff after a lost connection. Default 2000 ms. */
  maxReconnectDelayMs?: number;
  logger?: Logger;
}

const EXTEND_TTL_LUA = `
local ttl = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

const RELEASE_LUA = `
local members = redis.call('SMEMBERS', KEYS[1])
local n = #members
for i = 1, n, 1000 do
  redis.call('UNLINK', unpack(members, i, math.min(i + 999, n)))
end
redis.call('UNLINK', KEYS[1])
return n`;

const UNLINK_BATCH = 1000;

/** Connects to `url`; rejects with STORE_UNAVAILABLE (retryable) when Redis cannot be reached. */
export async function createRedisTier(
  url: string,
  options: RedisTierOptions = {},
): Promise<RedisTier> {
  const { client, safeUrl } = await connectRedis(url, { ...options, purpose: 'FaaStore' });
  return new RedisTier(client, options.prefix ?? 'ff:', safeUrl);
}

export class RedisTier implements ObjectTier {
  readonly kind = 'redis' as const;
  private closing: Promise<void> | undefined;

  /** Use `createRedisTier`. */
  constructor(
    private readonly client: Redis,
    readonly prefix: string,
    /** The URL with any password redacted. */
    readonly url: string,
  ) {}

  async put(key: string, value: Buffer, ttlMs: number, group?: string): Promise<void> {
    this.assertOpen();
    const objectKey = this.objectKey(key);
    const ttl = Math.max(1, Math.ceil(ttlMs));
    const tx = this.client.multi().set(objectKey, value, 'PX', ttl);
    if (group !== undefined) {
      const groupKey = this.groupKey(group);
      tx.sadd(groupKey, objectKey).eval(EXTEND_TTL_LUA, 1, groupKey, ttl);
    }
    const results = await this.run('put', key, () => tx.exec());
    const failed = results?.find(([err]) => err !== null)?.[0];
    if (results === null || failed) {
      throw this.unavailable('put', key, failed ?? new Error('transaction aborted'));
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    this.assertOpen();
    const value = await this.run('get', key, () => this.client.getBuffer(this.objectKey(key)));
    if (value === null) {
      throw new AppError('OBJECT_NOT_FOUND', `object ${key} is not in Redis at ${this.url}`, {
        details: { key, tier: 'redis' },
      });
    }
    return value;
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.assertOpen();
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH).map((key) => this.objectKey(key));
      await this.run('delete', batch[0] ?? '', () => this.client.unlink(...batch));
    }
  }

  async releaseGroup(group: string): Promise<number> {
    this.assertOpen();
    const released = await this.run('release', group, () =>
      this.client.eval(RELEASE_LUA, 1, this.groupKey(group)),
    );
    return Number(released);
  }

  close(): Promise<void> {
    this.closing ??= this.client.quit().then(
      () => undefined,
      () => this.client.disconnect(),
    );
    return this.closing;
  }

  private objectKey(key: string): string {
    return `${this.prefix}o:${key}`;
  }

  private groupKey(group: string): string {
    return `${this.prefix}g:${group}`;
  }

  private async run<T>(op: string, key: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw this.unavailable(op, key, err);
    }
  }

  private unavailable(op: string, key: string, err: unknown): AppError {
    return new AppError(
      'STORE_UNAVAILABLE',
      `redis ${op} of ${key} failed at ${this.url}: ${messageOf(err)}`,
      {
        cause: err,
        details: { op, key, url: this.url },
      },
    );
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new AppError('STORE_UNAVAILABLE', `the Redis tier for ${this.url} is closed`, {
        retryable: false,
      });
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
