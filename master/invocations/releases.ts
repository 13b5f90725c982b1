/**
 * Telling workers to free an ended invocation's state and objects, and dropping its journal.
 * Releases for one worker linger `RELEASE_LINGER_MS` and go in one request (one in flight per
 * worker): on a busy cluster that is one message per worker every few invocations instead of one
 * per invocation, sent while the next invocations run rather than between them.
 */
import { AppError } from '../../shared/errors.js';
import type { PeerClient } from '../../shared/channel/peers.js';
import type { Journal } from '../../shared/journal.js';
import type { Logger } from '../../shared/logger.js';
import type { InvocationId } from '../../shared/ids.js';

/** How long releases for one worker wait to be batched with later ones. */
const RELEASE_LINGER_MS = 20;
/** Most invocation ids in one release request. */
const RELEASE_BATCH = 1_000;

export class ReleaseBatcher {
  private readonly releases = new Map<string, InvocationId[]>();
  private readonly releasing = new Set<string>();
  /** Ids whose release failed once and was queued again (a second failure drops them). */
  private readonly retried = new Set<string>();
  private journalIds: InvocationId[] = [];
  private journalTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly peers: PeerClient,
    private readonly logger: Logger,
    private readonly journal?: Journal,
  ) {}

  /** Frees invocation `id` on every worker URL given, and its journal. */
  release(id: InvocationId, urls: Iterable<string>): void {
    for (const url of new Set(urls)) {
      const list = this.releases.get(url);
      if (list !== undefined) {
        list.push(id);
        continue;
      }
      this.releases.set(url, [id]);
      if (!this.releasing.has(url)) setTimeout(() => this.send(url), RELEASE_LINGER_MS).unref();
    }
    if (this.journal) {
      this.journalIds.push(id);
      this.journalTimer ??= setTimeout(() => this.dropJournals(), RELEASE_LINGER_MS);
      this.journalTimer.unref();
    }
  }

  private dropJournals(): void {
    this.journalTimer = undefined;
    const ids = this.journalIds;
    this.journalIds = [];
    // A journal that outlives this (Redis down) expires by its TTL.
    this.journal
      ?.drop(ids)
      .catch((err: unknown) =>
        this.logger.warn({ err, invocations: ids.length }, 'journal drop failed'),
      );
  }

  private send(url: string): void {
    const queued = this.releases.get(url);
    if (!queued || queued.length === 0 || this.releasing.has(url)) return;
    // At most RELEASE_BATCH ids per request (workers take 10,000); the rest go next.
    const ids = queued.splice(0, RELEASE_BATCH);
    if (queued.length === 0) this.releases.delete(url);
    this.releasing.add(url);
    this.peers
      .release(url, ids, 10_000)
      .then(() => {
        if (this.retried.size > 0) for (const id of ids) this.retried.delete(id);
      })
      .catch((err: unknown) => {
        // A worker that is gone frees nothing anyway; one that was slow gets them once more
        // (release is idempotent), and its own sweep drops whatever is still left after that.
        if (AppError.from(err).retryable && !this.retried.has(ids[0]!)) {
          for (const id of ids) this.retried.add(id);
          this.releases.set(url, [...ids, ...(this.releases.get(url) ?? [])]);
        } else {
          for (const id of ids) this.retried.delete(id);
          this.logger.warn({ err, worker: url, invocations: ids.length }, 'release failed');
        }
      })
      .finally(() => {
        this.releasing.delete(url);
        this.send(url);
      });
  }
}
