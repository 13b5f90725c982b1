/**
 * Placement of an invocation's partition groups on workers (docs/design.md §3). Pure: workers and their
 * load in, a worker id per group out.
 * - greedy-jsq (default): a group is a composition; each group goes to the worker with the
 *   shortest queue at that moment (load relative to capacity, counting what this invocation has
 *   already placed) among those with room for its memory next to the invocation's other groups
 *   there, and all its functions follow it. A group stays where it ran last (its sandboxes are
 *   warm there) unless that worker's queue is longer than the shortest by more than
 *   `AFFINITY_SLACK` per core: a cold start costs 70–150 ms, a place in a queue much less.
 * - composition-jsq: the thesis's GreedyJSQ (Fotouhi 2024, Algorithm 2) taken literally: the
 *   whole invocation is the composition; JSQ picks a worker for its first group and every other
 *   group follows it there, so parallel siblings share one worker (and can trade harvested CPU
 *   live). Only workers with room for all the invocation's memory qualify; when none has it,
 *   the groups are placed as by greedy-jsq.
 * - jsq: every group independently to the least-loaded worker (without counting this invocation).
 * - round-robin: groups dealt to workers in turn, continuing across invocations.
 * - hash: group i of invocation k to worker hash(k, i) — stable, load-blind.
 * Every strategy takes a group that uses something (`uses`, labels) among the workers that match
 * the most of it, when any does.
 * The load-aware ones (all but round-robin and hash) leave out a worker that runs hot
 * (docs/guides/sharding.md §hot workers) while a cool one remains, so a group warm there moves.
 */
import { createHash } from 'node:crypto';
import type { WorkflowDag } from './dag/types.js';
import { AppError } from './errors.js';
import { preferLabelled, type Labels } from './labels.js';

export type PlacementStrategy = 'greedy-jsq' | 'jsq' | 'round-robin' | 'hash' | 'composition-jsq';

export interface PlacementWorker {
  id: string;
  cpu: number;
  /** MB the worker offers; groups of one invocation are kept within it when possible. */
  memoryMb?: number;
  /** Work queued or running on it now (nodes running + queued + groups in flight). */
  load: number;
  /**
   * It runs hot (shared/shard/hot.ts): the load-aware strategies place nothing on it while a
   * cool worker can take the group, its warm affinity included.
   */
  hot?: boolean;
  /** Its labels (shared/labels.ts): groups go where the most of what they use matches. */
  labels?: Labels;
}

export interface PlacementInput {
  strategy: PlacementStrategy;
  workers: readonly PlacementWorker[];
  /** Number of partition groups. */
  groups: number;
  /** Relative weight of each group (e.g. its node count); default 1 each. */
  weights?: readonly number[];
  /** MB each group's sandboxes take (greedy-jsq keeps an invocation's groups within a worker's memory). */
  memoryMb?: readonly number[];
  /** Invocation key for `hash`. */
  key: string;
  /** Cursor for `round-robin`, advanced by the caller. */
  cursor: number;
  /** greedy-jsq: the worker each group ran on last time, where its sandboxes are warm. */
  affinity?: readonly (string | undefined)[];
  /**
   * What each group's functions use (`uses:`, label selectors): the load-aware strategies
   * choose among the workers that match the most of them (all, when none matches any).
   */
  uses?: readonly (readonly string[])[];
}

/** Extra queue, per core, a group accepts to stay on the worker where it is warm. */
export const AFFINITY_SLACK = 1;

/**
 * A worker's queue per core, its capacity counted in integer millicores (at least 100 m), so a
 * worker offering 1.5 cores is 1500 m and never rounds to 1 or 2 — the unit of every CPU figure
 * on the harvest path.
 */
function perCore(load: number, cpu: number): number {
  return (load * 1000) / Math.max(100, Math.round(cpu * 1000));
}

