/**
 * The invocation journal in Redis: one hash per invocation, `<prefix>j:<invocationId>`, with a
 * field per committed node (`n:<node>`), the failure (`f`) and the master's latest re-placement
 * (`p`). Commits and re-placements are Lua scripts, so each is one atomic round trip (the
 * invariants of shared/journal.ts). Durable as far as Redis is: run it with AOF on
 * (`appendonly yes`, `appendfsync everysec` or `always`) and `maxmemory-policy noeviction`.
 */
import {
  encodeCommit,
  stateFromFields,
  type CommitResult,
  type FailureCommit,
  type Journal,
  type JournalState,
  type NodeCommit,
} from './journal.js';
import type { Logger } from './logger.js';
import { connectRedis, quitRedis, redisCall, type Redis } from './redis.js';
import type { Placement } from './schema/wire.js';
import type { InvocationId } from './ids.js';

/** KEYS[1] journal; ARGV[1] ttl ms; then field, value pairs. Returns [placement|'', winner|'' …]. */
const COMMIT = `
local out = {}
local p = redis.call('HGET', KEYS[1], 'p')
out[1] = p or ''
for i = 2, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    out[#out + 1] = ''
  else
    out[#out + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return out`;

/** KEYS[1] journal; ARGV[1] ttl ms, ARGV[2] epoch, ARGV[3] placement JSON. Returns HGETALL. */
const REPLACE = `
local cur = redis.call('HGET', KEYS[1], 'p')
local epoch = -1
if cur then epoch = tonumber(cjson.decode(cur).epoch or 0) end
if tonumber(ARGV[2]) > epoch then redis.call('HSET', KEYS[1], 'p', ARGV[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])`;

type Scripted = Redis & {
  ffCommit(key: string, ...args: string[]): Promise<string[]>;
  ffReplace(key: string, ttl: string, epoch: string, placement: string): Promise<string[]>;
};

export interface RedisJournalOptions {
  /** Key prefix shared by the master and the workers of a cluster. Default `ff:`. */
  prefix?: string;
  logger?: Logger;
  /** Who opens it, for messages. */
  purpose?: string;
}

export class RedisJournal implements Journal {
  private closed = false;

  private constructor(
    private readonly client: Scripted,
    private readonly prefix: string,
  ) {}

  static async connect(url: string, o: RedisJournalOptions = {}): Promise<RedisJournal> {
    const { client } = await connectRedis(url, {
      purpose: o.purpose ?? 'journal',
      ...(o.logger ? { logger: o.logger } : {}),
    });
    client.defineCommand('ffCommit', { numberOfKeys: 1, lua: COMMIT });
    client.defineCommand('ffReplace', { numberOfKeys: 1, lua: REPLACE });
    return new RedisJournal(client as Scripted, `${o.prefix ?? 'ff:'}j:`);
  }

  private key(invocationId: InvocationId): string {
    return `${this.prefix}${invocationId}`;
  }

  async commit(
    invocationId: InvocationId,
    commits: readonly NodeCommit[],
    ttlMs: number,
  ): Promise<CommitResult> {
    const args: string[] = [String(Math.ceil(ttlMs))];
    for (const c of commits) args.push(`n:${c.node}`, encodeCommit(c));
    const out = await this.run(() => this.client.ffCommit(this.key(invocationId), ...args));
    const placement = out[0] ? (JSON.parse(out[0]) as Placement) : undefined;
    const winners = commits.map((c, i) => {
      const prev = out[i + 1];
      return prev ? (JSON.parse(prev) as NodeCommit) : c;
    });
    return { winners, ...(placement ? { placement } : {}) };
  }

  async commitFailure(invocationId: InvocationId, f: FailureCommit, ttlMs: number): Promise<void> {
    const key = this.key(invocationId);
    await this.run(() =>
      this.client.multi().hsetnx(key, 'f', JSON.stringify(f)).pexpire(key, Math.ceil(ttlMs)).exec(),
    );
  }

  async read(invocationId: InvocationId): Promise<JournalState> {
    return stateFromFields(await this.run(() => this.client.hgetall(this.key(invocationId))));
  }

  async replace(
    invocationId: InvocationId,
    placement: Placement,
    ttlMs: number,
  ): Promise<JournalState> {
    const flat = await this.run(() =>
      this.client.ffReplace(
        this.key(invocationId),
        String(Math.ceil(ttlMs)),
        String(placement.epoch ?? 0),
        JSON.stringify(placement),
      ),
    );
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return stateFromFields(fields);
  }

  async drop(invocationIds: readonly InvocationId[]): Promise<void> {
    if (invocationIds.length === 0) return;
    await this.run(() => this.client.unlink(...invocationIds.map((id) => this.key(id))));
  }

  private run<T>(op: () => Promise<T>): Promise<T> {
    return redisCall('journal', this.closed, op);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await quitRedis(this.client);
  }
}
