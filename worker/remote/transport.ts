/**
 * The worker's side of the data path between processes: triggers to peers (through the shared
 * TriggerSender), reports to the master and FaaStore's peer reads, each over the peer's channel
 * or HTTP (shared/channel/peers.ts; docs/design.md §4). Reports are batched per tick too, retried while the master is unreachable (up to
 * `reportRetryMs`), then dropped with a warning (the master reconciles durable invocations with
 * their journal, and times the others out rather than hang).
 */
import { AppError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { Report, Trigger } from '../../shared/schema/wire.js';
import type { PeerFetcher } from '../../faastore/index.js';
import type { Transport } from '../engine/ports.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import { TriggerSender, type TriggerSenderOptions } from '../../shared/trigger-sender.js';

/** Reports held for one master while it cannot be reached. */
const MAX_QUEUED_REPORTS = 100_000;

export interface ChannelTransportOptions extends TriggerSenderOptions {
  /**
   * How long one batch of reports is retried while the master cannot be reached (a restart),
   * ms. Default 30 s; a durable invocation's results are in its journal beyond that.
   */
  reportRetryMs?: number;
}

/** Report requests to one master at once. */
const REPORT_BATCHES_IN_FLIGHT = 4;

export class ChannelTransport implements Transport, PeerFetcher {
  private readonly triggers: TriggerSender;
  private readonly reports = new Map<string, Report[]>();
  /** Report batches in flight per master URL. */
  private readonly reportsInFlight = new Map<string, number>();
  private flushScheduled = false;
  private warnedOverflow = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly peers: PeerClient,
    private readonly logger: Logger,
    private readonly options: ChannelTransportOptions = {},
  ) {
    this.triggers = new TriggerSender(peers, options);
  }

  sendTriggers(
    url: string,
    triggers: Trigger[],
    deadline: number,
    signal?: AbortSignal,
  ): Promise<void> {
    return this.triggers.send(url, triggers, deadline, signal);
  }

  report(masterUrl: string, report: Report): void {
    const list = this.reports.get(masterUrl) ?? [];
    // A master that stays unreachable must not grow this queue without bound: keep the newest.
    if (list.length >= MAX_QUEUED_REPORTS) {
      list.splice(0, list.length - MAX_QUEUED_REPORTS + 1);
      if (!this.warnedOverflow)
        this.logger.warn({ master: masterUrl }, 'report queue full, dropping oldest');
      this.warnedOverflow = true;
    }
    list.push(report);
    this.reports.set(masterUrl, list);
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      for (const url of this.reports.keys()) this.pump(url);
    });
  }

  /**
   * Up to `REPORT_BATCHES_IN_FLIGHT` batches per master at once, each taking everything queued:
   * under load a sink report does not wait a whole round trip behind the batch before it. An
   * invocation's steps travel in the same batch as its sink or failure report (the engine queues
   * them together), and the master accepts reports in any order.
   */
  private pump(url: string): void {
    const inFlight = this.reportsInFlight.get(url) ?? 0;
    if (inFlight >= REPORT_BATCHES_IN_FLIGHT) return;
    const list = this.reports.get(url);
    if (!list || list.length === 0) return;
    this.reports.delete(url);
    this.reportsInFlight.set(url, inFlight + 1);
    void this.sendReports(url, list).finally(() => {
      const left = (this.reportsInFlight.get(url) ?? 1) - 1;
      if (left === 0) this.reportsInFlight.delete(url);
      else this.reportsInFlight.set(url, left);
      this.pump(url);
    });
  }

  private async sendReports(url: string, reports: Report[]): Promise<void> {
    const until = Date.now() + (this.options.reportRetryMs ?? 30_000);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.peers.reports(url, reports, this.options.attemptTimeoutMs ?? 5_000);
        return;
      } catch (err) {
        const e = AppError.from(err);
        if (!e.retryable || Date.now() >= until || this.abort.signal.aborted) {
          this.logger.warn({ err: e, master: url, reports: reports.length }, 'reports dropped');
          return;
        }
        await delay(backoffMs(attempt, { baseMs: 50, maxMs: 2_000 }), this.abort.signal).catch(
          () => undefined,
        );
      }
    }
  }

  /** FaaStore's peer tier: reads an object held by another worker. */
  fetch(url: string, key: string, timeoutMs: number): Promise<Buffer> {
    return this.peers.getObject(url, key, timeoutMs);
  }

  /** The invocation ended here: the channels forget its context. */
  forget(invocationId: string): void {
    this.peers.forget(invocationId);
  }

  close(): void {
    this.abort.abort();
    this.triggers.close();
  }
}
