/**
 * Picks and opens the master's store from its configuration: `redis` when asked for (or when
 * `auto` and a redisUrl is set), `lmdb` in the data dir otherwise, `memory` only when asked for.
 */
import { resolve } from 'node:path';
import { assertNever } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import type { MasterConfig } from '../config.js';
import { LmdbMasterStore } from './lmdb.js';
import { MemoryMasterStore } from './memory.js';
import { RedisMasterStore } from './redis.js';
import { storeKind, type MasterStore } from './types.js';

type StoreConfig = Pick<
  MasterConfig,
  'store' | 'redisUrl' | 'redisPrefix' | 'dataDir' | 'dataDirSync'
>;

export async function openMasterStore(
  config: StoreConfig,
  logger: Logger,
  cwd: string = process.cwd(),
): Promise<MasterStore> {
  const kind = storeKind(config);
  switch (kind) {
    case 'memory':
      return new MemoryMasterStore();
    case 'lmdb':
      return LmdbMasterStore.open({
        dataDir: resolve(cwd, config.dataDir),
        sync: config.dataDirSync,
        logger,
      });
    case 'redis':
      // loadMasterConfig rejects store redis without a redisUrl; this is the type's proof.
      if (config.redisUrl === undefined) throw new Error('store redis needs redisUrl');
      return RedisMasterStore.open({ url: config.redisUrl, prefix: config.redisPrefix, logger });
    default:
      return assertNever(kind, 'store kind');
  }
}
