/**
 * At-least-once delivery of triggers (docs/design.md §4), used by workers (to peers) and by the master
 * (starts, and relaying in MasterSP mode). Triggers for one URL created in the same tick travel
 * in one batch (over the peer's channel, or one POST /v1/trigger); a batch is retried with backoff while the error is retryable and the
 * deadline allows. Receivers are idempotent, so a redelivered batch changes nothing.
 */
import { AppError } from './errors.js';
import type { PeerClient } from './channel/peers.js';
import { backoffMs, delay } from './retry.js';
import type { Trigger } from './schema/wire.js';

interface Pending {
  triggers: Trigger[];
  deadline: number;
  /** Retries stop when every sender of the batch has given up (e.g. its invocation ended). */
  signals: AbortSignal[];
  waiters: { resolve: () => void; reject: (err: unknown) => void }[];
}

export interface TriggerSenderOptions {
  /** Per-attempt limit of one request. Default 5 s. */
  attemptTimeoutMs?: number;
  /** Longest a trigger is retried, whatever the invocation deadline. Default 30 s. */
  maxTriggerMs?: number;
}

export class TriggerSender {
  private readonly pending = new Map<string, Pending>();
  private scheduled = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly peers: PeerClient,
    private readonly options: TriggerSenderOptions = {},
  ) {}

  /** Resolves once the receiver recorded them; rejects with WORKER_UNREACHABLE or its 4xx error. */
  send(
    url: string,
    triggers: readonly Trigger[],
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let p = this.pending.get(url);
      if (!p) {
        p = { triggers: [], deadline, waiters: [], signals: [] };
        this.pending.set(url, p);
      }
      if (signal) p.signals.push(signal);
      p.triggers.push(...triggers);
      p.deadline = Math.max(p.deadline, deadline);
      p.waiters.push({ resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batches = [...this.pending];
    this.pending.clear();
    for (const [url, p] of batches) {
      this.deliver(url, p).then(
        () => p.waiters.forEach((w) => w.resolve()),
        (err: unknown) => p.waiters.forEach((w) => w.reject(err)),
      );
    }
  }

  private async deliver(url: string, p: Pending): Promise<void> {
    const limit = Math.min(p.deadline, Date.now() + (this.options.maxTriggerMs ?? 30_000));
    for (let attempt = 1; ; attempt++) {
      let err: AppError;
      try {
        await this.peers.triggers(url, p.triggers, this.options.attemptTimeoutMs ?? 5_000);
        return;
      } catch (e) {
        err = AppError.from(e, 'WORKER_UNREACHABLE');
      }
      const wait = backoffMs(attempt, { baseMs: 20, maxMs: 2_000 });
      const abandoned =
        p.signals.length > 0 &&
        p.signals.length === p.waiters.length &&
        p.signals.every((s) => s.aborted);
      if (!err.retryable || Date.now() + wait >= limit || this.abort.signal.aborted || abandoned) {
        const nodes = p.triggers.map((t) => t.node).join(', ');
        throw new AppError(
          err.retryable ? 'WORKER_UNREACHABLE' : err.code,
          `triggering ${nodes} on ${url} failed after ${attempt} attempt(s): ${err.message}`,
          {
            cause: err,
            details: err.details,
          },
        );
      }
      await delay(wait, this.abort.signal).catch(() => undefined);
    }
  }

  close(): void {
    this.abort.abort();
  }
}
