/**
 * `faasflow bench shard --sim`: the sharding core (shared/shard) in seeded discrete-event
 * simulations — keyed re-sharding under a moving Zipf hot spot against static hash routing,
 * a sharded foreach with stealing against an even split with a noisy neighbour, `size: auto`
 * against every fixed size, and Holt–Winters against the last-value forecast. The same seed
 * prints the same figures. `--cluster` instead runs on real local clusters: the sharded
 * foreach against the unsharded one (bench/shard-cluster.ts), stealing against an even split
 * beside a noisy neighbour (bench/shard-noisy-cluster.ts), and a keyed Zipf load with a moving
 * hot spot, static hash routing against the re-sharding loop (bench/shard-keyed-cluster.ts).
 */
import { flagReader } from './flag-reader.js';
import { formatTable, publishReport } from './report.js';
import { runShardCluster } from './shard-cluster.js';
import { KEYED_CLUSTER_DEFAULTS, runKeyedCluster } from './shard-keyed-cluster.js';
import { NOISY_DEFAULTS, runNoisyCluster } from './shard-noisy-cluster.js';
import { simulateForeach, type ForeachFigures } from './shard-foreach.js';
import { simulateForecast, type ForecastRow } from './shard-forecast.js';
import { simulateKeyed, type KeyedFigures } from './shard-keyed.js';

export interface ShardBenchOptions {
  seed: number;
  smoke: boolean;
  /** Run the sharded foreach on a real local cluster instead of the simulation. */
  cluster?: boolean;
  /** Measured invocations of each workflow (--cluster). */
  runs?: number;
  /** Which cluster parts run (--cluster). */
  part?: 'foreach' | 'keyed' | 'noisy' | 'all';
  /** Measured seconds of the keyed load per router (--cluster). */
  seconds?: number;
  reportDir?: string;
  command?: string;
  print?: (line: string) => void;
}

const KNOWN = ['sim', 'cluster', 'part', 'runs', 'seconds', 'smoke', 'seed', 'out'] as const;

export function shardOptionsFromFlags(
  camelFlags: Record<string, string | boolean>,
): { options: ShardBenchOptions } | { error: string } {
  const { flags, problems, str, int } = flagReader(camelFlags, 'shard', KNOWN);
  const cluster = flags['cluster'] === true;
  if ((flags['sim'] === true) === cluster && problems.length === 0)
    problems.push(
      'pass one of --sim (the seeded simulation of the sharding core) or --cluster (the sharded foreach on a local cluster)',
    );
  const o: ShardBenchOptions = {
    seed: 1,
    smoke: flags['smoke'] === true,
    cluster,
    runs: flags['smoke'] === true ? 3 : 15,
  };
  const runs = int('runs', 1);
  if (runs !== undefined) o.runs = runs;
  const seconds = int('seconds', 10);
  if (seconds !== undefined) o.seconds = seconds;
  else if (o.smoke) o.seconds = 20;
  const part = str('part');
  if (part !== undefined) {
    if (part === 'foreach' || part === 'keyed' || part === 'noisy' || part === 'all') o.part = part;
    else problems.push(`--part ${part}: expected foreach, keyed, noisy or all`);
  }
  const seed = int('seed', 0);
  if (seed !== undefined) o.seed = seed;
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}

export interface ShardBenchFigures {
  seed: number;
  keyed: Omit<KeyedFigures, 'table'> & {
    table: Omit<KeyedFigures['table'], 'events'> & { eventCounts: Record<string, number> };
  };
  foreach: ForeachFigures;
  forecast: ForecastRow[];
}

const f2 = (x: number | null | undefined): string =>
  x === null || x === undefined ? '—' : x.toFixed(2);
const ms = (x: number | null | undefined): string =>
  x === null || x === undefined ? '—' : `${x.toFixed(0)} ms`;
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

