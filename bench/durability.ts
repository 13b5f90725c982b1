/**
 * `faasflow bench durability`: what durability costs and what it recovers (docs/durability.md).
 *
 * - Cost per group boundary: the two-task chain the partitioner must split over two workers
 *   (bench/workflows/chain-2-remote.yaml), deployed three times — `durability: none`,
 *   `checkpoint`, `strict` — and invoked in turn, none / checkpoint / strict, so the machine's
 *   drift hits all three alike. Per mode: the remote edge's engine time from the timelines
 *   (`child.startedAt − parent.finishedAt`: commit, trigger, input) and the client-observed
 *   latency; the cost of a mode is its p50 minus `none`'s.
 * - Recovery: a diamond of 150 ms functions under `checkpoint`, N invocations started at once,
 *   one worker killed with SIGKILL 200 ms in; how many were re-placed, how many succeeded with
 *   a consistent result, and the time from the kill until each re-placed one finished.
 *
 * Starts its own cluster: master + 3 workers as processes from dist/, Redis (its own key
 * prefix, removed at the end), workers offering 3072 MB so each 2048 MB function is a group.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LocalCluster } from '../deploy/local-cluster.js';
import { flagReader } from './flag-reader.js';
import { analyzeTimeline, readSteps } from './overhead-timeline.js';
import { BenchClient } from './overhead-load.js';
import { repoRoot } from './paths.js';
import { deletePrefix, uniquePrefix } from './redis.js';
import {
  formatDuration,
  formatTable,
  machineInfo,
  publishReport,
  summarize,
  type Summary,
} from './report.js';

export interface DurabilityBenchOptions {
  /** Measured invocations per mode. */
  iterations: number;
  warmup: number;
  /** Invocations in flight when the worker is killed. */
  recoveryInvocations: number;
  redisUrl: string;
  reportDir?: string;
  print: (line: string) => void;
}

export const DURABILITY_DEFAULTS: Omit<DurabilityBenchOptions, 'print'> = {
  iterations: 300,
  warmup: 50,
  recoveryInvocations: 24,
  redisUrl: 'redis://127.0.0.1:6379',
};

export const DURABILITY_SMOKE: Partial<DurabilityBenchOptions> = {
  iterations: 10,
  warmup: 5,
  recoveryInvocations: 6,
};

const MODES = ['none', 'checkpoint', 'strict'] as const;
type Mode = (typeof MODES)[number];

export interface ModeFigures {
  mode: Mode;
  remoteEdgeMs: Summary | null;
  clientMs: Summary | null;
  /** The journal commits themselves, as the workers timed them (steps' `commitMs`). */
  commitMs: Summary | null;
  /** p50 over `none`'s, ms. */
  costPerBoundaryMs: number | null;
  failures: number;
}

export interface RecoveryFigures {
  invocations: number;
  succeeded: number;
  consistent: number;
  recovered: number;
  /** Kill → finish, of the re-placed invocations. */
  recoverMs: Summary | null;
  /** Kill → the last invocation finished. */
  allDoneMs: number;
}

export interface DurabilityFigures {
  modes: ModeFigures[];
  recovery: RecoveryFigures;
  goalCheckpointMs: number;
}

const RECOVERY_WORKFLOW = `name: bench-durable-diamond
durability: checkpoint
functions:
  a: { memory: 2048, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 150)); return { id: x.id, r: Math.random() }; }" }
  b: { memory: 2048, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 150)); return { id: x.id, r: x.r }; }" }
  c: { memory: 2048, code: "export default async (x) => { await new Promise((r) => setTimeout(r, 150)); return { id: x.id, r: x.r }; }" }
  d: { memory: 2048, code: "export default async (x) => ({ id: x.b.id, consistent: x.b.r === x.c.r })" }
dag:
  a: { task: a }
  b: { task: b, after: [a] }
  c: { task: c, after: [a] }
  d: { task: d, after: [b, c] }
`;

