/**
 * `faasflow bench chains --starts` (docs/guides/chains.md#the-start-gate): what the worker's start
 * gate does to a burst of sandbox starts — what an eager invocation asks of a worker at once.
 * `burst` prepares for as many functions arrive together on one sandbox, each needed 1 ms after
 * the one before (its deadline); measured is when the 1st, 2nd, 4th and last are ready, with no
 * gate (every start at once) and with the gate at 2, 4 and the machine's cores, interleaved round
 * by round so the machine's noise falls on every setting alike.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { NOOP } from './sandbox.js';
import { parseWorkerId } from '../shared/ids.js';
import { DockerSandbox } from '../worker/sandbox/docker.js';
import { ProcessSandbox } from '../worker/sandbox/process.js';
import { StartGate } from '../worker/sandbox/start-gate.js';
import type { Sandbox } from '../worker/sandbox/types.js';
import { formatTable, median, publishReport } from './report.js';

export interface StartsBenchOptions {
  runtime: 'process' | 'docker';
  /** Starts asked for at once. */
  burst: number;
  repetitions: number;
  reportDir?: string | null;
  print: (line: string) => void;
}

export interface StartsRow {
  /** 0: no gate. */
  limit: number;
  /** Median ms from the burst to the k-th sandbox ready, k = 1, 2, 4 and the last. */
  firstMs: number;
  secondMs: number;
  fourthMs: number;
  lastMs: number;
}

export async function runStartsBench(o: StartsBenchOptions): Promise<StartsRow[]> {
  const startedAt = new Date();
  const cores = availableParallelism();
  const limits = [...new Set([0, 2, 4, cores])].sort((a, b) => a - b);
  o.print(
    `chains (starts): ${o.runtime} sandboxes, a burst of ${o.burst} prepares, ${o.repetitions} repetitions, gate limits ${limits.join(', ')} (0: none; this machine has ${cores} cores)`,
  );
  const samples = new Map<number, number[][]>(limits.map((l) => [l, []]));
  for (let rep = 0; rep < o.repetitions; rep++)
    for (const limit of limits) samples.get(limit)!.push(await burst(o, limit, rep));
  const rows = limits.map((limit): StartsRow => {
    const runs = samples.get(limit)!;
    const at = (k: number): number => median(runs.map((r) => r[Math.min(k, r.length) - 1]!));
    return {
      limit,
      firstMs: at(1),
      secondMs: at(2),
      fourthMs: at(4),
      lastMs: at(o.burst),
    };
  });
  const ms = (x: number): string => `${x.toFixed(0)} ms`;
  const none = rows[0]!;
  for (const line of formatTable(
    ['gate', '1st ready', '2nd', '4th', `last (${o.burst})`, '1st vs no gate', 'last vs no gate'],
    rows.map((r) => [
      r.limit === 0 ? 'none' : `${r.limit} at once`,
      ms(r.firstMs),
      ms(r.secondMs),
      ms(r.fourthMs),
      ms(r.lastMs),
      `${(r.firstMs / none.firstMs).toFixed(2)}×`,
      `${(r.lastMs / none.lastMs).toFixed(2)}×`,
    ]),
    ['left'],
  ))
    o.print(line);
  o.print('Medians over the repetitions; every setting runs once per repetition, in turn.');
  if (o.reportDir !== null) {
    const { print, ...options } = o;
    publishReport(
      'chains-starts',
      startedAt,
      { options, rows },
      { print, ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}) },
    );
  }
  return rows;
}

/** One burst on a fresh sandbox: ms from the burst to each prepare's sandbox being ready, sorted. */
async function burst(o: StartsBenchOptions, limit: number, rep: number): Promise<number[]> {
  const workerId = parseWorkerId(`bench-starts-${process.pid}-${rep}-${limit}`);
  const startGate = new StartGate(limit);
  const sandbox: Sandbox =
    o.runtime === 'docker'
      ? await DockerSandbox.create({ workerId, startGate })
      : await ProcessSandbox.create({ workerId, startGate });
  try {
    const keys: string[] = [];
    for (let i = 0; i < o.burst; i++) {
      const key = `bench-starts@1/f${i}`;
      keys.push(key);
      await sandbox.deploy({
        key,
        workflow: 'bench-starts',
        version: 1,
        fn: { ...NOOP, name: `f${i}` },
        baseDir: tmpdir(),
      });
    }
    const t0 = performance.now();
    const now = Date.now();
    const ready = await Promise.all(
      keys.map(async (key, i) => {
        if (!(await sandbox.prepareAhead!(key, 60_000, 1, now + i)))
          throw new Error(`${key}: the prepare started nothing`);
        return performance.now() - t0;
      }),
    );
    return ready.sort((a, b) => a - b);
  } finally {
    await sandbox.close();
  }
}