/** Writes a part's report where `--out` says and prints how to reproduce it. */
function publish<T>(
  name: string,
  startedAt: Date,
  figures: T,
  o: ShardBenchOptions,
  print: (line: string) => void,
): void {
  publishReport(name, startedAt, figures, {
    print,
    ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
    ...(o.command !== undefined ? { command: o.command } : {}),
  });
}

/** `--cluster`: the sharded foreach, then the keyed load (`--part` picks one). */
export async function runShardClusterBench(o: ShardBenchOptions): Promise<void> {
  const part = o.part ?? 'all';
  if (part === 'all' || part === 'foreach') await runForeachCluster(o);
  if (part === 'all' || part === 'noisy') await runNoisyClusterBench(o);
  if (part === 'all' || part === 'keyed') await runKeyedClusterBench(o);
}

/** The noisy-neighbour part: stealing vs an even split with one worker's cap half taken. */
async function runNoisyClusterBench(o: ShardBenchOptions): Promise<void> {
  const print = o.print ?? ((l: string) => console.log(l));
  const startedAt = new Date();
  const n = { ...NOISY_DEFAULTS, ...(o.smoke ? { runs: 2 } : {}) };
  print(
    `shard --cluster noisy: a master and 3 workers each capped at ${n.capCores} core (a CPU cgroup holding the worker and its sandboxes), ` +
      `${n.hogs} busy loops in the third worker's cap; a foreach of ${n.items} items of ${n.itemCpuMs} ms CPU, concurrency 4, 3 shards, ` +
      `${n.runs} invocations each way after 2 warm-up pairs, alternating`,
  );
  const f = await runNoisyCluster({ ...n, print });
  for (const l of formatTable(
    ['schedule', 'makespan (median)', 'items per worker (last run)', 'owners'],
    f.rows.map((r) => [
      r.schedule,
      ms(r.makespanMs),
      Object.entries(r.itemsByWorker)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([w, c]) => `${w}${w === f.noisyWorker ? ' (noisy)' : ''} ${c}`)
        .join(', '),
      r.owners.join(','),
    ]),
    ['left'],
  ))
    print(`  ${l}`);
  print(`  stealing ${pct(f.reduction)} below the even split (goal ≥ 35 %)`);
  publish('shard-noisy-cluster', startedAt, f, o, print);
}

/** The keyed part: static hash routing vs the re-sharding loop under a moving Zipf hot spot. */
async function runKeyedClusterBench(o: ShardBenchOptions): Promise<void> {
  const print = o.print ?? ((l: string) => console.log(l));
  const startedAt = new Date();
  const k = {
    ...KEYED_CLUSTER_DEFAULTS,
    seed: o.seed,
    measureS: o.seconds ?? KEYED_CLUSTER_DEFAULTS.measureS,
    ...(o.smoke ? { warmupS: 5 } : {}),
  };
  print(
    `shard --cluster keyed: a master and ${k.workers} workers per router (process sandboxes, one sandbox per worker for the function), ` +
      `${k.keys} keys Zipf(${k.zipf}), ${pct(k.load)} of ${k.workers}/${k.serviceMs} ms, ${k.warmupS} s lead-in then ${k.measureS} s measured, ` +
      `hot keys move at ${k.measureS / 2} s, seed ${k.seed}`,
  );
  const f = await runKeyedCluster({ ...k, print });
  for (const l of formatTable(
    [
      'router',
      'calls',
      'failed',
      'p50',
      'p99',
      'max/mean 5 s before',
      'first 5 s after',
      'next 5 s',
      'keys moved (15 s)',
      'ranges',
      'events',
    ],
    f.rows.map((r) => [
      r.router,
      String(r.calls),
      String(r.failed),
      ms(r.p50Ms),
      ms(r.p99Ms),
      f2(r.maxMeanBefore),
      f2(r.maxMeanAfter5s),
      f2(r.maxMeanAfter10s),
      r.router === 'static hash' ? '—' : pct(r.movedAfterShift),
      String(r.rangesAtEnd),
      JSON.stringify(r.events),
    ]),
    ['left'],
  ))
    print(`  ${l}`);
  const [st, tb] = f.rows;
  if (st && tb)
    print(
      `  ${f.ratePerSecond.toFixed(1)} calls/s; p99 table/static ${f2(tb.p99Ms / st.p99Ms)} (goal ≤ 0.33); max/mean in the 5 s after the first 5 ${f2(tb.maxMeanAfter10s)} (goal ≤ 1.3); keys moved per shift ${pct(tb.movedAfterShift)} (goal ≤ 10 %)`,
    );
  publish('shard-keyed-cluster', startedAt, f, o, print);
}

