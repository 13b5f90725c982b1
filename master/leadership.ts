/**
 * Leadership of a master whose store is Redis (docs/durability.md, "Two masters"): it waits as a
 * standby until it holds the lease, then keeps renewing it; losing it (another master holds the
 * key) ends this master, so two never act at once.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaderRecord, RedisLease } from '../shared/lease.js';
import type { Logger } from '../shared/logger.js';

export class Leadership {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    private readonly lease: RedisLease,
    private readonly me: LeaderRecord,
    private readonly ttlMs: number,
    private readonly logger: Logger,
  ) {}

  /** A master's lease id: its address when it has a fixed one (a restart takes its lease back). */
  static idFor(c: { host: string; port: number; advertiseUrl?: string | undefined }): string {
    if (c.advertiseUrl !== undefined) return c.advertiseUrl;
    return c.port === 0 ? `${hostname()}:${randomUUID()}` : `${hostname()}:${c.host}:${c.port}`;
  }

  /** Resolves once this master holds the lease (at once when it is free or already its own). */
  static async acquire(
    lease: RedisLease,
    id: string,
    ttlMs: number,
    logger: Logger,
  ): Promise<Leadership> {
    const me = { id, url: '' };
    let waiting = false;
    for (;;) {
      try {
        if (await lease.claim(me, ttlMs)) break;
        if (!waiting) {
          const holder = await lease.leader();
          logger.info(
            { leader: holder?.url ?? holder?.id ?? 'unknown' },
            'standby: waiting for the lease',
          );
          waiting = true;
        }
      } catch (err) {
        logger.warn({ err }, 'lease unavailable; retrying');
      }
      await new Promise((r) => setTimeout(r, Math.max(100, Math.floor(ttlMs / 5))));
    }
    if (waiting) logger.info('standby: took the lease over');
    return new Leadership(lease, me, ttlMs, logger);
  }

  /** Publishes the URL workers follow, and renews every third of the lease until `close`. */
  async serve(url: string, onLost: () => void): Promise<void> {
    this.me.url = url;
    await this.lease.claim(this.me, this.ttlMs);
    const renew = (): void => {
      this.lease.claim(this.me, this.ttlMs).then(
        (held) => {
          if (this.stopped) return;
          if (!held) {
            this.logger.fatal('lost the master lease to another master; stopping');
            this.stopped = true;
            onLost();
            return;
          }
          this.timer = setTimeout(renew, Math.floor(this.ttlMs / 3));
        },
        (err: unknown) => {
          if (this.stopped) return;
          this.logger.warn({ err }, 'lease renewal failed; retrying');
          this.timer = setTimeout(renew, Math.floor(this.ttlMs / 10));
        },
      );
    };
    this.timer = setTimeout(renew, Math.floor(this.ttlMs / 3));
  }

  /** Stops renewing and hands the lease over at once (a clean stop). */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.lease.release(this.me).catch(() => undefined);
    await this.lease.close();
  }
}
