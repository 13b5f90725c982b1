/**
 * The partitioner's public types, its defaults, and the validation of its options.
 * Options are checked up front so a bad configuration fails with the option's name and what
 * would be valid, instead of producing a silently degenerate grouping.
 */
import { AppError } from '../../shared/errors.js';
import type { NodeId } from '../../shared/ids.js';

/** What one worker offers to a group. */
export interface WorkerCapacity {
  /** Cores. */
  cpu: number;
  /** Memory for warm sandboxes, in MB. */
  memoryMb: number;
}

export interface PartitionOptions {
  /** Number of identical workers (integer ≥ 1). With 1 worker, unrelated groups are merged too. */
  workers: number;
  /** Capacity of each worker; a group must fit one worker. Default `{ cpu: 8, memoryMb: 16384 }`. */
  capacity?: WorkerCapacity;
  /**
   * FaaStore's in-memory quota per worker, in bytes: the bytes of the edges inside one group must
   * stay at or under it. Default 1 GiB.
   */
  memoryQuotaBytes?: number;
  /** Network bandwidth between workers, in bytes per second. Default 50 Mbit/s = 6_250_000. */
  bandwidthBytesPerSec?: number;
}

export interface PartitionEdge {
  from: NodeId;
  to: NodeId;
  bytes: number;
  /** Both ends are in the same group: the data stays in the worker's memory. */
  local: boolean;
}

export interface PartitionResult {
  /** Each group sorted by node id; groups sorted by their first node id. */
  groups: NodeId[][];
  /** Node id → index in `groups`. */
  groupOf: Record<string, number>;
  /** Every edge of the DAG, sorted by (from, to). */
  edges: PartitionEdge[];
  /** Bytes of the edges inside a group. */
  localBytes: number;
  /** Bytes of all edges. */
  totalBytes: number;
  /** Longest path (node runtimes + cross-group transfer times) of the final grouping, in ms. */
  criticalPathMs: number;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  workers: number;
  capacity: WorkerCapacity;
  memoryQuotaBytes: number;
  bandwidthBytesPerSec: number;
}

export const PARTITION_DEFAULTS = {
  capacity: { cpu: 8, memoryMb: 16384 },
  memoryQuotaBytes: 1024 * 1024 * 1024,
  bandwidthBytesPerSec: 6_250_000,
} as const;

/** Fills defaults and checks every option, reporting all problems in one error. */
export function resolveOptions(options: PartitionOptions): ResolvedOptions {
  const problems: string[] = [];
  const check = (ok: boolean, message: string): void => {
    if (!ok) problems.push(message);
  };
  const capacity = options.capacity ?? PARTITION_DEFAULTS.capacity;
  const quota = options.memoryQuotaBytes ?? PARTITION_DEFAULTS.memoryQuotaBytes;
  const bandwidth = options.bandwidthBytesPerSec ?? PARTITION_DEFAULTS.bandwidthBytesPerSec;
  check(
    Number.isInteger(options.workers) && options.workers >= 1,
    `workers must be an integer ≥ 1, got ${String(options.workers)}`,
  );
  check(
    isPositive(capacity.cpu),
    `capacity.cpu must be a finite number > 0, got ${String(capacity.cpu)}`,
  );
  check(
    isPositive(capacity.memoryMb),
    `capacity.memoryMb must be a finite number > 0, got ${String(capacity.memoryMb)}`,
  );
  check(
    Number.isFinite(quota) && quota >= 0,
    `memoryQuotaBytes must be a finite number ≥ 0, got ${String(quota)}`,
  );
  check(
    isPositive(bandwidth),
    `bandwidthBytesPerSec must be a finite number > 0, got ${String(bandwidth)}`,
  );
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid partition options: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return {
    workers: options.workers,
    capacity: { cpu: capacity.cpu, memoryMb: capacity.memoryMb },
    memoryQuotaBytes: quota,
    bandwidthBytesPerSec: bandwidth,
  };
}

function isPositive(value: number): boolean {
  return Number.isFinite(value) && value > 0;
}