/** The foreach part: sharded vs unsharded on a master and three workers. */
async function runForeachCluster(o: ShardBenchOptions): Promise<void> {
  const print = o.print ?? ((l: string) => console.log(l));
  const startedAt = new Date();
  print(
    `shard --cluster: a master and 3 workers (process sandboxes) on this machine, foreach concurrency 4, ${o.runs ?? 15} invocations of each workflow after 3 warm-up pairs, alternating`,
  );
  const f = await runShardCluster({ runs: o.runs ?? 15, workers: 3, print });
  for (const l of formatTable(
    [
      'foreach',
      'items',
      'shards',
      'items per shard',
      'unsharded',
      'sharded',
      'ratio',
      'foreach step ratio',
      'cold runs (off/on)',
    ],
    f.rows.map((r) => [
      r.workload,
      String(r.items),
      String(r.shards),
      r.itemsPerShard.join('/'),
      ms(r.unshardedMs),
      ms(r.shardedMs),
      `${f2(r.ratio)}×`,
      `${f2(r.foreachRatio)}× (${ms(r.shardedForeachMs)} vs ${ms(r.unshardedForeachMs)})`,
      `${r.coldUnsharded}/${r.coldSharded} (owners ${r.ownersUnsharded.join(',')} / ${r.ownersSharded.join(',')})`,
    ]),
    ['left'],
  ))
    print(`  ${l}`);
  print(
    '  medians of the client-side latency; goals: the no-op foreach of 64 no slower than 1.1× unsharded; sleep-bound sharded well below 1×',
  );
  publish('shard-cluster', startedAt, f, o, print);
}

