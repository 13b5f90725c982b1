/**
 * The one client for calls between the processes (docs/design.md §4): each call goes over the
 * peer's channel when there is one, and over the internal HTTP routes otherwise — with
 * `transport: http`, when the peer refused the upgrade (an older peer, or channels off), or
 * when it does not know the operation. The caller sees the same results and the same AppErrors
 * either way, so retry policies do not care which path a call took.
 */
import type { PrepareMessage } from '../chains/start.js';
import { SHARD_RUN_PATH, type ShardRunAnswer, type ShardRunRequest } from '../schema/shard.js';
import { KEYED_RUN_PATH, type KeyedRunAnswer, type KeyedRunRequest } from '../schema/keyed.js';
import { AppError } from '../errors.js';
import { errorFromResponse, type HttpClient } from '../http-client.js';
import type { ChannelTriggerAck, Report, StoredRef, Trigger, WorkerLoad } from '../schema/wire.js';
import type { Channel } from './channel.js';
import { ContextSender } from './contexts.js';
import { OPS } from './ops.js';
import type { ChannelPool, Route } from './pool.js';

export type TransportKind = 'channel' | 'http';

export class PeerClient {
  private readonly senders = new Map<Channel, ContextSender>();
  /** `origin op` pairs the peer answered "unknown operation" to. */
  private readonly httpOps = new Set<string>();
  private readonly origins = new Map<string, string>();

  constructor(
    readonly http: HttpClient,
    /** Null: every call over HTTP (`transport: http`). */
    private readonly pool: ChannelPool | null,
  ) {}

  get kind(): TransportKind {
    return this.pool === null ? 'http' : 'channel';
  }

  /** Delivers triggers; resolves once the receiver recorded them. */
  triggers(url: string, triggers: readonly Trigger[], timeoutMs: number): Promise<void> {
    return this.via(
      url,
      OPS.triggers,
      async (ch) => {
        const sender = this.senderFor(ch);
        let ack = (await ch.request(OPS.triggers, sender.encode(triggers), { timeoutMs }))
          .body as ChannelTriggerAck;
        if (!ack.missing || ack.missing.length === 0) return;
        // The receiver does not hold their contexts (evicted): send those triggers again, in full.
        const missing = new Set(ack.missing);
        for (const id of missing) sender.forget(id);
        const again = triggers.filter((t) => missing.has(t.invocationId));
        ack = (await ch.request(OPS.triggers, sender.encode(again), { timeoutMs }))
          .body as ChannelTriggerAck;
        if (ack.missing && ack.missing.length > 0)
          throw new AppError(
            'WORKER_UNREACHABLE',
            `${url} did not restore the context of ${ack.missing.join(', ')}`,
          );
      },
      async () => {
        const target = `${url}/v1/trigger`;
        const res = await this.http.request(target, {
          method: 'POST',
          body: JSON.stringify({ triggers }),
          contentType: 'application/json',
          timeoutMs,
        });
        if (res.status >= 300) throw errorFromResponse(target, res.status, res.body);
      },
    );
  }

  reports(url: string, reports: readonly Report[], timeoutMs: number): Promise<void> {
    return this.via(
      url,
      OPS.reports,
      async (ch) => void (await ch.request(OPS.reports, { reports }, { timeoutMs })),
      async () =>
        void (await this.http.json(`${url}/v1/internal/reports`, 'POST', { reports }, timeoutMs)),
    );
  }

  /** A NOT_FOUND (404) means the master does not know this worker (any more). */
  heartbeat(url: string, workerId: string, load: WorkerLoad, timeoutMs: number): Promise<void> {
    return this.via(
      url,
      OPS.heartbeat,
      async (ch) => void (await ch.request(OPS.heartbeat, { id: workerId, load }, { timeoutMs })),
      async () =>
        void (await this.http.json(
          `${url}/v1/workers/${encodeURIComponent(workerId)}/heartbeat`,
          'POST',
          { load },
          timeoutMs,
        )),
    );
  }

  /** An object the process at `url` holds (FaaStore's peer tier; the master's inputs). */
  getObject(url: string, key: string, timeoutMs: number): Promise<Buffer> {
    return this.via(
      url,
      OPS.objectGet,
      async (ch) => dataOf(await ch.request(OPS.objectGet, { key }, { timeoutMs })),
      async () => {
        const res = await this.http.request(`${url}/v1/objects/${encodeURIComponent(key)}`, {
          method: 'GET',
          timeoutMs,
        });
        if (res.status === 200) return res.body;
        throw errorFromResponse(`${url}/v1/objects`, res.status, res.body);
      },
    );
  }

