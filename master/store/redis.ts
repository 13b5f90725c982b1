/**
 * The master store in Redis (the connection is made by shared/redis.ts), for masters started
 * with `--redis-url`. Keys, all under `<redisPrefix>m:`:
 * - `workflows` a set of deployed names; `versions:<name>` a hash version → WorkflowVersion JSON;
 *   `last-version` a hash name → the highest version ever stored (kept across deletes);
 * - `inv:<id>` one invocation doc as JSON; `inv-running` a sorted set of running ids by
 *   startedAt; `inv-finished` a sorted set of finished ids by finishedAt (trim reads its head);
 * - `idem:<scoped key>` an idempotency binding, made with a script (GET, else SET PX) so that
 *   it is atomic on every Redis version;
 * - `values` a hash of small named JSON values.
 *
 * One logical write is one MULTI or one script, so a crash never leaves half of it. Durability is
 * Redis's: with `appendonly yes` and `appendfsync everysec` a write survives a Redis crash except
 * for the last second; `always` loses nothing. `open` warns when AOF is off or eviction may drop
 * keys (docs/store.md). Nothing here scans the keyspace.
 */
import type { Logger } from '../../shared/logger.js';
import { connectRedis, type Redis } from '../../shared/redis.js';
import type { WorkflowVersion } from '../workflow/version.js';
import {
  finishedAtOf,
  isRunning,
  storeClosed,
  storeUnavailable,
  type CatalogSnapshot,
  type InvocationDoc,
  type MasterStore,
} from './types.js';
import type { InvocationId } from '../../shared/ids.js';

export interface RedisMasterStoreOptions {
  url: string;
  /** The master's `redisPrefix`; this store's keys are under `<prefix>m:`. */
  prefix: string;
  logger: Logger;
  connectTimeoutMs?: number;
}

/** Ids per MGET / DEL batch. */
const BATCH = 500;

/** Raises `last-version[name]` to ARGV[2] unless it is higher already, with the version write. */
const PUT_VERSION = `
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[3], ARGV[1], ARGV[2]) end
return 1`;

const CLAIM = `
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]`;

