/**
 * The invocation journal (docs/durability.md): what a worker commits before work leaves it, and
 * what the master reads to recover an invocation whose worker died or whose reports were lost.
 *
 * Invariants every implementation keeps:
 * - a node's commit is written once (conditional write): the first commit wins, and a later one
 *   for the same node learns the winner instead, so every consumer sees one output per node;
 * - a commit of several nodes and the read of the latest placement are one atomic step, so a
 *   worker either commits before the master's re-placement (and the master's recovery sees the
 *   commit) or after it (and the worker routes by the new placement) — never neither;
 * - the master's re-placement and its read of every commit are one atomic step too.
 *
 * Arrivals are not journaled separately: the edge u → v has arrived once u is committed (with
 * u's output, or a skip when u was skipped or took another branch), so one commit records every
 * child edge of a node at once.
 */
import type { WireError } from './errors.js';
import type { Placement, StoredRef } from './schema/wire.js';
import type { InvocationId } from './ids.js';

/** A node's committed outcome. Exactly one of `ref` (its output) or `skip`. */
export interface NodeCommit {
  node: string;
  ref?: StoredRef;
  skip?: true;
  /** The case a switch node took (its children on other cases received skips). */
  branch?: number;
  /** The worker that committed it. */
  worker: string;
}

/** The invocation's first unrecoverable failure. */
export interface FailureCommit {
  node: string;
  error: WireError;
  worker: string;
}

export interface JournalState {
  /** The master's latest re-placement of the invocation, when it made one. */
  placement?: Placement;
  nodes: Map<string, NodeCommit>;
  failure?: FailureCommit;
}

export interface CommitResult {
  /** The master's latest re-placement, when there is one (a worker adopts it if newer). */
  placement?: Placement;
  /** Per commit asked for, in order: the record that holds now (ours, or the earlier winner). */
  winners: NodeCommit[];
}

export interface Journal {
  /** Commits each record unless its node has one already: one round trip for all of them. */
  commit(
    invocationId: InvocationId,
    commits: readonly NodeCommit[],
    ttlMs: number,
  ): Promise<CommitResult>;
  /** Records the invocation's failure unless one is recorded already. */
  commitFailure(invocationId: InvocationId, failure: FailureCommit, ttlMs: number): Promise<void>;
  read(invocationId: InvocationId): Promise<JournalState>;
  /**
   * Stores `placement` unless the journal holds one with an equal or higher epoch, and returns
   * the state after it, atomically.
   */
  replace(invocationId: InvocationId, placement: Placement, ttlMs: number): Promise<JournalState>;
  /** Removes the journals of ended invocations. */
  drop(invocationIds: readonly InvocationId[]): Promise<void>;
  close(): Promise<void>;
}

/** How long a journal outlives its invocation's deadline, in case no release ever comes. */
export const JOURNAL_GRACE_MS = 10 * 60_000;

/** The TTL of a journal whose invocation has `deadline` (epoch ms). */
export function journalTtlMs(deadline: number, now: number = Date.now()): number {
  return Math.max(1_000, deadline - now) + JOURNAL_GRACE_MS;
}

/** Parses one journal field (JSON written by `encodeCommit`); null when it is not a commit. */
export function decodeCommit(text: string): NodeCommit | null {
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const c = v as NodeCommit;
    return typeof c.node === 'string' && typeof c.worker === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function encodeCommit(c: NodeCommit): string {
  return JSON.stringify(c);
}

/** The journal of an invocation as plain fields, in the layout every implementation stores. */
export function stateFromFields(fields: Record<string, string>): JournalState {
  const nodes = new Map<string, NodeCommit>();
  let placement: Placement | undefined;
  let failure: FailureCommit | undefined;
  for (const [field, value] of Object.entries(fields)) {
    if (field.startsWith('n:')) {
      const c = decodeCommit(value);
      if (c) nodes.set(c.node, c);
    } else if (field === 'p') {
      placement = JSON.parse(value) as Placement;
    } else if (field === 'f') {
      failure = JSON.parse(value) as FailureCommit;
    }
  }
  return {
    nodes,
    ...(placement ? { placement } : {}),
    ...(failure ? { failure } : {}),
  };
}
