/**
 * The contracts of FaaStore: a tier is plain byte storage with TTLs and tracking groups; a
 * `StoredRef` (the wire type from shared/schema) says where one object lives as it travels
 * inside a trigger; a `PeerFetcher` reads an object held by another worker.
 *
 * Values are Buffers produced by `encodeValue`; tiers never copy, encode or inspect them.
 */
import type { Logger } from '../shared/logger.js';
import type { StoredRef } from '../shared/schema/wire.js';

export type { StoredRef };

export type TierKind = 'memory' | 'redis' | 'disk';

/** Plain byte storage. Every implementation passes `test/contract/tier.contract.ts`. */
export interface ObjectTier {
  readonly kind: TierKind;
  /**
   * Stores `value` under `key` for `ttlMs`, replacing any previous value. With `group`, the key
   * is also tracked in that group so `releaseGroup` can free it without scanning.
   */
  put(key: string, value: Buffer, ttlMs: number, group?: string): Promise<void>;
  /** The stored bytes; AppError OBJECT_NOT_FOUND when absent or expired. */
  getBuffer(key: string): Promise<Buffer>;
  /** Removes the keys; missing keys are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  /** Removes every key put with `group` and the group itself; returns how many keys it named. */
  releaseGroup(group: string): Promise<number>;
  /** Frees the tier's resources; idempotent. Later calls fail with STORE_UNAVAILABLE. */
  close(): Promise<void>;
}

/** Reads an object held by another worker (the worker implements it over undici). */
export interface PeerFetcher {
  /**
   * GETs `key` from the worker at base URL `url` (its `GET /v1/objects/:key` route, key
   * URL-encoded). Must give up after `timeoutMs` and reject with an AppError:
   * OBJECT_NOT_FOUND when the peer answers 404, WORKER_UNREACHABLE when it cannot be reached.
   */
  fetch(url: string, key: string, timeoutMs: number): Promise<Buffer>;
}

/** How many consumers of an object run on this worker and how many elsewhere. */
export interface ConsumerCounts {
  local: number;
  remote: number;
}

export interface FaaStoreOptions {
  /** This worker's id; written into refs so consumers know where an object is held. */
  workerId: string;
  /** Base URL other workers use to reach this worker (peer refs carry it). */
  workerUrl: string;
  /** Tenant used to namespace keys when `put` is not given one. Default `default`. */
  tenant?: string;
  /**
   * Shared tier for objects read by other workers. Absent or null: no Redis configured, and
   * remote consumers fetch from this worker (peer tier). FaaStore owns it and closes it.
   */
  redis?: ObjectTier | null;
  /** Required when `redis` is absent. */
  peer?: PeerFetcher;
  /** Objects up to this size travel inline in the ref. Default 4096 bytes. */
  inlineMaxBytes?: number;
  /** Bytes of objects held in this process's memory, at most. Default 512 MiB. */
  memoryQuotaBytes?: number;
  /** Safety-net TTL of every stored copy, in case a release never comes. Default 1 h. */
  ttlMs?: number;
  /** Limit on one peer fetch. Default 30 s. */
  peerTimeoutMs?: number;
  /**
   * Where objects spill when over the memory quota and no Redis is configured.
   * Default `os.tmpdir()/faasflow-<workerId>`.
   */
  spillDir?: string;
  logger?: Logger;
}

export interface PutOptions {
  /** Overrides the store's default tenant for this object's key. */
  tenant?: string;
}

export interface FaaStoreStats {
  /** Bytes held in memory now (exact: released and expired objects are subtracted). */
  memoryBytes: number;
  memoryQuotaBytes: number;
  memoryObjects: number;
  /** Bytes held in spill files now. */
  spilledBytes: number;
  spilledObjects: number;
  /** Objects held on this worker (memory + spill). */
  objects: number;
  /** Puts since start, by the tier named in the returned ref (spill counts as `disk`). */
  puts: Record<StoredRef['tier'] | 'disk', number>;
}
