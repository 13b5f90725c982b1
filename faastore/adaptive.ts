/**
 * FaaStore: where a worker puts function outputs and reads function inputs. Each put is placed
 * by `chooseTier` (inline, this worker's memory, its spill files, Redis, or served to peers),
 * against an exact memory quota, and returns the `StoredRef` that travels in the trigger.
 *
 * Invariants:
 * - memory bytes never exceed `memoryQuotaBytes`: the quota check and the insert happen in one
 *   synchronous step;
 * - every copy this worker stores carries the TTL safety net and is tracked in the group of
 *   (invocation, worker), so `releaseInvocation` frees memory, spill files and Redis without
 *   scanning;
 * - a key lives in at most one local holder (memory or spill): re-putting it removes the
 *   other copy.
 *
 * A `memory` ref means "held on that worker" — in memory, or in its spill files when it was
 * over quota without Redis; only that worker can read it.
 */
import { AppError, assertNever } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DiskTier } from './disk.js';
import { checkInvocationId, groupOf, objectKey } from './keys.js';
import { MemoryTier } from './memory.js';
import { resolveOptions, type ResolvedOptions } from './options.js';
import { fetchFromPeer } from './peer.js';
import { chooseTier, type LocalHolder } from './placement.js';
import type {
  ConsumerCounts,
  FaaStoreOptions,
  FaaStoreStats,
  ObjectTier,
  PutOptions,
  StoredRef,
} from './store.js';
import type { InvocationId } from '../shared/ids.js';

