/**
 * The worker's side of membership: register with the master (retrying until it answers or the
 * worker stops) and send heartbeats with capacity and load; a 404 on heartbeat means the master
 * forgot us (restart) and triggers a new registration.
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { Registration, WorkerLoad } from '../../shared/schema/wire.js';
import type { HttpClient } from '../../shared/http-client.js';
import type { PeerClient } from '../../shared/channel/peers.js';

export class MasterClient {
  private readonly abort = new AbortController();
  private readonly http: HttpClient;

  constructor(
    /** Heartbeats go over the master's channel; registration and leaving over HTTP. */
    private readonly peers: PeerClient,
    private masterUrl: string,
    private readonly registration: Registration,
    private readonly logger: Logger,
    /** Where the leading master is now (the lease in Redis), for following a failover. */
    private readonly findMaster?: () => Promise<string | undefined>,
  ) {
    this.http = peers.http;
  }

  /** The master this worker follows since a failover; undefined while it has not moved. */
  followed: string | undefined;

  /** Switches to the leading master when it is not the one we talk to; true when it did. */
  private async follow(): Promise<boolean> {
    if (!this.findMaster) return false;
    const leader = await this.findMaster().catch(() => undefined);
    if (!leader || leader === this.masterUrl) return false;
    this.logger.info({ from: this.masterUrl, to: leader }, 'following the leading master');
    this.masterUrl = leader;
    this.followed = leader;
    return true;
  }

  /** Registers, retrying with backoff until the master answers or `close()`. */
  async register(): Promise<void> {
    for (let attempt = 1; !this.abort.signal.aborted; attempt++) {
      try {
        await this.http.json(`${this.masterUrl}/v1/workers`, 'POST', this.registration, 30_000);
        this.logger.info({ master: this.masterUrl }, 'registered with master');
        return;
      } catch (err) {
        const e = AppError.from(err);
        if (!e.retryable) throw e;
        if (await this.follow()) continue;
        if (attempt === 1 || attempt % 20 === 0)
          this.logger.warn(
            { err: e, master: this.masterUrl },
            'master not reachable yet, retrying',
          );
        await delay(backoffMs(attempt, { baseMs: 100, maxMs: 2000 }), this.abort.signal).catch(
          () => undefined,
        );
      }
    }
  }

  /** Tells the master this worker is stopping: no new invocations come here. Best effort. */
  async drain(): Promise<boolean> {
    try {
      await this.http.json(`${this.base()}/drain`, 'POST', {}, 2_000);
      return true;
    } catch (err) {
      this.logger.warn({ err: AppError.from(err) }, 'drain not acknowledged by the master');
      return false;
    }
  }

  /** Leaves the cluster: the master re-places (or fails) what is still running here. */
  async deregister(): Promise<void> {
    try {
      await this.http.json(`${this.base()}`, 'DELETE', undefined, 2_000);
    } catch (err) {
      this.logger.warn(
        { err: AppError.from(err) },
        'deregistration not acknowledged by the master',
      );
    }
  }

  private base(): string {
    return `${this.masterUrl}/v1/workers/${encodeURIComponent(this.registration.id)}`;
  }

  /** Heartbeats every `everyMs` until `close()`. */
  startHeartbeats(everyMs: number, load: () => WorkerLoad): void {
    const loop = async (): Promise<void> => {
      while (!this.abort.signal.aborted) {
        await delay(everyMs, this.abort.signal).catch(() => undefined);
        if (this.abort.signal.aborted) return;
        try {
          await this.peers.heartbeat(
            this.masterUrl,
            this.registration.id,
            load(),
            Math.max(1000, everyMs * 2),
          );
        } catch (err) {
          const e = AppError.from(err);
          if (e.statusCode === 404) await this.register();
          else if (e.retryable && (await this.follow())) await this.register();
          else this.logger.warn({ err: e }, 'heartbeat failed');
        }
      }
    };
    loop().catch((err: unknown) => this.logger.error({ err }, 'heartbeat loop stopped'));
  }

  close(): void {
    this.abort.abort();
  }
}
