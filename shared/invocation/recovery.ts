/**
 * Recovery of a running invocation whose worker died or drained (docs/durability.md). Pure:
 * from the DAG, the partition, the placement and the journal it computes the new placement and
 * the triggers that resume the invocation. No I/O.
 *
 * Why the triggers below are enough: every edge that leaves a group is committed (with its
 * parent) before it leaves its worker, so after the master's atomic re-placement each edge u → v
 * is in one of three states — u committed (the master sends the arrival, to v's owner under the
 * new placement: idempotent at the receiver if it had it), u not committed but on a live worker
 * (that worker commits u later and learns the new placement from its commit), or u not committed
 * on a re-placed group (u itself runs again once its own arrivals come, by the same argument,
 * down to the sources, which the master starts again). Committed nodes are never triggered, so
 * committed outputs are reused, not recomputed.
 */
import type { WorkflowDag } from '../dag/types.js';
import type { JournalState, NodeCommit } from '../journal.js';
import type { Placement, StoredRef } from '../schema/wire.js';

export interface RecoveryTrigger {
  node: string;
  /** The parent whose edge arrives, or null to start a source. */
  from: string | null;
  ref?: StoredRef;
  skip?: true;
}

export interface ReplaceInput {
  placement: Placement;
  /** Workers that are gone. */
  gone: ReadonlySet<string>;
  /** The worker each re-placed group goes to (called once per group that was on a gone worker). */
  assign: (group: number) => { id: string; url: string } | undefined;
}

/**
 * The placement with every group of a gone worker moved; null when some group has nowhere to
 * go. The epoch is one higher, so workers adopt it over the one they hold.
 */
export function replaceGroups(i: ReplaceInput): { placement: Placement; moved: number[] } | null {
  const groups = [...i.placement.groups];
  const workers: Record<string, string> = {};
  const moved: number[] = [];
  for (let g = 0; g < groups.length; g++) {
    if (!i.gone.has(groups[g]!)) continue;
    const to = i.assign(g);
    if (!to) return null;
    groups[g] = to.id;
    workers[to.id] = to.url;
    moved.push(g);
  }
  for (const id of new Set(groups)) {
    if (workers[id] === undefined) workers[id] = i.placement.workers[id]!;
  }
  return {
    placement: { groups, workers, epoch: (i.placement.epoch ?? 0) + 1 },
    moved,
  };
}

/** What arrives over the edge from a committed parent: its output, or a skip. */
export function arrivalOf(
  parent: NodeCommit,
  branch: number | undefined,
): Pick<RecoveryTrigger, 'ref' | 'skip'> {
  if (parent.skip === true || parent.ref === undefined) return { skip: true };
  if (branch !== undefined && branch !== parent.branch) return { skip: true };
  return { ref: parent.ref };
}

/**
 * The triggers that resume an invocation after the groups in `moved` changed worker: arrivals
 * over every edge touching a moved group whose parent is committed and whose child is not, and
 * a start for every source of a moved group that is not committed.
 */
export function recoveryTriggers(
  dag: Pick<WorkflowDag, 'edges' | 'sources'>,
  groupOf: Readonly<Record<string, number>>,
  moved: readonly number[],
  journal: Pick<JournalState, 'nodes'>,
  input: StoredRef,
): RecoveryTrigger[] {
  const touched = new Set(moved);
  const inMoved = (node: string): boolean => touched.has(groupOf[node] ?? -1);
  const out: RecoveryTrigger[] = [];
  for (const s of dag.sources) {
    if (inMoved(s) && !journal.nodes.has(s)) out.push({ node: s, from: null, ref: input });
  }
  for (const e of dag.edges) {
    if (!inMoved(e.from) && !inMoved(e.to)) continue;
    if (journal.nodes.has(e.to)) continue;
    const parent = journal.nodes.get(e.from);
    if (!parent) continue;
    out.push({ node: e.to, from: e.from, ...arrivalOf(parent, e.branch) });
  }
  return out;
}
