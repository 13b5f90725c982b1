/**
 * `faasflow bench overhead`: what the runtime itself costs, measured with no-op functions.
 *
 * - Sandbox floor: a no-op through the worker's process sandbox, in this process (the part of a
 *   node's time that is not the engine's).
 * - Per-edge overhead, local and remote, from timelines of a 2-task chain the partitioner keeps
 *   on one worker and one it must split (each function asks 2048 MB of workers offering 3072).
 * - End to end: chain of 5 and fan-out 8 + join, client-observed (performance.now() around the
 *   waiting HTTP call) and the master's durationMs, closed loop after a warm-up.
 * - Throughput: a one-task no-op, C concurrent callers for T seconds.
 * - Transports (own cluster only): the edges and the chain of 5 again on two more clusters,
 *   `transport: http` and `transport: channel`, side by side with the CPU time per invocation of
 *   each process (./overhead-transport.ts).
 *
 * Starts its own cluster (master with round-robin placement + 2 workers as processes from dist/,
 * process sandboxes, no Redis) unless given a master URL; edges are classified local or remote
 * by where their steps actually ran, whatever the cluster. Prints a table against the goals and writes the figures,
 * machine, commit and command line to `.bench/overhead-<timestamp>.json`. A missed goal is
 * reported, not an error.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LocalCluster } from '../deploy/local-cluster.js';
import { repoRoot } from './paths.js';
import {
  BenchClient,
  closedLoop,
  collectTimelines,
  openLoop,
  type ClosedLoopResult,
  type LoopFailures,
  type OpenLoopResult,
  type WorkflowShape,
} from './overhead-load.js';
import {
  buildRows,
  formatRows,
  missedGoals,
  type OverheadRow,
  type WorkflowRun,
} from './overhead-rows.js';
import { measureSandboxFloor } from './overhead-sandbox.js';
import type { OverheadBenchOptions } from './overhead-flags.js';
import {
  summarizeTimeline,
  type TimelineSamples,
  type TimelineSummary,
} from './overhead-timeline.js';
import { gitCommit, machineInfo, publishReport, summarize, type Summary } from './report.js';
import {
  formatTransportTable,
  measureTransport,
  TRANSPORTS,
  type TransportFigures,
} from './overhead-transport.js';

export type { OverheadBenchOptions } from './overhead-flags.js';

/** The workflows, by role; files in bench/workflows. */
export const WORKFLOWS = {
  localChain: 'chain-2-local.yaml',
  remoteChain: 'chain-2-remote.yaml',
  chain5: 'chain-5.yaml',
  fanout: 'fanout-8-join.yaml',
  single: 'single.yaml',
} as const;
export type WorkflowRole = keyof typeof WORKFLOWS;

/** Workers offer this much, so two 2048 MB functions cannot share one. */
const WORKER_MEMORY_MB = 3072;
/**
 * The default placement: greedy-JSQ keeps an invocation's groups within each worker's memory,
 * so the two 2048 MB groups of the remote chain land on different workers.
 */
const PLACEMENT = 'greedy-jsq';
const INPUT = { n: 1 };

type LoopedRole = Exclude<WorkflowRole, 'single'>;
const LOOPED: readonly LoopedRole[] = ['localChain', 'remoteChain', 'chain5', 'fanout'];

export interface WorkflowFigures {
  name: string;
  groups: string[][];
  iterations: number;
  failures: LoopFailures;
  clientMs: Summary | null;
  masterMs: Summary | null;
  timeline: TimelineSummary;
}

export interface OverheadFigures {
  options: {
    iterations: number;
    warmup: number;
    concurrency: number;
    throughputMs: number;
    cluster: string;
  };
  sandboxFloor: { callMs: Summary | null; runMs: Summary | null };
  workflows: Record<LoopedRole, WorkflowFigures>;
  throughput: {
    concurrency: number;
    elapsedMs: number;
    completed: number;
    invocationsPerSec: number;
    clientMs: Summary | null;
    failures: LoopFailures;
  };
  rows: OverheadRow[];
  goalsMissed: string[];
  /** http and channel side by side (own cluster only; empty with --master). */
  transports: TransportFigures[];
}

export interface OverheadBenchResult {
  figures: OverheadFigures;
  reportPath: string;
}

