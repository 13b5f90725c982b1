/**
 * Harvesting's Redis backend (the connection is made by shared/redis.ts).
 *
 * Keys, all under `<prefix>h:` (the master's `redisPrefix`, default `ff:`), per workflow W:
 * - `profiles:W` a list of profile records as JSON, oldest first; every append is one MULTI of
 *   RPUSH and `LTRIM -limit -1`, so the list never holds more than `profileLimit`;
 * - `profile-stats:W` a hash: `appended` and `skip:<reason>` counters;
 * - `model-version:W` the INCR counter model-set versions come from (monotonic across restarts);
 * - `model:W` the current model set, gzipped JSON; `model-summary:W` its summary;
 * - `models:W` summaries of the last `MODEL_HISTORY` model sets, newest first.
 * Nothing here scans the keyspace; every read names its key.
 *
 * Failure behaviour as in FaaStore's tier: connecting is eager with a bounded timeout (the
 * master refuses to start without its Redis); once connected the offline queue is off, so a lost
 * connection fails commands at once with STORE_UNAVAILABLE and ioredis reconnects behind.
 */
import { AppError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { connectRedis, redactRedisUrl, type Redis } from '../../shared/redis.js';
import type { ProfileRecord } from './profile.js';
import {
  MODEL_HISTORY,
  parseStoredRecord,
  type HarvestStore,
  type ModelSummary,
  type ProfileStats,
  type SkipReason,
} from './store.js';

export interface RedisHarvestStoreOptions {
  /** Key prefix; the store's keys are under `<prefix>h:`. Default `ff:`. */
  prefix?: string;
  /** Records kept per workflow. */
  profileLimit: number;
  /** Limit on establishing the connection. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Limit on one command's reply. Default 30000 ms. */
  commandTimeoutMs?: number;
  logger?: Logger;
}

/** Records per RPUSH. */
const PUSH_BATCH = 1000;

/** Connects; rejects with STORE_UNAVAILABLE naming the (redacted) URL when Redis is unreachable. */
export async function createRedisHarvestStore(
  url: string,
  options: RedisHarvestStoreOptions,
): Promise<RedisHarvestStore> {
  const logger = (options.logger ?? silentLogger).child({ redis: redactRedisUrl(url) });
  const { client, safeUrl } = await connectRedis(url, {
    ...options,
    purpose: 'harvesting (redisUrl)',
  });
  return new RedisHarvestStore(client, `${options.prefix ?? 'ff:'}h:`, options.profileLimit, {
    url: safeUrl,
    logger,
  });
}

export class RedisHarvestStore implements HarvestStore {
  private closing: Promise<void> | undefined;

  /** Use `createRedisHarvestStore`. */
  constructor(
    private readonly client: Redis,
    /** Full prefix of this store's keys (ends with `h:`). */
    readonly keyPrefix: string,
    private readonly profileLimit: number,
    private readonly o: { url: string; logger: Logger },
  ) {}

  async appendProfiles(
    workflow: string,
    records: readonly ProfileRecord[],
    skipped: Partial<Record<SkipReason, number>> = {},
  ): Promise<void> {
    const list = this.key('profiles', workflow);
    const stats = this.key('profile-stats', workflow);
    const tx = this.client.multi();
    for (let i = 0; i < records.length; i += PUSH_BATCH)
      tx.rpush(list, ...records.slice(i, i + PUSH_BATCH).map((r) => JSON.stringify(r)));
    if (records.length > 0) {
      tx.ltrim(list, -this.profileLimit, -1);
      tx.hincrby(stats, 'appended', records.length);
    }
    for (const [reason, n] of Object.entries(skipped))
      if (n !== undefined && n > 0) tx.hincrby(stats, `skip:${reason}`, n);
    if (tx.length === 0) return;
    await this.exec('append profiles', workflow, tx);
  }

  async profileStats(workflow: string): Promise<ProfileStats> {
    const [stored, hash] = await this.run('read profile stats', workflow, () =>
      Promise.all([
        this.client.llen(this.key('profiles', workflow)),
        this.client.hgetall(this.key('profile-stats', workflow)),
      ]),
    );
    const skipped: Partial<Record<SkipReason, number>> = {};
    for (const [k, v] of Object.entries(hash))
      if (k.startsWith('skip:')) skipped[k.slice(5) as SkipReason] = Number(v);
    return { stored, appended: Number(hash['appended'] ?? 0), skipped };
  }

  async readProfiles(workflow: string, offset: number, count: number): Promise<ProfileRecord[]> {
    if (count <= 0) return [];
    const raw = await this.run('read profiles', workflow, () =>
      this.client.lrange(this.key('profiles', workflow), offset, offset + count - 1),
    );
    return this.parse(workflow, raw);
  }

  async recentProfiles(workflow: string, count: number): Promise<ProfileRecord[]> {
    if (count <= 0) return [];
    const raw = await this.run('read profiles', workflow, () =>
      this.client.lrange(this.key('profiles', workflow), -count, -1),
    );
    return this.parse(workflow, raw);
  }

  nextModelVersion(workflow: string): Promise<number> {
    return this.run('allocate a model version', workflow, () =>
      this.client.incr(this.key('model-version', workflow)),
    );
  }

  async saveModelSet(workflow: string, gzipped: Buffer, summary: ModelSummary): Promise<void> {
    const text = JSON.stringify(summary);
    const history = this.key('models', workflow);
    const tx = this.client
      .multi()
      .set(this.key('model', workflow), gzipped)
      .set(this.key('model-summary', workflow), text)
      .lpush(history, text)
      .ltrim(history, 0, MODEL_HISTORY - 1);
    await this.exec('save the model set', workflow, tx);
  }

  async loadModelSet(workflow: string): Promise<{ gzipped: Buffer; summary: ModelSummary } | null> {
    const [gzipped, summary] = await this.run('load the model set', workflow, () =>
      Promise.all([
        this.client.getBuffer(this.key('model', workflow)),
        this.client.get(this.key('model-summary', workflow)),
      ]),
    );
    if (gzipped === null || summary === null) return null;
    return { gzipped, summary: JSON.parse(summary) as ModelSummary };
  }

  async modelHistory(workflow: string, limit: number): Promise<ModelSummary[]> {
    if (limit <= 0) return [];
    const raw = await this.run('read model history', workflow, () =>
      this.client.lrange(this.key('models', workflow), 0, limit - 1),
    );
    return raw.map((s) => JSON.parse(s) as ModelSummary);
  }

  close(): Promise<void> {
    this.closing ??= this.client.quit().then(
      () => undefined,
      () => this.client.disconnect(),
    );
    return this.closing;
  }

  private key(kind: string, workflow: string): string {
    return `${this.keyPrefix}${kind}:${workflow}`;
  }

  private parse(workflow: string, raw: readonly string[]): ProfileRecord[] {
    const out: ProfileRecord[] = [];
    let bad = 0;
    for (const s of raw) {
      const r = parseStoredRecord(s);
      if (r) out.push(r);
      else bad++;
    }
    if (bad > 0) this.o.logger.warn({ workflow, bad }, 'skipped unreadable profile records');
    return out;
  }

  private async exec(op: string, workflow: string, tx: ReturnType<Redis['multi']>): Promise<void> {
    const results = await this.run(op, workflow, () => tx.exec());
    const failed = results?.find(([err]) => err !== null)?.[0];
    if (results === null || failed)
      throw this.unavailable(op, workflow, failed ?? new Error('transaction aborted'));
  }

  private async run<T>(op: string, workflow: string, command: () => Promise<T>): Promise<T> {
    if (this.closing) throw this.unavailable(op, workflow, new Error('the store is closed'));
    try {
      return await command();
    } catch (err) {
      throw this.unavailable(op, workflow, err);
    }
  }

  private unavailable(op: string, workflow: string, err: unknown): AppError {
    return new AppError(
      'STORE_UNAVAILABLE',
      `harvesting could not ${op} of ${workflow} in Redis at ${this.o.url}: ${messageOf(err)}`,
      { cause: err, details: { url: this.o.url, workflow } },
    );
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