export function place(input: PlacementInput): string[] {
  const all = [...input.workers].sort((a, b) => (a.id < b.id ? -1 : 1));
  // The load-blind strategies stay stable; the others place around hot workers while they can.
  const cool = all.filter((w) => w.hot !== true);
  const loadBlind = input.strategy === 'round-robin' || input.strategy === 'hash';
  const workers = loadBlind || cool.length === 0 ? all : cool;
  if (workers.length === 0)
    throw new AppError(
      'NO_WORKERS',
      'no worker is ready to run this workflow; start one with `faasflow worker --master URL`',
    );
  const out: string[] = [];
  switch (input.strategy) {
    // Load-blind, but a group that uses something goes among the workers near it.
    case 'round-robin':
      for (let g = 0; g < input.groups; g++) {
        const near = preferLabelled(workers, input.uses?.[g]);
        out.push(near[(input.cursor + g) % near.length]!.id);
      }
      return out;
    case 'hash':
      for (let g = 0; g < input.groups; g++) {
        const near = preferLabelled(workers, input.uses?.[g]);
        const h = createHash('sha1').update(`${input.key}:${g}`).digest().readUInt32BE(0);
        out.push(near[h % near.length]!.id);
      }
      return out;
    case 'composition-jsq': {
      const totalMb = (input.memoryMb ?? []).reduce((s, m) => s + m, 0);
      // Near what it uses if such a worker has room for it all, else any worker with room.
      const fitsAll = (w: PlacementWorker): boolean =>
        w.memoryMb === undefined || totalMb <= w.memoryMb;
      const nearRoomy = preferLabelled(workers, input.uses?.flat()).filter(fitsAll);
      const roomy = nearRoomy.length > 0 ? nearRoomy : workers.filter(fitsAll);
      if (roomy.length === 0) return place({ ...input, strategy: 'greedy-jsq', affinity: [] });
      let best = roomy[0]!;
      for (const w of roomy) if (perCore(w.load, w.cpu) < perCore(best.load, best.cpu)) best = w;
      for (let g = 0; g < input.groups; g++) out.push(best.id);
      return out;
    }
    case 'jsq':
    case 'greedy-jsq': {
      const extra = new Map<string, number>();
      const usedMb = new Map<string, number>();
      for (let g = 0; g < input.groups; g++) {
        const needMb = input.memoryMb?.[g] ?? 0;
        const fits = (w: PlacementWorker): boolean =>
          w.memoryMb === undefined || (usedMb.get(w.id) ?? 0) + needMb <= w.memoryMb;
        // Labels are a preference below memory: near and with room, else any with room, else
        // near (every worker is full), else any.
        const near = preferLabelled(workers, input.uses?.[g]);
        const check = input.strategy === 'greedy-jsq';
        const nearRoomy = check ? near.filter(fits) : near;
        const roomy = nearRoomy.length > 0 ? nearRoomy : check ? workers.filter(fits) : [];
        const candidates = roomy.length > 0 ? roomy : near;
        const score = (w: PlacementWorker): number => {
          const counted = input.strategy === 'greedy-jsq' ? (extra.get(w.id) ?? 0) : 0;
          return perCore(w.load + counted, w.cpu);
        };
        let best = candidates[0]!;
        let bestScore = Infinity;
        for (const w of candidates) {
          const s = score(w);
          if (s < bestScore) {
            best = w;
            bestScore = s;
          }
        }
        const home = input.strategy === 'greedy-jsq' ? input.affinity?.[g] : undefined;
        const warm = home === undefined ? undefined : candidates.find((w) => w.id === home);
        if (warm !== undefined && score(warm) <= bestScore + AFFINITY_SLACK) best = warm;
        out.push(best.id);
        extra.set(best.id, (extra.get(best.id) ?? 0) + (input.weights?.[g] ?? 1));
        usedMb.set(best.id, (usedMb.get(best.id) ?? 0) + needMb);
      }
      return out;
    }
  }
}

/** MB the warm sandboxes of each partition group take (foreach bodies at their concurrency). */
export function groupMemoryMb(dag: WorkflowDag, groups: readonly (readonly string[])[]): number[] {
  const nodes = new Map(dag.nodes.map((n) => [n.id as string, n]));
  const bodyMb = (body: WorkflowDag): number =>
    body.nodes.reduce(
      (sum, n) => sum + (n.kind === 'task' ? (dag.functions[n.fn]?.memoryMb ?? 0) : 0),
      0,
    );
  return groups.map((group) =>
    group.reduce((sum, id) => {
      const n = nodes.get(id);
      if (n?.kind === 'task') return sum + (dag.functions[n.fn]?.memoryMb ?? 0);
      if (n?.kind === 'foreach')
        return sum + bodyMb(n.body) * Math.min(n.concurrency, n.estimatedWidth);
      return sum;
    }, 0),
  );
}

/** What each partition group's functions use (`uses:`), deduplicated, in first-seen order. */
export function groupUses(dag: WorkflowDag, groups: readonly (readonly string[])[]): string[][] {
  const nodes = new Map(dag.nodes.map((n) => [n.id as string, n]));
  return groups.map((group) => {
    const out = new Set<string>();
    const add = (fn: string): void => {
      for (const u of dag.functions[fn]?.uses ?? []) out.add(u);
    };
    for (const id of group) {
      const n = nodes.get(id);
      if (n?.kind === 'task') add(n.fn);
      if (n?.kind === 'foreach') for (const b of n.body.nodes) if (b.kind === 'task') add(b.fn);
    }
    return [...out];
  });
}

/** The groups of a partition (node ids per group index) from its `groupOf`. */
export function groupsOf(groupOf: Readonly<Record<string, number>>): string[][] {
  const groups: string[][] = [];
  for (const [node, g] of Object.entries(groupOf)) (groups[g] ??= []).push(node);
  for (let g = 0; g < groups.length; g++) groups[g] ??= [];
  return groups;
}