export async function runOverheadBench(
  options: OverheadBenchOptions = {},
): Promise<OverheadBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const o = {
    iterations: options.iterations ?? 500,
    warmup: options.warmup ?? 50,
    concurrency: options.concurrency ?? 32,
    throughputMs: options.throughputMs ?? 5_000,
  };
  for (const [name, value, min] of [
    ['iterations', o.iterations, 1],
    ['warmup', o.warmup, 0],
    ['concurrency', o.concurrency, 1],
    ['throughputMs', o.throughputMs, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min)
      throw new Error(`overhead bench: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  const startedAt = new Date();
  const machine = machineInfo();
  const git = gitCommit(repoRoot());

  print(
    `sandbox floor: ${o.warmup} + ${o.iterations} no-op calls through a process sandbox in this process`,
  );
  const floor = await measureSandboxFloor({
    warmup: o.warmup,
    iterations: o.iterations,
    input: INPUT,
  });
  const sandboxFloor = { callMs: summarize(floor.callMs), runMs: summarize(floor.runMs) };

  const cluster = options.masterUrl === undefined ? await startCluster(print) : null;
  const masterUrl = options.masterUrl ?? cluster!.masterUrl;
  const client = new BenchClient(masterUrl, Math.max(8, o.concurrency));
  const stopOnSignal = (): void => {
    print('interrupted: stopping the cluster');
    void (cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  try {
    const shapes = await deployAll(client);
    const remoteGroups = shapes.remoteChain.groups.length;
    if (remoteGroups < 2) {
      print(
        `warning: ${shapes.remoteChain.name} is one group, so no remote edges will be measured: that needs 2 workers offering under 4096 MB each (--memory-mb=${WORKER_MEMORY_MB})`,
      );
    }
    const { runs, workflows } = await loopWorkflows(client, shapes, o, print);
    const open = await measureThroughput(client, shapes.single.name, o, print);
    const rows = buildRows({
      floorCallMs: floor.callMs,
      workflows: runs,
      throughput: { ...open, failed: open.failures.count },
    });
    const goalsMissed = missedGoals(rows);
    const throughput = {
      concurrency: open.concurrency,
      elapsedMs: open.elapsedMs,
      completed: open.completed,
      invocationsPerSec: open.invocationsPerSec,
      clientMs: summarize(open.clientMs),
      failures: open.failures,
    };
    const figures: OverheadFigures = {
      options: {
        ...o,
        cluster: cluster
          ? `local: master (--placement=${PLACEMENT}) + 2 workers (process sandboxes, --memory-mb=${WORKER_MEMORY_MB}, no Redis)`
          : masterUrl,
      },
      sandboxFloor,
      workflows,
      throughput,
      rows,
      goalsMissed,
      transports: [],
    };
    if (cluster) {
      // The main cluster is not needed any more: free its cores for the comparison.
      await client.close();
      await cluster.stop();
      for (const t of TRANSPORTS)
        figures.transports.push(
          await measureTransport(
            t,
            {
              warmup: o.warmup,
              iterations: o.iterations,
              workerMemoryMb: WORKER_MEMORY_MB,
              placement: PLACEMENT,
            },
            print,
          ),
        );
    }
    printResults(figures, print);
    const reportPath = publishReport('overhead', startedAt, figures, {
      ...(options.command === undefined ? {} : { command: options.command }),
      ...(options.reportDir === undefined ? {} : { reportDir: options.reportDir }),
      print,
      machine,
      git,
    });
    return { figures, reportPath };
  } finally {
    process.off('SIGINT', stopOnSignal);
    await client.close();
    await cluster?.stop();
  }
}

type Settings = Required<
  Pick<OverheadBenchOptions, 'iterations' | 'warmup' | 'concurrency' | 'throughputMs'>
>;

/** The closed loops, one workflow after the other, each followed by the read of its timelines. */
async function loopWorkflows(
  client: BenchClient,
  shapes: Record<WorkflowRole, WorkflowShape>,
  o: Settings,
  print: (line: string) => void,
): Promise<{
  runs: Record<LoopedRole, WorkflowRun>;
  workflows: Record<LoopedRole, WorkflowFigures>;
}> {
  const runs = {} as Record<LoopedRole, WorkflowRun>;
  const workflows = {} as Record<LoopedRole, WorkflowFigures>;
  for (const role of LOOPED) {
    const shape = shapes[role];
    print(
      `${shape.name}: ${o.warmup} warm-up + ${o.iterations} measured invocations, one at a time (${shape.groups.length} group(s))`,
    );
    const loop = await closedLoop(client, shape.name, {
      warmup: o.warmup,
      iterations: o.iterations,
      input: INPUT,
    });
    if (loop.clientMs.length === 0) {
      throw new Error(
        `every invocation of ${shape.name} failed; first: ${loop.failures.first ?? 'unknown'}`,
      );
    }
    const timeline = await collectTimelines(client, shape, loop.invocationIds);
    runs[role] = {
      name: shape.name,
      groups: shape.groups.length,
      clientMs: loop.clientMs,
      masterMs: loop.masterMs,
      timeline,
    };
    workflows[role] = figuresOf(shape, o.iterations, loop, timeline);
  }
  return { runs, workflows };
}

/** An unmeasured open loop as long as the measured one (warms C sandboxes), then the measured. */
async function measureThroughput(
  client: BenchClient,
  name: string,
  o: Settings,
  print: (line: string) => void,
): Promise<OpenLoopResult> {
  print(
    `${name}: ${o.concurrency} concurrent callers, ${o.throughputMs} ms warm-up then ${o.throughputMs} ms measured`,
  );
  const loop = { concurrency: o.concurrency, durationMs: o.throughputMs, input: INPUT };
  await openLoop(client, name, loop);
  return openLoop(client, name, loop);
}

function printResults(f: OverheadFigures, print: (line: string) => void): void {
  print('');
  for (const line of formatRows(f.rows)) print(line);
  print('');
  for (const w of Object.values(f.workflows)) {
    if (w.failures.count > 0) {
      print(
        `${w.name}: ${w.failures.count} invocation(s) failed; first: ${w.failures.first ?? ''}`,
      );
    }
    if (w.timeline.unusable > 0) {
      print(
        `${w.name}: ${w.timeline.unusable} of ${w.timeline.invocations} timelines incomplete (left out)`,
      );
    }
  }
  const t = f.throughput;
  if (t.failures.count > 0)
    print(`throughput: ${t.failures.count} failed; first: ${t.failures.first ?? ''}`);
  print(f.goalsMissed.length === 0 ? 'all goals met' : `goals missed: ${f.goalsMissed.join('; ')}`);
  if (f.transports.length > 0) {
    print('');
    for (const line of formatTransportTable(f.transports)) print(line);
  }
}

async function startCluster(print: (line: string) => void): Promise<LocalCluster> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-overhead-'));
  print(
    `starting master (--placement=${PLACEMENT}) + 2 workers (--memory-mb=${WORKER_MEMORY_MB}); logs in ${logDir}`,
  );
  const cluster = new LocalCluster({
    workers: 2,
    runtime: 'process',
    placement: PLACEMENT,
    logDir,
    workerFlags: () => [`--memory-mb=${WORKER_MEMORY_MB}`],
  });
  try {
    return await cluster.start();
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function deployAll(client: BenchClient): Promise<Record<WorkflowRole, WorkflowShape>> {
  const dir = join(repoRoot(), 'bench', 'workflows');
  const shapes = {} as Record<WorkflowRole, WorkflowShape>;
  for (const [role, file] of Object.entries(WORKFLOWS) as [WorkflowRole, string][]) {
    shapes[role] = await client.deploy(readFileSync(join(dir, file), 'utf8'));
  }
  return shapes;
}

function figuresOf(
  shape: WorkflowShape,
  iterations: number,
  loop: ClosedLoopResult,
  timeline: TimelineSamples,
): WorkflowFigures {
  return {
    name: shape.name,
    groups: shape.groups,
    iterations,
    failures: loop.failures,
    clientMs: summarize(loop.clientMs),
    masterMs: summarize(loop.masterMs),
    timeline: summarizeTimeline(timeline),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { parseArgs } = await import('../shared/flags.js');
  const { overheadOptionsFromFlags } = await import('./overhead-flags.js');
  const parsed = overheadOptionsFromFlags(
    parseArgs(process.argv.slice(2), new Set(['smoke'])).flags,
  );
  if ('error' in parsed) {
    console.error(parsed.error);
    process.exitCode = 2;
  } else {
    await runOverheadBench(parsed.options).catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
  }
}
