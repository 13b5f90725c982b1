/**
 * Records of the invocations this worker coordinated, to the master in batches, off every
 * invocation's path: they linger `LINGER_MS` to share a request, one request is in flight at a
 * time, and a batch the master does not take is tried again a few times and then dropped with a
 * warning (the invocation's caller had its answer; only the master's list misses it).
 */
import { AppError } from '../../shared/errors.js';
import type { HttpClient } from '../../shared/http-client.js';
import type { InvocationDoc } from '../../shared/invocation/doc.js';
import type { Logger } from '../../shared/logger.js';
import { backoffMs, delay } from '../../shared/retry.js';

const LINGER_MS = 50;
const MAX_BATCH = 1_000;
const ATTEMPTS = 5;

export class RecordShipper {
  private queue: InvocationDoc[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sending = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly http: HttpClient,
    /** The master to send to now (undefined: none known yet, keep them). */
    private readonly master: () => string | undefined,
    private readonly logger: Logger,
  ) {}

  ship(doc: InvocationDoc): void {
    this.queue.push(doc);
    this.timer ??= setTimeout(() => void this.flush(), LINGER_MS);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    if (this.sending || this.queue.length === 0) return;
    const url = this.master();
    if (url === undefined) {
      this.timer = setTimeout(() => void this.flush(), 500);
      this.timer.unref();
      return;
    }
    this.sending = true;
    const batch = this.queue.splice(0, MAX_BATCH);
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          await this.http.json(`${url}/v1/internal/records`, 'POST', { records: batch }, 10_000);
          break;
        } catch (err) {
          const e = AppError.from(err);
          if (!e.retryable || attempt >= ATTEMPTS || this.abort.signal.aborted) {
            this.logger.warn({ err: e, records: batch.length }, 'invocation records dropped');
            break;
          }
          await delay(backoffMs(attempt, { baseMs: 100, maxMs: 2_000 }), this.abort.signal).catch(
            () => undefined,
          );
        }
      }
    } finally {
      this.sending = false;
      if (this.queue.length > 0) void this.flush();
    }
  }

  /** Sends what is queued (best effort, bounded by `timeoutMs`), then stops. */
  async close(timeoutMs = 2_000): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    const until = Date.now() + timeoutMs;
    while ((this.queue.length > 0 || this.sending) && Date.now() < until) {
      if (!this.sending) void this.flush();
      await new Promise((r) => setTimeout(r, 20));
    }
    this.abort.abort();
  }
}
