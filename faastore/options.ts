/**
 * FaaStore options: defaults, and a check that reports every problem at once as CONFIG_INVALID
 * naming the option and what would be valid.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { isTenantName } from './keys.js';
import type { FaaStoreOptions, ObjectTier, PeerFetcher } from './store.js';

export const DEFAULT_INLINE_MAX_BYTES = 4096;
export const DEFAULT_MEMORY_QUOTA_BYTES = 512 * 1024 * 1024;
export const DEFAULT_TTL_MS = 60 * 60 * 1000;
export const DEFAULT_PEER_TIMEOUT_MS = 30_000;

const WORKER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export interface ResolvedOptions {
  workerId: string;
  workerUrl: string;
  tenant: string;
  redis: ObjectTier | null;
  peer: PeerFetcher | null;
  inlineMaxBytes: number;
  memoryQuotaBytes: number;
  ttlMs: number;
  peerTimeoutMs: number;
  spillDir: string;
  logger: Logger;
}

export function resolveOptions(options: FaaStoreOptions): ResolvedOptions {
  const problems: string[] = [];
  const count = (
    name: string,
    value: number | undefined,
    fallback: number,
    min: number,
  ): number => {
    if (value === undefined) return fallback;
    if (!Number.isSafeInteger(value) || value < min) {
      problems.push(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
    }
    return value;
  };

  if (!WORKER_ID_RE.test(options.workerId)) {
    problems.push(`workerId ${JSON.stringify(options.workerId)} must match ${WORKER_ID_RE.source}`);
  }
  if (!isHttpUrl(options.workerUrl)) {
    problems.push(`workerUrl ${JSON.stringify(options.workerUrl)} must be an http(s) base URL`);
  }
  const tenant = options.tenant ?? 'default';
  if (!isTenantName(tenant)) {
    problems.push(`tenant ${JSON.stringify(tenant)} must be lowercase letters, digits and dashes`);
  }
  const redis = options.redis ?? null;
  const peer = options.peer ?? null;
  if (redis === null && peer === null) {
    problems.push(
      'peer is required when redis is not configured (remote consumers fetch from this worker)',
    );
  }
  if (redis !== null && redis.kind !== 'redis') {
    problems.push(`redis must be a Redis tier (createRedisTier), got a ${redis.kind} tier`);
  }
  const resolved: ResolvedOptions = {
    workerId: options.workerId,
    workerUrl: options.workerUrl,
    tenant,
    redis,
    peer,
    inlineMaxBytes: count('inlineMaxBytes', options.inlineMaxBytes, DEFAULT_INLINE_MAX_BYTES, 0),
    memoryQuotaBytes: count(
      'memoryQuotaBytes',
      options.memoryQuotaBytes,
      DEFAULT_MEMORY_QUOTA_BYTES,
      0,
    ),
    ttlMs: count('ttlMs', options.ttlMs, DEFAULT_TTL_MS, 1),
    peerTimeoutMs: count('peerTimeoutMs', options.peerTimeoutMs, DEFAULT_PEER_TIMEOUT_MS, 1),
    spillDir: options.spillDir ?? join(tmpdir(), `faasflow-${options.workerId}`),
    logger: options.logger ?? silentLogger,
  };
  if (problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid FaaStore options: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return resolved;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
