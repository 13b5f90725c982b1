/**
 * Prepares ahead on a worker (docs/guides/chains.md): the master (or an ingress coordinator)
 * sends `prepare` messages at an invocation's start; each is scheduled for `atMs` after that
 * start, and then the function's pool starts one warm sandbox, released after `ttlMs` if no run
 * took it; the worker's start gate orders it by when its node is predicted to start (`needMs`). What prepared sandboxes held (used, and unused memory-seconds) goes back to the
 * master every `reportMs`, for its budget controller.
 *
 * Invariants: a prepare never delays or fails a run (errors are logged, never thrown to the
 * sender); a prepare for a function not deployed here is dropped; timers do not keep the
 * process alive and `close` cancels what has not fired.
 */
import type { PrepareMessage } from '../../shared/chains/start.js';
import type { HttpClient } from '../../shared/http-client.js';
import type { Logger } from '../../shared/logger.js';
import type { PreparedReport } from './pool.js';
import type { Sandbox } from './types.js';

export { PrepareBatch, PrepareMessage } from '../../shared/chains/start.js';

export interface PrepareOptions {
  sandbox: Pick<Sandbox, 'prepareAhead' | 'takePreparedReport'>;
  logger: Logger;
  /** Where reports go; undefined: none known yet (kept for the next period). */
  master?: () => string | undefined;
  http?: HttpClient;
  /** Report period, ms. Default 1000. */
  reportMs?: number;
  now?: () => number;
}

export class PrepareScheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly reportTimer: NodeJS.Timeout | undefined;
  private pending: Record<string, { wastedMbS: number; usedMbS: number }> = {};
  private closed = false;
  private readonly now: () => number;
  /** Prepares scheduled and started (for tests and /metrics). */
  readonly counts = { scheduled: 0, started: 0, skipped: 0 };

  constructor(private readonly o: PrepareOptions) {
    this.now = o.now ?? Date.now;
    if (o.master && o.http) {
      this.reportTimer = setInterval(() => void this.report(), o.reportMs ?? 1_000);
      this.reportTimer.unref();
    }
  }

  schedule(prepares: readonly PrepareMessage[]): void {
    if (this.closed) return;
    const now = this.now();
    for (const p of prepares) {
      const from = p.startedAt ?? now;
      const delayMs = Math.max(0, from + p.atMs - now);
      this.counts.scheduled++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.fire(p, from + Math.max(p.atMs, p.needMs ?? p.atMs));
      }, delayMs);
      timer.unref();
      this.timers.add(timer);
    }
  }

  /** `needBy`: epoch ms the node is predicted to start (its place among the worker's starts). */
  private async fire(p: PrepareMessage, needBy: number): Promise<void> {
    const prepare = this.o.sandbox.prepareAhead?.bind(this.o.sandbox);
    if (this.closed || !prepare) return;
    const key = `${p.workflow}@${p.version}/${p.function}`;
    const want = p.count ?? 1;
    // All at once: each starts one unless `want` are idle or starting already.
    await Promise.all(
      Array.from({ length: want }, async () => {
        try {
          if (await prepare(key, p.ttlMs, want, needBy)) this.counts.started++;
          else this.counts.skipped++;
        } catch (err) {
          this.counts.skipped++;
          this.o.logger.debug({ err, key, node: p.node }, 'prepare ahead failed');
        }
      }),
    );
  }

  /** Prepared memory-seconds per workflow since the last call (also what `report` sends). */
  take(): Record<string, { wastedMbS: number; usedMbS: number }> {
    const add = this.o.sandbox.takePreparedReport?.() ?? {};
    for (const [key, r] of Object.entries(add)) {
      const workflow = key.slice(0, key.lastIndexOf('@'));
      const acc = (this.pending[workflow] ??= { wastedMbS: 0, usedMbS: 0 });
      acc.wastedMbS += r.wastedMbS;
      acc.usedMbS += r.usedMbS;
    }
    const out = this.pending;
    this.pending = {};
    return out;
  }

  private async report(): Promise<void> {
    const url = this.o.master?.();
    if (url === undefined || !this.o.http) return;
    const taken = this.take();
    const reports = Object.entries(taken).map(([workflow, r]) => ({ workflow, ...r }));
    if (reports.length === 0) return;
    try {
      await this.o.http.json(`${url}/v1/internal/prepares/feedback`, 'POST', { reports }, 5_000);
    } catch (err) {
      // Kept for the next period rather than lost.
      for (const r of reports) {
        const acc = (this.pending[r.workflow] ??= { wastedMbS: 0, usedMbS: 0 });
        acc.wastedMbS += r.wastedMbS;
        acc.usedMbS += r.usedMbS;
      }
      this.o.logger.debug({ err }, 'prepare feedback not sent');
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (this.reportTimer) clearInterval(this.reportTimer);
  }
}

export type { PreparedReport };