export function runShardBench(o: ShardBenchOptions): ShardBenchFigures {
  const print = o.print ?? ((l: string) => console.log(l));
  const startedAt = new Date();
  const keyed = simulateKeyed(
    o.smoke
      ? { seed: o.seed, durationMs: 20_000, shiftAtMs: 10_000, warmupMs: 3_000 }
      : { seed: o.seed },
  );
  const foreach = simulateForeach({ seed: o.seed, ...(o.smoke ? { instances: 2 } : {}) });
  const forecast = simulateForecast(o.seed);

  const k = keyed.options;
  print(
    `keyed: ${k.workers} single-slot workers, ${k.keys} keys Zipf(${k.zipf}), ${pct(k.load)} load, ` +
      `service ${k.serviceMeanMs} ms (exp), ${k.durationMs / 1000} s, hot keys move at ${k.shiftAtMs / 1000} s, ` +
      `${keyed.requests} requests, seed ${k.seed}`,
  );
  for (const l of formatTable(
    ['router', 'p50', 'p99', 'max/mean 5 s before', 'first 5 s after', 'next 5 s', 'keys moved'],
    [
      [
        'static hash',
        ms(keyed.static.latency?.p50Ms),
        ms(keyed.static.latency?.p99Ms),
        f2(keyed.static.imbalanceBeforeShift),
        f2(keyed.static.imbalanceFirst5s),
        f2(keyed.static.imbalanceNext5s),
        '0 %',
      ],
      [
        'routing table',
        ms(keyed.table.latency?.p50Ms),
        ms(keyed.table.latency?.p99Ms),
        f2(keyed.table.imbalanceBeforeShift),
        f2(keyed.table.imbalanceFirst5s),
        f2(keyed.table.imbalanceNext5s),
        `${pct(keyed.table.movedShareAfterShift)} in 10 s (then ${pct(keyed.table.movedShareLater)})`,
      ],
    ],
    ['left'],
  ))
    print(`  ${l}`);
  const counts: Record<string, number> = {};
  for (const e of keyed.table.events) counts[e.kind] = (counts[e.kind] ?? 0) + 1;
  print(
    `  p99 table/static ${f2(keyed.p99Ratio)} (goal ≤ 0.33); max/mean in the 5 s after the first 5 ${f2(keyed.table.imbalanceNext5s)} (goal ≤ 1.3); ` +
      `keys moved per shift ${pct(keyed.table.movedShareAfterShift)} (goal ≤ 10 %); ` +
      `table v${keyed.table.version}, ${keyed.table.rangesAtEnd} ranges, events ${JSON.stringify(counts)}`,
  );

  const n = foreach.noisy;
  print('');
  print(
    `foreach, noisy neighbour: ${n.items} items of 15-25 ms on 3 workers × 4 slots, one ${n.slowdown}× slower`,
  );
  for (const l of formatTable(
    ['schedule', 'makespan', 'batches'],
    [
      ['even split', ms(n.evenMs), '3'],
      ['stealing (guided)', ms(n.stealMs), String(n.stealBatches)],
    ],
    ['left'],
  ))
    print(`  ${l}`);
  print(`  stealing ${pct(n.reduction)} below the even split (goal ≥ 35 %)`);

  const fo = foreach.options;
  print('');
  print(
    `foreach, size: auto vs fixed sizes (stealing): free slots ${fo.freeSlots.join(',')}, hop ${fo.net.hopMs} ms, ` +
      `shard start ${fo.net.shardStartMs} ms, ${fo.net.bandwidthBytesPerMs / 1000} MB/s, ${fo.instances} instances each, ` +
      'auto fed three earlier unsharded timelines',
  );
  const sizes = Object.keys(foreach.auto[0]?.meanMs ?? {});
  for (const l of formatTable(
    [
      'items',
      'n',
      'auto k',
      ...sizes.map((s) => `k=${s}`),
      'auto/best fixed',
      'auto/oracle',
      'auto/k=1',
    ],
    foreach.auto.map((r) => [
      r.shape,
      String(r.items),
      [...new Set(r.autoShards)].join(','),
      ...sizes.map((s) => ms(r.meanMs[s])),
      f2(r.autoOverBest),
      f2(r.autoOverOracle),
      f2(r.autoOverOne),
    ]),
    ['left'],
  ))
    print(`  ${l}`);
  print(
    '  goals: auto within 10 % of the best fixed size (auto/best fixed ≤ 1.10); no-op foreach of 64 no slower than 1.1× today (noop auto/k=1)',
  );

  print('');
  print(
    'forecast: Holt–Winters (fitted on 240 s) vs last value, MAE of calls/s over the next 360 s',
  );
  for (const l of formatTable(
    ['series', 'season', 'ahead', 'Holt–Winters', 'last value', 'ratio'],
    forecast.map((r) => [
      r.series,
      r.season === 0 ? 'none' : `${r.season} s`,
      `${r.horizonS} s`,
      f2(r.holtWintersMae),
      f2(r.lastValueMae),
      f2(r.ratio),
    ]),
    ['left'],
  ))
    print(`  ${l}`);
  print(
    '  goal: ratio ≤ 0.7. On white Poisson noise 1 s ahead no forecast beats ~0.71 (the last value carries two noises, the best estimate one).',
  );
  print('');
  print(
    'simulated: `faasflow bench shard --cluster` runs the foreach, noisy-neighbour and keyed parts on real local clusters.',
  );

  const figures: ShardBenchFigures = {
    seed: o.seed,
    keyed: { ...keyed, table: { ...withoutEvents(keyed.table), eventCounts: counts } },
    foreach,
    forecast,
  };
  publish('shard', startedAt, figures, o, print);
  return figures;
}

function withoutEvents(t: KeyedFigures['table']): Omit<KeyedFigures['table'], 'events'> {
  const { events: _events, ...rest } = t;
  return rest;
}