export class FaaStore {
  private readonly memory = new MemoryTier();
  private readonly puts: FaaStoreStats['puts'] = {
    inline: 0,
    memory: 0,
    disk: 0,
    redis: 0,
    peer: 0,
  };
  private readonly logger: Logger;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly options: ResolvedOptions,
    /** Present only without Redis: with Redis, over-quota objects spill there. */
    private readonly disk: DiskTier | null,
  ) {
    this.logger = options.logger.child({ component: 'faastore', workerId: options.workerId });
  }

  static async create(options: FaaStoreOptions): Promise<FaaStore> {
    const resolved = resolveOptions(options);
    const disk = resolved.redis === null ? await DiskTier.create({ dir: resolved.spillDir }) : null;
    return new FaaStore(resolved, disk);
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /**
   * Stores one output of `invocationId` under `key` (a node id, or `node#index`) and returns
   * where its consumers find it. `consumers` counts the consumers on this worker and elsewhere.
   */
  async put(
    invocationId: InvocationId,
    key: string,
    value: Buffer,
    consumers: ConsumerCounts,
    putOptions: PutOptions = {},
  ): Promise<StoredRef> {
    this.assertOpen();
    checkConsumers(consumers);
    const { workerId, workerUrl, redis, ttlMs, memoryQuotaBytes } = this.options;
    const fullKey = objectKey(putOptions.tenant ?? this.options.tenant, invocationId, key);
    const group = groupOf(invocationId, workerId);
    const sizeBytes = value.length;
    const placement = chooseTier({
      sizeBytes,
      consumers,
      inlineMaxBytes: this.options.inlineMaxBytes,
      memoryFreeBytes: this.memory.freeBytesFor(fullKey, memoryQuotaBytes),
      redisConfigured: redis !== null,
    });
    this.logger.debug({ key: fullKey, sizeBytes, placement }, 'object placed');

    switch (placement.kind) {
      case 'inline':
        this.puts.inline += 1;
        return { tier: 'inline', data: value.toString('base64'), sizeBytes };
      case 'local': {
        await this.holdLocally(fullKey, value, group, placement.holder);
        this.puts[placement.holder] += 1;
        return { tier: 'memory', key: fullKey, worker: workerId, sizeBytes };
      }
      case 'redis': {
        const shared = this.requireRedis('put');
        if (placement.alsoInMemory) this.memory.putSync(fullKey, value, ttlMs, group);
        else this.memory.deleteSync([fullKey]);
        try {
          await shared.put(fullKey, value, ttlMs, group);
        } catch (err) {
          if (placement.alsoInMemory) this.memory.deleteSync([fullKey]);
          throw err;
        }
        this.puts.redis += 1;
        return placement.alsoInMemory
          ? { tier: 'redis', key: fullKey, sizeBytes, worker: workerId }
          : { tier: 'redis', key: fullKey, sizeBytes };
      }
      case 'peer':
        await this.holdLocally(fullKey, value, group, placement.holder);
        this.puts.peer += 1;
        return { tier: 'peer', key: fullKey, worker: workerId, url: workerUrl, sizeBytes };
      default:
        return assertNever(placement, 'placement');
    }
  }

  /** Reads the object `ref` names: this worker's memory first, then Redis, then its producer. */
  async getBuffer(ref: StoredRef): Promise<Buffer> {
    this.assertOpen();
    const { workerId } = this.options;
    switch (ref.tier) {
      case 'inline': {
        const value = Buffer.from(ref.data, 'base64');
        if (value.length !== ref.sizeBytes) {
          throw new AppError(
            'BAD_REQUEST',
            `inline ref decodes to ${value.length} bytes but says sizeBytes ${ref.sizeBytes}`,
          );
        }
        return value;
      }
      case 'memory':
        if (ref.worker !== workerId) {
          throw new AppError(
            'OBJECT_NOT_FOUND',
            `object ${ref.key} is held on worker ${ref.worker}, not on ${workerId}; ` +
              'memory refs are readable only on their worker',
            { details: { key: ref.key, worker: ref.worker } },
          );
        }
        return this.serveLocal(ref.key);
      case 'redis': {
        if (ref.worker === workerId) {
          const local = this.memory.peek(ref.key);
          if (local !== undefined) return local;
        }
        return this.requireRedis('get').getBuffer(ref.key);
      }
      case 'peer': {
        if (ref.worker === workerId) return this.serveLocal(ref.key);
        const { peer, peerTimeoutMs } = this.options;
        if (peer === null) {
          throw new AppError(
            'STORE_UNAVAILABLE',
            `object ${ref.key} is held by worker ${ref.worker} but this store has no peer fetcher; ` +
              'pass `peer` in the FaaStore options',
            { retryable: false },
          );
        }
        return fetchFromPeer(peer, ref, peerTimeoutMs);
      }
      default:
        return assertNever(ref, 'stored ref');
    }
  }

  /**
   * A ref read for another process (`POST /v1/objects/fetch`: the coordinator reading a sink's
   * output): as `getBuffer`, except that it never calls out to another host. A peer ref held by
   * another worker is refused — it is read from its holder — so the route cannot be pointed at
   * an arbitrary URL.
   */
  serveRef(ref: StoredRef): Promise<Buffer> {
    if (ref.tier === 'peer' && ref.worker !== this.options.workerId) {
      return Promise.reject(
        new AppError(
          'BAD_REQUEST',
          `object ${ref.key} is held by worker ${ref.worker}; read it from that worker (GET /v1/objects/:key there): this worker fetches nothing from other hosts for a request`,
          { retryable: false, details: { key: ref.key, worker: ref.worker } },
        ),
      );
    }
    return this.getBuffer(ref);
  }

  /** An object held on this worker (memory, then spill files); backs `GET /v1/objects/:key`. */
  async serveLocal(key: string): Promise<Buffer> {
    this.assertOpen();
    const inMemory = this.memory.peek(key);
    if (inMemory !== undefined) return inMemory;
    if (this.disk?.has(key) === true) {
      try {
        return await this.disk.getBuffer(key);
      } catch (err) {
        if (!(err instanceof AppError && err.code === 'OBJECT_NOT_FOUND')) throw err;
      }
    }
    throw new AppError(
      'OBJECT_NOT_FOUND',
      `object ${key} is not held on worker ${this.options.workerId} (released, expired, or stored elsewhere)`,
      { details: { key, worker: this.options.workerId } },
    );
  }

  /**
   * Frees every object this worker stored for `invocationId`, in memory, spill files and Redis.
   * Local copies go first; a Redis failure then rejects with STORE_UNAVAILABLE and the call can
   * be repeated. Returns how many objects were released.
   */
  async releaseInvocation(invocationId: InvocationId): Promise<number> {
    this.assertOpen();
    checkInvocationId(invocationId, 'releaseInvocation');
    const group = groupOf(invocationId, this.options.workerId);
    let released = await this.memory.releaseGroup(group);
    if (this.disk !== null) released += await this.disk.releaseGroup(group);
    if (this.options.redis !== null) released += await this.options.redis.releaseGroup(group);
    this.logger.debug({ invocationId, released }, 'invocation objects released');
    return released;
  }

  stats(): FaaStoreStats {
    const spilledBytes = this.disk?.usedBytes ?? 0;
    const spilledObjects = this.disk?.objectCount ?? 0;
    return {
      memoryBytes: this.memory.usedBytes,
      memoryQuotaBytes: this.options.memoryQuotaBytes,
      memoryObjects: this.memory.objectCount,
      spilledBytes,
      spilledObjects,
      objects: this.memory.objectCount + spilledObjects,
      puts: { ...this.puts },
    };
  }

  /** Closes every tier, including the Redis tier it was given; idempotent. */
  close(): Promise<void> {
    this.closing ??= closeAll([this.memory, this.disk, this.options.redis]);
    return this.closing;
  }

  private async holdLocally(
    key: string,
    value: Buffer,
    group: string,
    holder: LocalHolder,
  ): Promise<void> {
    const { ttlMs, memoryQuotaBytes } = this.options;
    if (holder === 'memory' && this.memory.tryPut(key, value, ttlMs, memoryQuotaBytes, group)) {
      if (this.disk !== null) await this.disk.delete([key]);
      return;
    }
    if (this.disk === null) {
      throw new AppError('INTERNAL', `object ${key} must spill to disk but no spill tier exists`);
    }
    await this.disk.put(key, value, ttlMs, group);
    this.memory.deleteSync([key]);
  }

  private requireRedis(op: string): ObjectTier {
    const { redis } = this.options;
    if (redis === null) {
      // Not a store that is down: a ref this worker's configuration can never serve (like a
      // harvesting route on a master with harvesting off).
      throw new AppError(
        'CONFLICT',
        `${op}: the object is in Redis but this worker has no Redis configured; start every worker with the same --redis-url`,
      );
    }
    return redis;
  }

  private assertOpen(): void {
    if (this.closing !== undefined) {
      throw new AppError('STORE_UNAVAILABLE', 'FaaStore is closed', { retryable: false });
    }
  }
}

function checkConsumers(consumers: ConsumerCounts): void {
  const ok = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
  if (!ok(consumers.local) || !ok(consumers.remote)) {
    throw new AppError(
      'BAD_REQUEST',
      `put: consumers must be non-negative integers, got local=${consumers.local} remote=${consumers.remote}`,
    );
  }
}

async function closeAll(tiers: readonly (ObjectTier | null)[]): Promise<void> {
  const open = tiers.filter((tier): tier is ObjectTier => tier !== null);
  const results = await Promise.allSettled(open.map((tier) => tier.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) throw AppError.from(failed.reason, 'STORE_UNAVAILABLE');
}
