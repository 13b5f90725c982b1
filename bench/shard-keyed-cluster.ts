/**
 * The keyed part of `faasflow bench shard --cluster` (docs/guides/sharding.md §measured on a
 * cluster): a master and three workers as processes, a keyed function sleeping `serviceMs` with
 * one sandbox per worker (`--max-concurrency-per-function=1`: each worker is a single-slot
 * server for it, so the cluster's capacity is 3 / serviceMs), and an open-loop Poisson load of
 * `load` × that capacity whose keys follow Zipf(`zipf`) over `keys` keys; halfway through the
 * measured part the ranking moves (the hottest keys become others). The same seeded arrivals
 * run twice, each on a fresh cluster: once with the routing table frozen as made
 * (`--keyed-control=false`: static hash routing) and once with the re-sharding loop.
 *
 * Figures per router: client-side latency p50/p99 over the measured part; max/mean of the busy
 * ms the workers were routed, over 5 s windows before and after the shift (from the master's
 * per-cycle history, polled); the share of keys that gained a worker in the 15 s after the
 * shift (the loop's events); failed calls.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCluster } from '../deploy/local-cluster.js';
import { RANGES_PER_WORKER } from '../master/shard/keyed.js';
import { HttpClient } from '../shared/http-client.js';
import { mulberry32 } from '../shared/random.js';
import { percentile, zipfRanks } from './report.js';

export interface KeyedClusterOptions {
  seed: number;
  workers: number;
  keys: number;
  zipf: number;
  /** Offered load as a share of the cluster's capacity for the function. */
  load: number;
  serviceMs: number;
  /** Unmeasured lead-in (both routers start from the same fresh table). */
  warmupS: number;
  /** Measured part; the ranking moves at its middle. */
  measureS: number;
  print: (line: string) => void;
}

export const KEYED_CLUSTER_DEFAULTS: Omit<KeyedClusterOptions, 'print'> = {
  seed: 1,
  workers: 3,
  keys: 1000,
  zipf: 1.2,
  load: 0.7,
  serviceMs: 60,
  warmupS: 15,
  measureS: 60,
};

export interface KeyedClusterRow {
  router: 'static hash' | 'routing table';
  calls: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  /** Busy ms routed per worker, max / mean, over 5 s windows around the shift. */
  maxMeanBefore: number | null;
  maxMeanAfter5s: number | null;
  maxMeanAfter10s: number | null;
  /** Share of keys that gained a worker within 15 s after the shift. */
  movedAfterShift: number;
  /** Events of the whole run, by kind. */
  events: Record<string, number>;
  rangesAtEnd: number;
}

export interface KeyedClusterFigures {
  options: Omit<KeyedClusterOptions, 'print'>;
  ratePerSecond: number;
  rows: KeyedClusterRow[];
}

const WORKFLOW = 'bench-keyed';

function yaml(serviceMs: number): string {
  return [
    `name: ${WORKFLOW}`,
    'functions:',
    '  lookup:',
    `    code: ${JSON.stringify(`export default async (x) => { await new Promise((r) => setTimeout(r, ${serviceMs})); return { k: x.k }; }`)}`,
    `    runtime: ${serviceMs}ms`,
    "    shard: { key: '$.k', maxReplicas: 3 }",
    'flow:',
    '  task: lookup',
  ].join('\n');
}

interface Arrival {
  atMs: number;
  key: string;
  measured: boolean;
}

/** The seeded arrivals: Poisson gaps, Zipf ranks, the ranking rotated by half at the shift. */
export function keyedArrivals(o: Omit<KeyedClusterOptions, 'print'>): {
  arrivals: Arrival[];
  shiftAtMs: number;
  rate: number;
} {
  const rand = mulberry32(o.seed);
  const rate = (o.load * o.workers * 1000) / o.serviceMs;
  const rankOf = zipfRanks(o.keys, o.zipf);
  const endMs = (o.warmupS + o.measureS) * 1000;
  const shiftAtMs = (o.warmupS + o.measureS / 2) * 1000;
  const arrivals: Arrival[] = [];
  for (let t = 0; ;) {
    t += (-Math.log(1 - rand()) * 1000) / rate;
    if (t >= endMs) break;
    const r = rankOf(rand());
    const id = t < shiftAtMs ? r : (r + Math.floor(o.keys / 2)) % o.keys;
    arrivals.push({ atMs: t, key: `user-${id}`, measured: t >= o.warmupS * 1000 });
  }
  return { arrivals, shiftAtMs, rate };
}

interface Cycle {
  at: number;
  cycle: number;
  workers: { id: string; load: number }[];
}

interface KeyedAnswer {
  table: { ranges: unknown[] };
  history: Cycle[];
  events: { at: number; kind: string; movedShare: number }[];
}