export async function runDurabilityBench(o: DurabilityBenchOptions): Promise<DurabilityFigures> {
  const startedAt = new Date();
  const machine = machineInfo();
  const prefix = uniquePrefix('bench-durability');
  const cluster = new LocalCluster({
    workers: 3,
    logDir: mkdtempSync(join(tmpdir(), 'faasflow-bench-durability-')),
    redisUrl: o.redisUrl,
    placement: 'greedy-jsq',
    masterFlags: [
      `--redis-url=${o.redisUrl}`,
      `--redis-prefix=${prefix}`,
      '--worker-timeout-ms=1500',
    ],
    workerFlags: () => [`--redis-prefix=${prefix}`, '--memory-mb=3072', '--heartbeat-ms=250'],
  });
  await cluster.start();
  const client = new BenchClient(cluster.masterUrl);
  try {
    o.print(`cluster: master + 3 workers, Redis ${o.redisUrl} (prefix ${prefix})`);
    const modes = await measureModes(client, o);
    const recovery = await measureRecovery(client, cluster, o);
    const figures: DurabilityFigures = { modes, recovery, goalCheckpointMs: 0.2 };
    print(figures, o.print);
    publishReport('durability', startedAt, figures, {
      print: o.print,
      machine,
      ...(o.reportDir ? { reportDir: o.reportDir } : {}),
    });
    return figures;
  } finally {
    await client.close();
    await cluster.stop(10_000);
    await deletePrefix(prefix).catch(() => undefined);
  }
}

async function measureModes(
  client: BenchClient,
  o: DurabilityBenchOptions,
): Promise<ModeFigures[]> {
  const base = readFileSync(join(repoRoot(), 'bench', 'workflows', 'chain-2-remote.yaml'), 'utf8');
  const shapes = new Map<Mode, Awaited<ReturnType<BenchClient['deploy']>>>();
  for (const mode of MODES) {
    const yaml = base
      .replace(/^name: .*$/m, `name: bench-chain-2-remote-${mode}\ndurability: ${mode}`)
      .replace(/^#.*$/gm, '');
    shapes.set(mode, await client.deploy(yaml));
  }
  const edge = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  const latency = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  const failures = new Map<Mode, number>(MODES.map((m) => [m, 0]));
  const commits = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  for (let i = 0; i < o.warmup + o.iterations; i++) {
    for (const mode of MODES) {
      const shape = shapes.get(mode)!;
      const r = await client.invoke(shape.name, { n: i });
      if (r.status !== 'succeeded') {
        failures.set(mode, failures.get(mode)! + 1);
        continue;
      }
      if (i < o.warmup) continue;
      latency.get(mode)!.push(r.clientMs);
      const view = await client.invocation(r.invocationId);
      for (const st of (view as { steps?: { commitMs?: unknown }[] }).steps ?? [])
        if (typeof st.commitMs === 'number') commits.get(mode)!.push(st.commitMs);
      const steps = readSteps(view);
      if ('problem' in steps) continue;
      const t = analyzeTimeline(shape.nodes, shape.edges, steps.steps);
      for (const e of t?.edges ?? []) if (e.kind === 'remote') edge.get(mode)!.push(e.edgeEngineMs);
    }
  }
  const noneP50 = summarize(edge.get('none')!)?.p50Ms ?? null;
  return MODES.map((mode) => {
    const remoteEdgeMs = summarize(edge.get(mode)!);
    return {
      mode,
      remoteEdgeMs,
      clientMs: summarize(latency.get(mode)!),
      commitMs: summarize(commits.get(mode)!),
      costPerBoundaryMs:
        remoteEdgeMs && noneP50 !== null && mode !== 'none' ? remoteEdgeMs.p50Ms - noneP50 : null,
      failures: failures.get(mode)!,
    };
  });
}

async function measureRecovery(
  client: BenchClient,
  cluster: LocalCluster,
  o: DurabilityBenchOptions,
): Promise<RecoveryFigures> {
  await client.deploy(RECOVERY_WORKFLOW);
  const ids: string[] = [];
  for (let i = 0; i < o.recoveryInvocations; i++) {
    const res = (await fetch(
      `${cluster.masterUrl}/v1/workflows/bench-durable-diamond/invocations`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { id: i }, wait: false, timeoutMs: 60_000 }),
      },
    ).then((r) => r.json())) as { invocationId: string };
    ids.push(res.invocationId);
  }
  await sleep(200);
  const killedAt = Date.now();
  await cluster.kill('worker-2', 'SIGKILL', 0);
  type View = {
    status: string;
    finishedAt: string | null;
    output?: { consistent?: boolean };
    durability?: { recoveries?: number };
  };
  let views: View[] = [];
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    views = (await Promise.all(ids.map((id) => client.invocation(id)))) as View[];
    if (views.every((v) => v.status !== 'running')) break;
    await sleep(50);
  }
  const finished = views.map((v) => (v.finishedAt ? Date.parse(v.finishedAt) : NaN));
  const recovered = views.filter((v) => (v.durability?.recoveries ?? 0) > 0);
  return {
    invocations: ids.length,
    succeeded: views.filter((v) => v.status === 'succeeded').length,
    consistent: views.filter((v) => v.output?.consistent === true).length,
    recovered: recovered.length,
    recoverMs: summarize(
      views
        .map((v, i) => ((v.durability?.recoveries ?? 0) > 0 ? finished[i]! - killedAt : NaN))
        .filter((x) => Number.isFinite(x)),
    ),
    allDoneMs: Math.max(...finished.filter((x) => Number.isFinite(x))) - killedAt,
  };
}

