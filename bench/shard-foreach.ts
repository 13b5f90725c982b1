/**
 * The foreach half of `faasflow bench shard --sim`: a seeded discrete-event simulation of one
 * sharded foreach, item by item, with the costs the score counts (bench's twin of
 * shared/shard/score.ts):
 * - shard 0 runs on the owner; a remote shard starts one hop plus its sandbox start after the
 *   foreach does, pays a hop per batch it pulls and `bytes / bandwidth` per item it runs, and
 *   its last results come back one hop later;
 * - a shard runs `slots` items at once; a worker with a noisy neighbour runs each item
 *   `slowdown` times slower;
 * - `steal`: shards pull guided self-scheduling batches (`takeBatch`), asking for the next one
 *   as they take their last local item; `even`: each shard gets its block up front.
 * Scenarios: stealing against the even split with a noisy neighbour; `size: auto` (the score,
 * fed the timelines of three earlier unsharded runs) against every fixed size over uniform,
 * Pareto and bimodal item costs; a no-op foreach of 64 items.
 */
import { mulberry32 } from '../shared/random.js';
import { parseNodeId, type WorkerId } from '../shared/ids.js';
import type { StepRecord } from '../shared/schema/wire.js';
import type { Demand } from '../shared/shard/demand.js';
import { declaredBodyDemand, foreachSamples, predictDemand } from '../shared/shard/demand.js';
import { evenSplit, placeShards, stealQueue, takeBatch } from '../shared/shard/foreach-plan.js';
import { scoreShards, type ShardCosts } from '../shared/shard/score.js';

export interface SimShard {
  slots: number;
  slowdown: number;
}

export interface SimNet extends ShardCosts {
  bytesPerItem: number;
}

export interface ForeachRun {
  makespanMs: number;
  itemsPerShard: number[];
  batches: number;
}

type EvBody =
  | { t: number; kind: 'free'; shard: number }
  | { t: number; kind: 'arrive'; shard: number; items: number[] };
type Ev = EvBody & { seq: number };

