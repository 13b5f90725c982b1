/**
 * `faasflow bench fuzz`: the properties of bench/fuzz (the same ones the tests run a few thousand
 * cases of) run long — the YAML front end, every route of the master, every route of the worker —
 * printing cases per second per property, and for a failure the counterexample with the seed and
 * path that replay exactly it (`--seed S --path P`).
 */
import fc from 'fast-check';
import { formatTable, publishReport } from '../report.js';
import type { FuzzBenchOptions, FuzzTargetName } from './flags.js';
import { httpProperty } from './http.js';
import { startFuzzCluster } from './targets.js';
import { yamlProperties } from './yaml.js';

/** Longest one request may take before it counts as a hang. */
export const HTTP_CASE_TIMEOUT_MS = 10_000;

export type { FuzzBenchOptions } from './flags.js';

export interface FuzzRow {
  target: FuzzTargetName;
  property: string;
  cases: number;
  seconds: number;
  casesPerSecond: number;
  failure: { seed: number; path: string; counterexample: string; error: string } | null;
}

function row(
  target: FuzzTargetName,
  property: string,
  details: fc.RunDetails<unknown>,
  seconds: number,
): FuzzRow {
  const failure = details.failed
    ? {
        seed: details.seed,
        path: details.counterexamplePath ?? '',
        counterexample: fc.stringify(details.counterexample).slice(0, 2000),
        error: (details.errorInstance instanceof Error
          ? details.errorInstance.message
          : String(details.errorInstance)
        ).slice(0, 2000),
      }
    : null;
  return {
    target,
    property,
    cases: details.numRuns,
    seconds,
    casesPerSecond: details.numRuns / Math.max(seconds, 1e-9),
    failure,
  };
}

export async function runFuzzBench(o: FuzzBenchOptions): Promise<FuzzRow[]> {
  const seed = o.seed ?? Math.floor(Math.random() * 2 ** 31);
  const startedAt = new Date();
  const params = (numRuns: number): fc.Parameters<unknown> => ({
    numRuns,
    seed,
    ...(o.path !== undefined ? { path: o.path } : {}),
    endOnFailure: true,
  });
  const yaml = o.targets.includes('yaml') ? yamlProperties() : [];
  const http = o.targets.filter((t): t is 'master' | 'worker' => t !== 'yaml');
  const perProperty = Math.max(1, Math.floor(o.cases / (yaml.length + http.length)));
  o.print(`fuzz: seed ${seed}, ${perProperty} cases per property`);
  const rows: FuzzRow[] = [];
  for (const p of yaml) {
    const t0 = performance.now();
    const details: fc.RunDetails<unknown> = fc.check(p.property, params(perProperty));
    rows.push(row('yaml', p.name, details, (performance.now() - t0) / 1000));
  }
  if (http.length > 0) {
    const cluster = await startFuzzCluster();
    try {
      for (const t of http) {
        const target = t === 'master' ? cluster.master : cluster.worker;
        const t0 = performance.now();
        const details: fc.RunDetails<unknown> = await fc.check(
          httpProperty(target, HTTP_CASE_TIMEOUT_MS),
          params(perProperty),
        );
        rows.push(
          row(t, `every route (${target.routes.length})`, details, (performance.now() - t0) / 1000),
        );
      }
    } finally {
      await cluster.close();
    }
  }
  const table = formatTable(
    ['target', 'property', 'cases', 'seconds', 'cases/s', 'result'],
    rows.map((r) => [
      r.target,
      r.property,
      String(r.cases),
      r.seconds.toFixed(1),
      r.casesPerSecond.toFixed(0),
      r.failure ? 'FAILED' : 'ok',
    ]),
    ['left', 'left', 'right', 'right', 'right', 'left'],
  );
  for (const line of table) o.print(line);
  for (const r of rows.filter((x) => x.failure)) {
    const f = r.failure!;
    o.print('');
    o.print(`FAILED ${r.target} / ${r.property}: ${f.error}`);
    o.print(`  counterexample: ${f.counterexample}`);
    o.print(
      `  replay: faasflow bench fuzz --target ${r.target} --seed ${f.seed} --path ${f.path} --cases ${perProperty}`,
    );
  }
  publishReport(
    'fuzz',
    startedAt,
    { seed, rows },
    {
      print: o.print,
      ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}),
    },
  );
  return rows;
}