function print(f: DurabilityFigures, out: (line: string) => void): void {
  out('');
  out('cost per group boundary (remote edge engine time, p50 / p99; latency p50):');
  for (const line of formatTable(
    ['mode', 'remote edge p50', 'p99', 'over none (p50)', 'commit p50', 'client p50', 'failures'],
    f.modes.map((m) => [
      m.mode,
      formatDuration(m.remoteEdgeMs?.p50Ms),
      formatDuration(m.remoteEdgeMs?.p99Ms),
      m.costPerBoundaryMs === null ? '—' : formatDuration(m.costPerBoundaryMs),
      m.commitMs ? formatDuration(m.commitMs.p50Ms) : '—',
      formatDuration(m.clientMs?.p50Ms),
      String(m.failures),
    ]),
    ['left', 'right', 'right', 'right', 'right', 'right', 'right'],
  ))
    out(line);
  const cp = f.modes.find((m) => m.mode === 'checkpoint')?.costPerBoundaryMs;
  out(
    `checkpoint goal ≤ ${f.goalCheckpointMs} ms per boundary: ${cp === null || cp === undefined ? 'not measured' : cp <= f.goalCheckpointMs ? 'met' : 'missed'}`,
  );
  const r = f.recovery;
  out('');
  out(
    `recovery: ${r.invocations} invocations in flight, worker-2 killed with SIGKILL: ${r.succeeded} succeeded (${r.consistent} consistent), ${r.recovered} re-placed; kill → re-placed finished p50 ${formatDuration(r.recoverMs?.p50Ms)}, max ${formatDuration(r.recoverMs?.maxMs)}; kill → all done ${formatDuration(r.allDoneMs)}`,
  );
}

const KNOWN = ['smoke', 'iterations', 'warmup', 'invocations', 'redis', 'out'] as const;

/** The suite's flags (`faasflow bench durability --help`), every problem at once. */
export function durabilityOptionsFromFlags(
  camelFlags: Record<string, string | boolean>,
): { options: Omit<DurabilityBenchOptions, 'print'> } | { error: string } {
  const { flags, problems, str, int } = flagReader(camelFlags, 'durability', KNOWN);
  const o: Omit<DurabilityBenchOptions, 'print'> = {
    ...DURABILITY_DEFAULTS,
    ...(flags['smoke'] === true ? DURABILITY_SMOKE : {}),
  };
  const iterations = int('iterations', 1);
  if (iterations !== undefined) o.iterations = iterations;
  const warmup = int('warmup', 0);
  if (warmup !== undefined) o.warmup = warmup;
  const invocations = int('invocations', 1);
  if (invocations !== undefined) o.recoveryInvocations = invocations;
  const redis = str('redis');
  if (redis !== undefined) o.redisUrl = redis;
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}