  /** Any stored object read through the worker at `url` (the master reading sink outputs). */
  fetchObject(url: string, ref: StoredRef, timeoutMs: number): Promise<Buffer> {
    return this.via(
      url,
      OPS.objectFetch,
      async (ch) => dataOf(await ch.request(OPS.objectFetch, { ref }, { timeoutMs })),
      async () => {
        const target = `${url}/v1/objects/fetch`;
        const res = await this.http.request(target, {
          method: 'POST',
          body: JSON.stringify({ ref }),
          contentType: 'application/json',
          timeoutMs,
        });
        if (res.status === 200) return res.body;
        throw errorFromResponse(target, res.status, res.body);
      },
    );
  }

  /** Prepares ahead (docs/guides/chains.md); resolves once the worker scheduled them. */
  prepares(url: string, prepares: readonly PrepareMessage[], timeoutMs: number): Promise<void> {
    return this.via(
      url,
      OPS.prepares,
      async (ch) => void (await ch.request(OPS.prepares, { prepares }, { timeoutMs })),
      async () =>
        void (await this.http.json(`${url}/v1/prepares`, 'POST', { prepares }, timeoutMs)),
    );
  }

  release(url: string, invocationIds: readonly string[], timeoutMs: number): Promise<void> {
    for (const id of invocationIds) this.forget(id);
    return this.via(
      url,
      OPS.release,
      async (ch) => void (await ch.request(OPS.release, { invocationIds }, { timeoutMs })),
      async () =>
        void (await this.http.json(
          `${url}/v1/invocations/release`,
          'POST',
          { invocationIds },
          timeoutMs,
        )),
    );
  }

  /** The invocation ended: no connection needs to remember sending its context. */
  forget(invocationId: string): void {
    for (const s of this.senders.values()) s.forget(invocationId);
    for (const l of this.forgetListeners) l(invocationId);
  }

  /** Also told when an invocation is forgotten (the receiving side's caches). */
  onForget(listener: (invocationId: string) => void): void {
    this.forgetListeners.push(listener);
  }

  private readonly forgetListeners: ((invocationId: string) => void)[] = [];

  /** One batch of a sharded foreach run by the worker at `url`; its answer (shared/schema/shard.ts). */
  shardRun(url: string, req: ShardRunRequest, timeoutMs: number): Promise<ShardRunAnswer> {
    return this.via(
      url,
      OPS.shardRun,
      async (ch) => (await ch.request(OPS.shardRun, req, { timeoutMs })).body as ShardRunAnswer,
      async () =>
        (await this.http.json(`${url}${SHARD_RUN_PATH}`, 'POST', req, timeoutMs)) as ShardRunAnswer,
    );
  }

  /** A keyed function's call run by the worker at `url`; its answer (shared/schema/keyed.ts). */
  keyedRun(url: string, req: KeyedRunRequest, timeoutMs: number): Promise<KeyedRunAnswer> {
    return this.via(
      url,
      OPS.keyedRun,
      async (ch) => (await ch.request(OPS.keyedRun, req, { timeoutMs })).body as KeyedRunAnswer,
      async () =>
        (await this.http.json(`${url}${KEYED_RUN_PATH}`, 'POST', req, timeoutMs)) as KeyedRunAnswer,
    );
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  /**
   * Runs a call over the channel to `url` when there is one, over HTTP otherwise; a peer that
   * does not know `op` gets this and later calls of it over HTTP.
   */
  private async via<T>(
    url: string,
    op: string,
    overChannel: (ch: Channel) => Promise<T>,
    overHttp: () => Promise<T>,
  ): Promise<T> {
    if (this.pool === null) return overHttp();
    const origin = this.originOf(url);
    if (this.httpOps.has(`${origin} ${op}`)) return overHttp();
    const r: Route = await this.pool.route(origin);
    if (r.kind === 'http') return overHttp();
    try {
      return await overChannel(r.channel);
    } catch (err) {
      if (!isUnknownOp(err, op)) throw err;
      this.httpOps.add(`${origin} ${op}`);
      return overHttp();
    }
  }

  private senderFor(ch: Channel): ContextSender {
    let s = this.senders.get(ch);
    if (!s) {
      s = new ContextSender();
      this.senders.set(ch, s);
      ch.onClose(() => this.senders.delete(ch));
    }
    return s;
  }

  private originOf(url: string): string {
    let o = this.origins.get(url);
    if (o === undefined) {
      o = new URL(url).origin;
      this.origins.set(url, o);
    }
    return o;
  }
}

/** The peer's answer to an operation it does not serve (./ops.ts). */
function isUnknownOp(err: unknown, op: string): boolean {
  if (!(err instanceof AppError) || err.code !== 'NOT_FOUND') return false;
  const d = err.details;
  return typeof d === 'object' && d !== null && (d as { unknownOp?: unknown }).unknownOp === op;
}

function dataOf(r: { data: Buffer | null }): Buffer {
  return r.data ?? Buffer.alloc(0);
}