async function runOne(
  o: Omit<KeyedClusterOptions, 'print'>,
  reshard: boolean,
  print: (line: string) => void,
): Promise<KeyedClusterRow> {
  const { arrivals, shiftAtMs } = keyedArrivals(o);
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-keyed-'));
  const cluster = new LocalCluster({
    workers: o.workers,
    logDir,
    runtime: 'process',
    masterFlags: [`--keyed-control=${reshard}`],
    workerFlags: () => [
      '--max-concurrency-per-function=1',
      '--heartbeat-ms=500',
      '--memory-mb=3072',
      '--cpu=2',
    ],
  });
  const http = new HttpClient({ connections: 64 });
  try {
    await cluster.start();
    const url = cluster.masterUrl;
    await http.json(`${url}/v1/workflows`, 'POST', { yaml: yaml(o.serviceMs), files: {} }, 30_000);
    const shards = async (): Promise<KeyedAnswer | undefined> =>
      (
        (await http.json(`${url}/v1/workflows/${WORKFLOW}/shards`, 'GET', undefined, 10_000)) as {
          keyed: KeyedAnswer[];
        }
      ).keyed[0];
    for (
      let i = 0;
      i < 100 && (await shards())?.table.ranges.length !== o.workers * RANGES_PER_WORKER;
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    // Warm every worker's sandbox before the clock starts.
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        http.json(
          `${url}/v1/workflows/${WORKFLOW}/invocations`,
          'POST',
          { input: { k: `warm-${i}` } },
          30_000,
        ),
      ),
    );
    const cycles = new Map<number, Cycle>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const k = await shards().catch(() => undefined);
        for (const c of k?.history ?? []) cycles.set(c.cycle, c);
        await new Promise((r) => setTimeout(r, 5000));
      }
    })();
    const t0 = Date.now();
    const latencies: number[] = [];
    let failed = 0;
    const calls: Promise<void>[] = [];
    for (const a of arrivals) {
      const wait = t0 + a.atMs - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const sent = performance.now();
      calls.push(
        http
          .json(
            `${url}/v1/workflows/${WORKFLOW}/invocations`,
            'POST',
            { input: { k: a.key } },
            120_000,
          )
          .then(
            (r) => {
              const ok = (r as { status?: string }).status === 'succeeded';
              if (!a.measured) return;
              if (!ok) failed++;
              else latencies.push(performance.now() - sent);
            },
            () => {
              if (a.measured) failed++;
            },
          ),
      );
    }
    await Promise.all(calls);
    polling = false;
    await poller;
    const last = await shards();
    for (const c of last?.history ?? []) cycles.set(c.cycle, c);
    const shiftAt = t0 + shiftAtMs;
    const window = (fromMs: number, toMs: number): number | null => {
      const busy = new Map<string, number>();
      let n = 0;
      for (const c of cycles.values())
        if (c.at >= shiftAt + fromMs && c.at < shiftAt + toMs) {
          n++;
          for (const w of c.workers) busy.set(w.id, (busy.get(w.id) ?? 0) + w.load);
        }
      if (n === 0 || busy.size === 0) return null;
      const loads = [...busy.values()];
      const mean = loads.reduce((a, b) => a + b, 0) / loads.length;
      return mean > 0 ? Math.max(...loads) / mean : null;
    };
    const events: Record<string, number> = {};
    let moved = 0;
    for (const e of last?.events ?? []) {
      events[e.kind] = (events[e.kind] ?? 0) + 1;
      if (e.at >= shiftAt && e.at < shiftAt + 15_000) moved += e.movedShare;
    }
    const sorted = [...latencies].sort((a, b) => a - b);
    const row: KeyedClusterRow = {
      router: reshard ? 'routing table' : 'static hash',
      calls: latencies.length,
      failed,
      p50Ms: sorted.length === 0 ? 0 : percentile(sorted, 0.5),
      p99Ms: sorted.length === 0 ? 0 : percentile(sorted, 0.99),
      maxMeanBefore: window(-5000, 0),
      maxMeanAfter5s: window(0, 5000),
      maxMeanAfter10s: window(5000, 10_000),
      movedAfterShift: moved,
      events,
      rangesAtEnd: last?.table.ranges.length ?? 0,
    };
    print(
      `  ${row.router}: ${row.calls} calls, p99 ${row.p99Ms.toFixed(0)} ms, ${row.failed} failed`,
    );
    return row;
  } catch (err) {
    throw new Error(`${(err as Error).message} (logs in ${logDir})`);
  } finally {
    await http.close();
    await cluster.stop();
  }
}

export async function runKeyedCluster(o: KeyedClusterOptions): Promise<KeyedClusterFigures> {
  const { print, ...options } = o;
  const { rate } = keyedArrivals(options);
  const rows = [await runOne(options, false, print), await runOne(options, true, print)];
  return { options, ratePerSecond: rate, rows };
}