/** A small binary min-heap on (t, seq): equal times pop in insertion order (deterministic). */
class Heap {
  private readonly a: Ev[] = [];
  private seq = 0;
  get size(): number {
    return this.a.length;
  }
  push(e: EvBody): void {
    const a = this.a;
    a.push({ ...e, seq: this.seq++ });
    for (let i = a.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (less(a[i]!, a[p]!)) {
        [a[i], a[p]] = [a[p]!, a[i]!];
        i = p;
      } else break;
    }
  }
  pop(): Ev {
    const a = this.a;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}
const less = (x: Ev, y: Ev): boolean => x.t < y.t || (x.t === y.t && x.seq < y.seq);

/** Runs the items (`costs[i]` ms on an unloaded worker) over `shards`; shard 0 is the owner's. */
export function runForeach(
  costs: readonly number[],
  shards: readonly SimShard[],
  mode: 'steal' | 'even',
  net: SimNet,
): ForeachRun {
  const k = shards.length;
  const local: number[][] = shards.map(() => []);
  const idle = shards.map((s) => s.slots);
  const fetching = shards.map(() => false);
  const done = shards.map(() => 0);
  const lastFinish = shards.map(() => 0);
  const heap = new Heap();
  let queue = stealQueue(costs.length, k);
  let batches = 0;
  const transferMs = net.bytesPerItem / net.bandwidthBytesPerMs;
  const requestBatch = (s: number, t: number): void => {
    const b = takeBatch(queue);
    if (!b) return;
    queue = b[1];
    batches++;
    fetching[s] = true;
    const items = Array.from({ length: b[0].count }, (_, i) => b[0].start + i);
    heap.push({ t: t + (s === 0 ? 0 : net.hopMs), kind: 'arrive', shard: s, items });
  };
  const startAt = (s: number): number => (s === 0 ? 0 : net.hopMs + net.shardStartMs);
  if (mode === 'even') {
    evenSplit(costs.length, k).forEach((b, s) => {
      const items = Array.from({ length: b.count }, (_, i) => b.start + i);
      heap.push({ t: startAt(s), kind: 'arrive', shard: s, items });
      batches++;
    });
  } else {
    for (let s = 0; s < k; s++) {
      // A remote shard's first request rides on its start.
      const b = takeBatch(queue);
      if (!b) break;
      queue = b[1];
      batches++;
      fetching[s] = true;
      const items = Array.from({ length: b[0].count }, (_, i) => b[0].start + i);
      heap.push({ t: startAt(s), kind: 'arrive', shard: s, items });
    }
  }
  const run = (s: number, t: number): void => {
    while (idle[s]! > 0 && local[s]!.length > 0) {
      const i = local[s]!.shift()!;
      idle[s]!--;
      const d = costs[i]! * shards[s]!.slowdown + (s === 0 ? 0 : transferMs);
      heap.push({ t: t + d, kind: 'free', shard: s });
      if (local[s]!.length === 0 && mode === 'steal' && !fetching[s]) requestBatch(s, t);
    }
    if (local[s]!.length === 0 && mode === 'steal' && !fetching[s] && idle[s]! > 0)
      requestBatch(s, t);
  };
  while (heap.size > 0) {
    const e = heap.pop();
    if (e.kind === 'arrive') {
      fetching[e.shard] = false;
      local[e.shard]!.push(...e.items);
    } else {
      idle[e.shard]!++;
      done[e.shard]!++;
      lastFinish[e.shard] = e.t;
    }
    run(e.shard, e.t);
  }
  const makespan = Math.max(
    ...lastFinish.map((f, s) => (done[s] === 0 ? 0 : f + (s === 0 ? 0 : net.hopMs))),
  );
  return { makespanMs: makespan, itemsPerShard: done, batches };
}

export type CostShape = 'uniform' | 'pareto' | 'bimodal' | 'noop';

export interface CostScenario {
  shape: CostShape;
  items: number;
  draw: (rnd: () => number) => number;
  bytesPerItem: number;
}

export const COST_SCENARIOS: Record<CostShape, CostScenario> = {
  uniform: { shape: 'uniform', items: 200, draw: (r) => 10 + 20 * r(), bytesPerItem: 16_384 },
  pareto: {
    shape: 'pareto',
    items: 120,
    // xm 5 ms, α 1.6 (mean 13 ms), capped at 2 s.
    draw: (r) => Math.min(2000, 5 / (1 - r()) ** (1 / 1.6)),
    bytesPerItem: 16_384,
  },
  bimodal: {
    shape: 'bimodal',
    items: 80,
    draw: (r) => (r() < 0.9 ? 2 : 150),
    bytesPerItem: 16_384,
  },
  noop: { shape: 'noop', items: 64, draw: () => 0.05, bytesPerItem: 100 },
};

export interface ForeachSimOptions {
  seed: number;
  /** Instances measured per cost shape. */
  instances: number;
  net: ShardCosts;
  /** Free slots of the workers, the owner's first. */
  freeSlots: number[];
  concurrency: number;
}

export const FOREACH_DEFAULTS: ForeachSimOptions = {
  seed: 1,
  instances: 5,
  net: { hopMs: 2, bandwidthBytesPerMs: 10_000, shardStartMs: 20 },
  freeSlots: [4, 4, 4, 3, 2, 2, 1, 1],
  concurrency: 4,
};

export interface NoisyFigures {
  items: number;
  slowdown: number;
  evenMs: number;
  stealMs: number;
  /** 1 − steal/even. */
  reduction: number;
  stealBatches: number;
}

export interface AutoRow {
  shape: CostShape;
  items: number;
  /** Shards the score chose per instance. */
  autoShards: number[];
  demandSource: Demand['source'];
  /** Mean makespan of auto over that of the best fixed size (one size for every instance). */
  autoOverBest: number;
  /** Mean over instances of makespan(auto) / makespan(the best size for that instance). */
  autoOverOracle: number;
  /** Mean over instances of makespan(auto) / makespan(1 shard: today). */
  autoOverOne: number;
  /** Fixed size with the lowest mean makespan, and that mean. */
  bestFixed: number;
  meanMs: Record<string, number>;
}

export interface ForeachFigures {
  options: ForeachSimOptions;
  noisy: NoisyFigures;
  auto: AutoRow[];
}

const WORKERS = (n: number): WorkerId[] => Array.from({ length: n }, (_, i) => `w${i}` as WorkerId);

/** Stealing against the even split on three workers, one with a noisy neighbour. */
export function simulateNoisy(seed: number, net: ShardCosts): NoisyFigures {
  const rnd = mulberry32(seed);
  const costs = Array.from({ length: 240 }, () => 15 + 10 * rnd());
  const shards: SimShard[] = [
    { slots: 4, slowdown: 1 },
    { slots: 4, slowdown: 1 },
    { slots: 4, slowdown: 3 },
  ];
  const n = { ...net, bytesPerItem: 4096 };
  const even = runForeach(costs, shards, 'even', n);
  const steal = runForeach(costs, shards, 'steal', n);
  return {
    items: costs.length,
    slowdown: 3,
    evenMs: even.makespanMs,
    stealMs: steal.makespanMs,
    reduction: 1 - steal.makespanMs / even.makespanMs,
    stealBatches: steal.batches,
  };
}

/** A profiling run as the master's timeline records it (the foreach node's step). */
function timelineStep(items: number, bytesPerItem: number, makespanMs: number): StepRecord {
  return {
    node: 'each',
    worker: 'w0',
    status: 'succeeded',
    kind: 'foreach',
    attempts: 1,
    readyAt: 0,
    startedAt: 0,
    finishedAt: makespanMs,
    queueMs: 0,
    cold: false,
    inputBytes: items * (bytesPerItem / 2),
    outputBytes: items * (bytesPerItem / 2),
    tier: 'memory',
    items,
  };
}

export function simulateAuto(
  scenario: CostScenario,
  o: ForeachSimOptions,
  declared: Demand,
): AutoRow {
  const rnd = mulberry32(o.seed * 7919 + scenario.items);
  const draw = (): number[] => Array.from({ length: scenario.items }, () => scenario.draw(rnd));
  const net: SimNet = { ...o.net, bytesPerItem: scenario.bytesPerItem };
  const workers = WORKERS(o.freeSlots.length);
  const room = workers.map((w, i) => ({ worker: w, freeSlots: o.freeSlots[i]! }));
  const simShards = (k: number): SimShard[] =>
    placeShards(k, workers[0]!, room, o.concurrency).map((p) => ({ slots: p.slots, slowdown: 1 }));
  // Three earlier unsharded runs are all the timeline holds.
  const steps = [0, 1, 2].map(() => {
    const c = draw();
    return timelineStep(
      c.length,
      scenario.bytesPerItem,
      runForeach(c, simShards(1), 'steal', net).makespanMs,
    );
  });
  const demand = predictDemand(declared, foreachSamples(steps, o.concurrency));
  const sizes = Array.from({ length: o.freeSlots.length }, (_, i) => i + 1);
  const sums: Record<string, number> = {};
  let overOracle = 0;
  let overOne = 0;
  let autoSum = 0;
  const chosen: number[] = [];
  for (let inst = 0; inst < o.instances; inst++) {
    const costs = draw();
    const est = scoreShards(
      {
        items: costs.length,
        demand,
        concurrency: o.concurrency,
        freeSlots: o.freeSlots,
        costs: o.net,
        maxShards: o.freeSlots.length,
      },
      'auto',
    );
    chosen.push(est.shards);
    const byK = sizes.map((k) => runForeach(costs, simShards(k), 'steal', net).makespanMs);
    byK.forEach((m, i) => (sums[String(i + 1)] = (sums[String(i + 1)] ?? 0) + m));
    const auto = byK[est.shards - 1]!;
    autoSum += auto;
    overOracle += auto / Math.min(...byK);
    overOne += auto / byK[0]!;
  }
  const meanMs = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / o.instances]));
  const best = Object.entries(meanMs).sort((a, b) => a[1] - b[1])[0]!;
  return {
    shape: scenario.shape,
    items: scenario.items,
    autoShards: chosen,
    demandSource: demand.source,
    autoOverBest: autoSum / o.instances / best[1],
    autoOverOracle: overOracle / o.instances,
    autoOverOne: overOne / o.instances,
    bestFixed: Number(best[0]),
    meanMs,
  };
}

/** The declared body of the simulated foreach: one task of `runtime: 20ms`. */
function declared(): Demand {
  const t = parseNodeId('t');
  return declaredBodyDemand(
    {
      name: 'body',
      format: 'flow',
      functions: {},
      nodes: [{ kind: 'task', id: t, path: '', fn: 'item', input: { kind: 'input' } }],
      edges: [],
      sources: [t],
      sinks: [t],
      output: { kind: 'node', node: t },
    },
    {
      item: {
        name: 'item',
        source: { kind: 'code', code: '' },
        cpu: 1,
        memoryMb: 256,
        timeoutMs: 60_000,
        retries: 0,
        network: 'none',
        runtimeMs: 20,
        outputBytes: 1024,
      },
    },
  );
}

export function simulateForeach(options: Partial<ForeachSimOptions> = {}): ForeachFigures {
  const o = { ...FOREACH_DEFAULTS, ...options };
  return {
    options: o,
    noisy: simulateNoisy(o.seed, o.net),
    auto: (['uniform', 'pareto', 'bimodal', 'noop'] as const).map((s) =>
      simulateAuto(COST_SCENARIOS[s], o, declared()),
    ),
  };
}
