/**
 * The worker's side of the journal (docs/durability.md): which node outcomes must be committed
 * before work leaves this worker, and committing them — retried while the store is unavailable
 * (a Redis restart), up to the invocation's deadline.
 *
 * - `none`: nothing is committed.
 * - `checkpoint`: a node is committed when an edge of it leaves this worker (a child placed
 *   elsewhere, or the master in MasterSP mode) or when it is a sink: one commit per group
 *   boundary, and a dead worker's groups are re-run from those commits.
 * - `strict`: every node is committed (and its output stored durably by the caller).
 */
import { AppError } from '../../shared/errors.js';
import type { Journal, NodeCommit } from '../../shared/journal.js';
import { journalTtlMs } from '../../shared/journal.js';
import { backoffMs, delay } from '../../shared/retry.js';
import type { Durability, Placement } from '../../shared/schema/wire.js';
import type { IndexedNode } from './deployments.js';
import type { InvocationId } from '../../shared/ids.js';

/** Does this node's outcome cross a boundary that must be journaled first? */
export function mustCommit(
  durability: Durability | undefined,
  node: IndexedNode,
  ownerOf: (nodeId: string) => string | undefined,
  self: string,
  viaMaster: boolean,
): boolean {
  switch (durability) {
    case undefined:
    case 'none':
      return false;
    case 'strict':
      return true;
    case 'checkpoint':
      if (node.isSink || viaMaster) return true;
      return node.children.some((e) => ownerOf(e.to) !== self);
  }
}

export interface CommitOutcome {
  /** The record that holds: ours, or an earlier run's that won. */
  winner: NodeCommit;
  /** A newer placement the master made, to route by from now on. */
  placement?: Placement;
}

/**
 * Commits one node, retrying retryable failures with backoff until `deadline`; an abort of
 * `signal` (the invocation ended) stops the retries with that reason.
 */
export async function commitNode(
  journal: Journal,
  invocationId: InvocationId,
  commit: NodeCommit,
  deadline: number,
  signal: AbortSignal,
  now: () => number = Date.now,
): Promise<CommitOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      const r = await journal.commit(invocationId, [commit], journalTtlMs(deadline, now()));
      return { winner: r.winners[0] ?? commit, ...(r.placement ? { placement: r.placement } : {}) };
    } catch (err) {
      const e = AppError.from(err, 'STORE_UNAVAILABLE');
      const wait = backoffMs(attempt, { baseMs: 20, maxMs: 1_000 });
      if (!e.retryable || signal.aborted || now() + wait >= deadline) {
        throw new AppError(
          e.retryable ? 'STORE_UNAVAILABLE' : e.code,
          `committing node ${commit.node} of invocation ${invocationId} failed after ${attempt} attempt(s): ${e.message}`,
          { cause: e, retryable: false },
        );
      }
      await delay(wait, signal).catch(() => undefined);
    }
  }
}
