/**
 * Placing an invocation from the placement view (docs/design.md §3, §4): the pure decisions
 * that the master makes over its registry and a worker's ingress makes over the view the master
 * pushes it — which durability an invocation runs with, which workers may take its groups, and
 * where each group goes. No I/O.
 *
 * The view's load is the master's last count; a worker adds what it has itself placed since
 * (`extraLoad`), so two invocations taken between two views do not pile onto one worker.
 */
import type { WorkflowDag } from './dag/types.js';
import { AppError } from './errors.js';
import { groupMemoryMb, groupsOf, groupUses, place, type PlacementStrategy } from './placement.js';
import type { Durability, Placement, PlacementView, ViewWorker } from './schema/wire.js';

export interface DurabilityInput {
  workflow: string;
  /** The workflow's own `durability:`, else the cluster's default. */
  asked: Durability | 'auto';
  /** The coordinator can write the journal. */
  journal: boolean;
  /** Some ready worker can write the journal. */
  capable: boolean;
}

/** `auto` is `checkpoint` with a journal and a capable worker, else `none`; 409 when unmet. */
export function resolveDurability(i: DurabilityInput): Durability {
  if (i.asked === 'auto') return i.journal && i.capable ? 'checkpoint' : 'none';
  if (i.asked !== 'none' && !i.journal)
    throw new AppError(
      'CONFLICT',
      `workflow ${i.workflow} asks for durability ${i.asked}, which needs the journal: start the master and the workers with --redis-url redis://HOST:6379 (docs/durability.md)`,
    );
  return i.asked;
}

/** The workers of the view that may take groups of `name@version` with `durability`. */
export function eligibleWorkers(
  view: PlacementView,
  name: string,
  version: number,
  durability: Durability,
): ViewWorker[] {
  const key = `${name}@${version}`;
  return view.workers.filter(
    (w) => w.status === 'ready' && w.holds.includes(key) && (durability === 'none' || w.journal),
  );
}

export interface ViewPlacementInput {
  strategy: PlacementStrategy;
  workers: readonly ViewWorker[];
  dag: WorkflowDag;
  groupOf: Readonly<Record<string, number>>;
  /** Invocation id (the `hash` strategy's key). */
  key: string;
  cursor: number;
  /** Where each group ran last on this coordinator (warm affinity). */
  affinity?: readonly (string | undefined)[];
  /** Groups this coordinator placed on each worker since the view was made. */
  extraLoad?: ReadonlyMap<string, number>;
  /** Where reports go (the ingress worker's URL); absent: the master. */
  coordinator?: string;
}

export function placeOnView(i: ViewPlacementInput): Placement {
  const groups = groupsOf(i.groupOf);
  const ids = place({
    strategy: i.strategy,
    workers: i.workers.map((w) => ({
      id: w.id,
      cpu: w.capacity.cpu,
      memoryMb: w.capacity.memoryMb,
      load: w.load + (i.extraLoad?.get(w.id) ?? 0),
      ...(w.hot === true ? { hot: true } : {}),
      ...(w.labels === undefined ? {} : { labels: w.labels }),
    })),
    groups: groups.length,
    weights: groups.map((g) => g.length),
    memoryMb: groupMemoryMb(i.dag, groups),
    uses: groupUses(i.dag, groups),
    key: i.key,
    cursor: i.cursor,
    ...(i.affinity ? { affinity: i.affinity } : {}),
  });
  const urls: Record<string, string> = {};
  for (const w of i.workers) if (ids.includes(w.id)) urls[w.id] = w.url;
  return { groups: ids, workers: urls, ...(i.coordinator ? { coordinator: i.coordinator } : {}) };
}
