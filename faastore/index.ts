/**
 * FaaStore, the data plane between functions (docs/design.md §5). The only import path for the rest of
 * the project: the worker builds a Redis tier (or none), a `PeerFetcher` over its HTTP client,
 * and one `FaaStore`.
 */
export { FaaStore } from './adaptive.js';
export { createRedisTier, type RedisTier, type RedisTierOptions } from './redis.js';
export { MemoryTier, type MemoryTierOptions } from './memory.js';
export { DiskTier, type DiskTierOptions } from './disk.js';
export { chooseTier, type Placement, type PlacementInput, type LocalHolder } from './placement.js';
export {
  DEFAULT_INLINE_MAX_BYTES,
  DEFAULT_MEMORY_QUOTA_BYTES,
  DEFAULT_PEER_TIMEOUT_MS,
  DEFAULT_TTL_MS,
} from './options.js';
export type {
  ConsumerCounts,
  FaaStoreOptions,
  FaaStoreStats,
  ObjectTier,
  PeerFetcher,
  PutOptions,
  StoredRef,
  TierKind,
} from './store.js';
