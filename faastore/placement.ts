/**
 * The placement rule of FaaStore (docs/design.md §5), as a pure function of one object's size, its
 * consumers, the free memory quota and whether Redis is configured.
 *
 * - size ≤ inlineMaxBytes → inline (nothing stored).
 * - only local consumers (or none) → memory; over quota → Redis if configured, else disk.
 * - only remote consumers → Redis if configured, else peer (held here in memory, or disk when
 *   over quota, and served by this worker's object route).
 * - mixed → memory and Redis (local consumers read memory); over quota → Redis only. Without
 *   Redis → peer, as above.
 */
import type { ConsumerCounts } from './store.js';

export type LocalHolder = 'memory' | 'disk';

export type Placement =
  | { kind: 'inline' }
  | { kind: 'local'; holder: LocalHolder }
  | { kind: 'redis'; alsoInMemory: boolean }
  | { kind: 'peer'; holder: LocalHolder };

export interface PlacementInput {
  sizeBytes: number;
  consumers: ConsumerCounts;
  inlineMaxBytes: number;
  /** Quota minus the bytes held now (counting a copy of the same key being replaced as free). */
  memoryFreeBytes: number;
  redisConfigured: boolean;
}

export function chooseTier(input: PlacementInput): Placement {
  const { sizeBytes, consumers, inlineMaxBytes, memoryFreeBytes, redisConfigured } = input;
  if (sizeBytes <= inlineMaxBytes) return { kind: 'inline' };
  const fitsInMemory = sizeBytes <= memoryFreeBytes;
  const holder: LocalHolder = fitsInMemory ? 'memory' : 'disk';

  if (consumers.remote === 0) {
    if (fitsInMemory) return { kind: 'local', holder: 'memory' };
    return redisConfigured ? { kind: 'redis', alsoInMemory: false } : { kind: 'local', holder };
  }
  if (!redisConfigured) return { kind: 'peer', holder };
  return { kind: 'redis', alsoInMemory: consumers.local > 0 && fitsInMemory };
}
