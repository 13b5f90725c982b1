/**
 * `faasflow bench chains --data` (docs/guides/chains.md): data brought ahead. FaaSFlow's Cycles
 * and Genome on network-namespace hosts whose links are capped (`--bandwidth`, default 25mbit),
 * WorkerSP with FaaStore, once with the workers' `--fetch-ahead=false` and once with it on (the
 * default) — two clusters in one run, one after the other. The figure is the time the nodes on
 * each invocation's realised critical path spent reading their inputs (their `getMs`), beside
 * the end-to-end latency and how many inputs joins had read ahead.
 *
 * Needs root (it makes the namespaces and the capped links); it says so without.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepRecord } from '../shared/schema/wire.js';
import { criticalPath } from './critical-path.js';
import { BenchClient, type WorkflowShape } from './overhead-load.js';
import { faasflowBenchmarks } from './paths.js';
import { formatTable, median, publishReport } from './report.js';

export interface ChainsDataOptions {
  hosts: number;
  bandwidth: string;
  benchmarks: string[];
  warmup: number;
  repetitions: number;
  runtimeScale: number;
  sizeScale: number;
  reportDir?: string | null;
  print: (line: string) => void;
}

export const CHAINS_DATA_DEFAULTS: Omit<ChainsDataOptions, 'print'> = {
  hosts: 3,
  bandwidth: '25mbit',
  benchmarks: ['cycles', 'genome'],
  warmup: 1,
  repetitions: 5,
  runtimeScale: 0.1,
  sizeScale: 0.01,
};

export interface DataRow {
  benchmark: string;
  fetchAhead: boolean;
  /** Medians over the measured invocations. */
  criticalGetMs: number;
  e2eMs: number;
  /** Inputs read ahead by joins, per invocation (mean). */
  prefetched: number;
}

export interface DataComparison {
  benchmark: string;
  criticalGetOff: number;
  criticalGetOn: number;
  /** 1 − on / off. */
  reduction: number;
  e2eOff: number;
  e2eOn: number;
}

/** Σ getMs along the chain of last-finishing parents, from the last node to finish. */
export function criticalGetMs(
  shape: Pick<WorkflowShape, 'edges'>,
  steps: readonly StepRecord[],
): number {
  return criticalPath(shape.edges, steps).reduce((sum, s) => sum + (s.getMs ?? 0), 0);
}

export async function runChainsData(o: ChainsDataOptions): Promise<DataComparison[]> {
  const { print } = o;
  if (process.getuid?.() !== 0)
    throw new Error('bench chains --data needs root: it makes network namespaces and caps links');
  const startedAt = new Date();
  print(
    `chains (data ahead): ${o.benchmarks.join(', ')} on ${o.hosts} namespace hosts at ${o.bandwidth}, runtimes ×${o.runtimeScale}, sizes ×${o.sizeScale}, ${o.warmup} warm-up + ${o.repetitions} measured, fetch-ahead off then on`,
  );
  const { startNetnsCluster } = await import('../deploy/netns/index.js');
  const rows: DataRow[] = [];
  for (const fetchAhead of [false, true]) {
    const cluster = await startNetnsCluster({
      workers: o.hosts,
      logDir: mkdtempSync(join(tmpdir(), 'faasflow-bench-chains-data-')),
      mode: 'worker',
      token: 'bench-chains-data-token',
      bandwidth: o.bandwidth,
      workerFlags: () => [`--fetch-ahead=${fetchAhead}`],
    });
    const client = new BenchClient(cluster.masterUrl, 4);
    try {
      for (const b of o.benchmarks) {
        const text = readFileSync(join(faasflowBenchmarks(), b, 'flat_workflow.yaml'), 'utf8');
        const shape = await client.deploy(text, {
          name: `cd-${b}`,
          runtimeScale: o.runtimeScale,
          sizeScale: o.sizeScale,
        });
        const gets: number[] = [];
        const e2e: number[] = [];
        let prefetched = 0;
        for (let i = 0; i < o.warmup + o.repetitions; i++) {
          const r = await client.invoke(shape.name, {});
          if (r.status !== 'succeeded') throw new Error(`${shape.name}: ${r.status} ${r.error}`);
          if (i < o.warmup) continue;
          await new Promise((done) => setTimeout(done, 1_200)); // the last steps
          const inv = (await client.invocation(r.invocationId)) as { steps: StepRecord[] };
          gets.push(criticalGetMs(shape, inv.steps));
          e2e.push(r.durationMs);
          for (const s of inv.steps) prefetched += s.prefetched ?? 0;
        }
        rows.push({
          benchmark: b,
          fetchAhead,
          criticalGetMs: median(gets),
          e2eMs: median(e2e),
          prefetched: prefetched / o.repetitions,
        });
        print(
          `  ${b}, fetch-ahead ${fetchAhead ? 'on' : 'off'}: critical-path get ${median(gets).toFixed(1)} ms, e2e ${median(e2e).toFixed(0)} ms`,
        );
      }
    } finally {
      await client.close();
      await cluster.stop();
    }
  }
  const out: DataComparison[] = o.benchmarks.map((b) => {
    const off = rows.find((r) => r.benchmark === b && !r.fetchAhead)!;
    const on = rows.find((r) => r.benchmark === b && r.fetchAhead)!;
    return {
      benchmark: b,
      criticalGetOff: off.criticalGetMs,
      criticalGetOn: on.criticalGetMs,
      reduction: off.criticalGetMs > 0 ? 1 - on.criticalGetMs / off.criticalGetMs : 0,
      e2eOff: off.e2eMs,
      e2eOn: on.e2eMs,
    };
  });
  for (const line of formatTable(
    ['benchmark', 'cp get off', 'cp get on', 'change', 'e2e off', 'e2e on', 'read ahead / inv'],
    out.map((c) => [
      c.benchmark,
      `${c.criticalGetOff.toFixed(1)} ms`,
      `${c.criticalGetOn.toFixed(1)} ms`,
      `${(-c.reduction * 100).toFixed(1)} %`,
      `${c.e2eOff.toFixed(0)} ms`,
      `${c.e2eOn.toFixed(0)} ms`,
      (rows.find((r) => r.benchmark === c.benchmark && r.fetchAhead)?.prefetched ?? 0).toFixed(1),
    ]),
    ['left'],
  ))
    print(line);
  if (o.reportDir !== null) {
    const { print: _p, ...options } = o;
    publishReport(
      'chains-data',
      startedAt,
      { options, rows, comparison: out },
      { print, ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}) },
    );
  }
  return out;
}