export class RedisMasterStore implements MasterStore {
  readonly kind = 'redis' as const;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly client: Redis,
    private readonly keyPrefix: string,
    readonly description: string,
  ) {}

  /** Connects (STORE_UNAVAILABLE when Redis does not answer) and checks its persistence settings. */
  static async open(o: RedisMasterStoreOptions): Promise<RedisMasterStore> {
    const { client, safeUrl } = await connectRedis(o.url, {
      purpose: 'master store (redisUrl)',
      logger: o.logger,
      ...(o.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: o.connectTimeoutMs }),
    });
    const keyPrefix = `${o.prefix}m:`;
    await warnAboutSettings(client, o.logger, safeUrl);
    return new RedisMasterStore(client, keyPrefix, `${safeUrl} (prefix ${keyPrefix})`);
  }

  putVersion(v: WorkflowVersion): Promise<void> {
    return this.run('putVersion', async () => {
      await this.client.eval(
        PUT_VERSION,
        3,
        this.key(`versions:${v.name}`),
        this.key('workflows'),
        this.key('last-version'),
        v.name,
        String(v.version),
        JSON.stringify(v),
      );
    });
  }

  deleteWorkflow(name: string): Promise<void> {
    return this.run('deleteWorkflow', () =>
      this.exec(
        this.client
          .multi()
          .del(this.key(`versions:${name}`))
          .srem(this.key('workflows'), name),
      ),
    );
  }

  loadCatalog(): Promise<CatalogSnapshot> {
    return this.run('loadCatalog', async () => {
      const names = (await this.client.smembers(this.key('workflows'))).sort();
      const pipe = this.client.pipeline();
      for (const name of names) pipe.hgetall(this.key(`versions:${name}`));
      const replies = names.length === 0 ? [] : ((await pipe.exec()) ?? []);
      const versions: WorkflowVersion[] = [];
      for (const [err, reply] of replies) {
        if (err) throw err;
        const hash = reply as Record<string, string>;
        const list = Object.entries(hash)
          .sort(([a], [b]) => Number(a) - Number(b))
          .map(([, json]) => JSON.parse(json) as WorkflowVersion);
        versions.push(...list);
      }
      const last = await this.client.hgetall(this.key('last-version'));
      const lastVersion: Record<string, number> = {};
      for (const [name, n] of Object.entries(last)) lastVersion[name] = Number(n);
      return { versions, lastVersion };
    });
  }

  putInvocation(doc: InvocationDoc): Promise<void> {
    return this.run('putInvocation', () => {
      const tx = this.client.multi().set(this.key(`inv:${doc.id}`), JSON.stringify(doc));
      if (isRunning(doc))
        tx.zadd(this.key('inv-running'), doc.startedAt, doc.id).zrem(
          this.key('inv-finished'),
          doc.id,
        );
      else
        tx.zrem(this.key('inv-running'), doc.id).zadd(
          this.key('inv-finished'),
          finishedAtOf(doc),
          doc.id,
        );
      return this.exec(tx);
    });
  }

  getInvocation(id: InvocationId): Promise<InvocationDoc | undefined> {
    return this.run('getInvocation', async () => {
      const text = await this.client.get(this.key(`inv:${id}`));
      return text === null ? undefined : (JSON.parse(text) as InvocationDoc);
    });
  }

  loadInvocations(limit: number): Promise<InvocationDoc[]> {
    return this.run('loadInvocations', async () => {
      const running = await this.client.zrange(this.key('inv-running'), '0', '-1');
      const room = Math.max(0, limit - running.length);
      const finished =
        room === 0 ? [] : await this.client.zrange(this.key('inv-finished'), String(-room), '-1');
      const ids = [...running, ...finished];
      const docs: InvocationDoc[] = [];
      for (let i = 0; i < ids.length; i += BATCH) {
        const keys = ids.slice(i, i + BATCH).map((id) => this.key(`inv:${id}`));
        for (const text of await this.client.mget(keys))
          if (text !== null) docs.push(JSON.parse(text) as InvocationDoc);
      }
      return docs;
    });
  }

  trimInvocations(retain: number): Promise<number> {
    return this.run('trimInvocations', async () => {
      const excess = (await this.client.zcard(this.key('inv-finished'))) - retain;
      if (excess <= 0) return 0;
      const ids = await this.client.zrange(this.key('inv-finished'), '0', String(excess - 1));
      for (let i = 0; i < ids.length; i += BATCH) {
        const batch = ids.slice(i, i + BATCH);
        await this.exec(
          this.client
            .multi()
            .zrem(this.key('inv-finished'), ...batch)
            .unlink(...batch.map((id) => this.key(`inv:${id}`))),
        );
      }
      return ids.length;
    });
  }

  claimIdempotencyKey(
    scopedKey: string,
    invocationId: InvocationId,
    ttlMs: number,
  ): Promise<InvocationId> {
    return this.run('claimIdempotencyKey', async () => {
      const bound = await this.client.eval(
        CLAIM,
        1,
        this.key(`idem:${scopedKey}`),
        invocationId,
        String(Math.max(1, Math.ceil(ttlMs))),
      );
      if (typeof bound !== 'string') throw new Error(`unexpected reply ${JSON.stringify(bound)}`);
      // The id this key was first claimed with: one this master (or an earlier one) made.
      return bound as InvocationId;
    });
  }

  getValue(key: string): Promise<unknown> {
    return this.run('getValue', async () => {
      const text = await this.client.hget(this.key('values'), key);
      return text === null ? undefined : (JSON.parse(text) as unknown);
    });
  }

  setValue(key: string, value: unknown): Promise<void> {
    return this.run('setValue', async () => {
      await this.client.hset(this.key('values'), key, JSON.stringify(value));
    });
  }

  close(): Promise<void> {
    this.closing ??= this.client.quit().then(
      () => undefined,
      () => this.client.disconnect(),
    );
    return this.closing;
  }

  private key(suffix: string): string {
    return this.keyPrefix + suffix;
  }

  private async exec(tx: ReturnType<Redis['multi']>): Promise<void> {
    const results = await tx.exec();
    const failed = results?.find(([err]) => err !== null)?.[0];
    if (results === null) throw new Error('transaction aborted');
    if (failed) throw failed;
  }

  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closing) throw storeClosed(this.description, op);
    try {
      return await fn();
    } catch (err) {
      throw storeUnavailable(this.description, op, err);
    }
  }
}

/**
 * A master store in a Redis that may lose or evict writes is a store that forgets deployments:
 * say so once at startup. CONFIG may be disabled (managed Redis); then nothing is said.
 */
async function warnAboutSettings(client: Redis, logger: Logger, url: string): Promise<void> {
  let settings: Record<string, string>;
  try {
    const reply = await client.config('GET', 'appendonly', 'appendfsync', 'maxmemory-policy');
    settings = configReply(reply);
  } catch (err) {
    logger.debug({ err, redis: url }, 'redis CONFIG GET unavailable; persistence not checked');
    return;
  }
  const problems: string[] = [];
  if (settings['appendonly'] === 'no')
    problems.push('appendonly is no: a Redis restart loses what was written since the last RDB');
  if (settings['appendfsync'] === 'no')
    problems.push('appendfsync is no: an OS crash may lose tens of seconds of writes');
  const policy = settings['maxmemory-policy'];
  if (policy !== undefined && policy !== 'noeviction')
    problems.push(
      `maxmemory-policy is ${policy}: Redis may evict the catalogue under memory pressure`,
    );
  if (problems.length > 0)
    logger.warn(
      {
        redis: url,
        problems,
        want: 'appendonly yes, appendfsync everysec|always, maxmemory-policy noeviction',
      },
      'master store: redis may lose state',
    );
}

/** CONFIG GET answers a flat [k, v, …] array (RESP2) or a map (RESP3). */
function configReply(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  } else if (typeof reply === 'object' && reply !== null) {
    for (const [k, v] of Object.entries(reply)) out[k] = String(v);
  }
  return out;
}
