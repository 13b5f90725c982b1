/**
 * The channels a process opened to its peers, one per origin, opened on first use and opened
 * again after a loss, attempts spaced by exponential backoff (while backing off, calls fail
 * fast with a retryable WORKER_UNREACHABLE and the callers' own retries wait). A peer that
 * refuses the upgrade (an older peer, or one with `transport: http`) is used over HTTP, and
 * asked again after `httpRecheckMs`.
 */
import { AppError } from '../errors.js';
import { backoffMs } from '../retry.js';
import type { Channel, ChannelHandlers } from './channel.js';
import { ChannelRefused, dial } from './handshake.js';

export type Route = { kind: 'channel'; channel: Channel } | { kind: 'http' };

export interface ChannelPoolOptions {
  token?: string;
  /** What this side answers on the channels it opened (nothing by default). */
  handlers?: ChannelHandlers;
  /** Handshake limit, ms. Default 5 s. */
  connectTimeoutMs?: number;
  /** How long a peer that refused channels is talked to over HTTP before asking again, ms. Default 60 s. */
  httpRecheckMs?: number;
  /** Backoff between reconnection attempts, ms. Default 20 → 2000. */
  backoff?: { baseMs: number; maxMs: number };
  onWarning?: (what: string, details: Record<string, unknown>) => void;
  now?: () => number;
}

interface PeerState {
  channel?: Channel;
  connecting?: Promise<Route>;
  failures: number;
  retryAt: number;
  httpUntil: number;
}

export class ChannelPool {
  private readonly peers = new Map<string, PeerState>();
  private closed = false;

  constructor(private readonly o: ChannelPoolOptions = {}) {}

  /** The open channels, for per-connection bookkeeping (the context caches). */
  channels(): Channel[] {
    const out: Channel[] = [];
    for (const p of this.peers.values()) if (p.channel?.open) out.push(p.channel);
    return out;
  }

  /** How to reach `origin` now: its channel (opened if needed) or HTTP. */
  route(origin: string): Promise<Route> | Route {
    if (this.closed) throw new AppError('WORKER_UNREACHABLE', 'the channel pool is closed');
    let p = this.peers.get(origin);
    if (!p) {
      p = { failures: 0, retryAt: 0, httpUntil: 0 };
      this.peers.set(origin, p);
    }
    if (p.channel?.open) return { kind: 'channel', channel: p.channel };
    if (p.connecting) return p.connecting;
    const now = (this.o.now ?? Date.now)();
    if (p.httpUntil > now) return { kind: 'http' };
    if (p.retryAt > now)
      throw new AppError(
        'WORKER_UNREACHABLE',
        `channel to ${origin} lost; reconnecting in ${p.retryAt - now} ms`,
      );
    const state = p;
    state.connecting = this.open(origin, state).finally(() => {
      state.connecting = undefined;
    });
    return state.connecting;
  }

  private async open(origin: string, p: PeerState): Promise<Route> {
    try {
      const channel = await dial(origin, {
        ...(this.o.token === undefined ? {} : { token: this.o.token }),
        handlers: this.o.handlers ?? {},
        timeoutMs: this.o.connectTimeoutMs ?? 5_000,
        onProtocolError: (err) =>
          this.o.onWarning?.('channel closed on a broken frame', {
            peer: origin,
            err: err.message,
          }),
      });
      if (this.closed) {
        channel.destroy();
        throw new AppError('WORKER_UNREACHABLE', 'the channel pool is closed');
      }
      p.failures = 0;
      p.retryAt = 0;
      p.channel = channel;
      channel.onClose(() => {
        if (p.channel === channel) p.channel = undefined;
      });
      return { kind: 'channel', channel };
    } catch (err) {
      const now = (this.o.now ?? Date.now)();
      if (err instanceof ChannelRefused) {
        p.httpUntil = now + (this.o.httpRecheckMs ?? 60_000);
        this.o.onWarning?.('peer does not accept channels; using HTTP', {
          peer: origin,
          status: err.status,
        });
        return { kind: 'http' };
      }
      p.failures++;
      p.retryAt = now + backoffMs(p.failures, this.o.backoff ?? { baseMs: 20, maxMs: 2_000 });
      throw AppError.from(err, 'WORKER_UNREACHABLE');
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.peers.values()].flatMap((p) => (p.channel ? [p.channel] : []));
    this.peers.clear();
    await Promise.all(open.map((c) => c.close()));
  }
}
