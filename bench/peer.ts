/**
 * `faasflow bench peer`: faasflow against BullMQ flows on the same DAG shapes — chain of 5,
 * fan-out 8 + join, a small Genome-like DAG and foreach of 64 — with no-op functions and with
 * functions that output a 1 MB payload, both systems on the same Redis.
 *
 * - faasflow: master + 2 workers as processes from dist/ (process sandboxes), cross-worker data
 *   in Redis; an invocation is the master's HTTP call with `wait: true`, timed by the client.
 * - BullMQ: 2 worker processes (one Worker per queue, in-process processors; optionally
 *   sandboxed ones too); an invocation is `FlowProducer.add` → the sink's `completed` event.
 * - Latency: closed loop after a warm-up; throughput: C concurrent callers for T seconds after a
 *   warm-up, as invocations/s and jobs/s (invocations × functions per invocation).
 *
 * Before measuring, one invocation per system checks the sink got what the shape says it should.
 * Prints the results and the goals (met or missed; a miss is never an error), and writes them
 * with the machine, the versions and the command line to `.bench/peer-<timestamp>.json`. Keys are
 * created under prefixes of this run only and deleted at the end; nothing else in Redis is
 * touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './paths.js';
import type * as PeerBullmq from './peer-bullmq.js';
import type { BullmqPeer } from './peer-bullmq.js';
import { FaasflowPeer, WORKERS } from './peer-faasflow.js';
import {
  FAASFLOW_TIERS,
  isFaasflowSystem,
  SYSTEMS,
  type PeerBenchOptions,
  type SystemName,
} from './peer-flags.js';
import { closedLoop, openLoop, type Call } from './peer-load.js';
import {
  buildGoals,
  formatGoals,
  formatResults,
  missedGoals,
  type PeerGoal,
  type PeerResult,
} from './peer-rows.js';
import {
  PAYLOADS,
  SHAPES,
  SHAPE_INFO,
  faasflowInput,
  payloadBytes,
  type PayloadName,
  type ShapeName,
} from './peer-shapes.js';
import { gitCommit, machineInfo, publishReport, summarize } from './report.js';

export type { PeerBenchOptions } from './peer-flags.js';

const DEFAULT_SYSTEMS: readonly SystemName[] = SYSTEMS;
/** Unmeasured open loop before the measured one: half as long, at most this long. */
const THROUGHPUT_WARMUP_MAX_MS = 2_000;
const throughputWarmupMs = (durationMs: number): number =>
  Math.min(Math.ceil(durationMs / 2), THROUGHPUT_WARMUP_MAX_MS);

interface Settings {
  repetitions: number;
  payloadRepetitions: number;
  warmup: number;
  payloadWarmup: number;
  durationMs: number;
  concurrency: number;
  payloadConcurrency: number;
  shapes: ShapeName[];
  payloads: PayloadName[];
  payloadBytes: number;
  systems: SystemName[];
  redisUrl: string;
  bullmqProcesses: number;
  bullmqConcurrency: number;
}

export interface PeerFigures {
  options: Settings;
  setup: { faasflow: string; bullmq: string; prefixes: { faasflow: string; bullmq: string } };
  versions: { node: string; faasflow: string; bullmq: string; redis: string | null };
  results: PeerResult[];
  goals: PeerGoal[];
  goalsMissed: string[];
  notes: string[];
}

export interface PeerBenchResult {
  figures: PeerFigures;
  reportPath: string;
}

function settings(options: PeerBenchOptions): Settings {
  const repetitions = options.repetitions ?? 300;
  const warmup = options.warmup ?? 30;
  const concurrency = options.concurrency ?? 32;
  const s: Settings = {
    repetitions,
    payloadRepetitions: options.payloadRepetitions ?? Math.max(5, Math.ceil(repetitions / 6)),
    warmup,
    payloadWarmup: Math.min(warmup, 3),
    durationMs: options.durationMs ?? 5_000,
    concurrency,
    payloadConcurrency: options.payloadConcurrency ?? Math.min(concurrency, 8),
    shapes: options.shapes ?? [...SHAPES],
    payloads: options.payloads ?? [...PAYLOADS],
    payloadBytes: options.payloadBytes ?? 1024 * 1024,
    systems: options.systems ?? [...DEFAULT_SYSTEMS],
    redisUrl: options.redisUrl ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    bullmqProcesses: options.bullmqProcesses ?? 2,
    bullmqConcurrency: options.bullmqConcurrency ?? 8,
  };
  for (const [name, value, min] of [
    ['repetitions', s.repetitions, 1],
    ['payloadRepetitions', s.payloadRepetitions, 1],
    ['warmup', s.warmup, 0],
    ['durationMs', s.durationMs, 1],
    ['concurrency', s.concurrency, 1],
    ['payloadConcurrency', s.payloadConcurrency, 1],
    ['payloadBytes', s.payloadBytes, 1],
    ['bullmqProcesses', s.bullmqProcesses, 1],
    ['bullmqConcurrency', s.bullmqConcurrency, 1],
  ] as const) {
    if (!Number.isInteger(value) || value < min)
      throw new Error(`peer bench: ${name} must be an integer ≥ ${min}, got ${value}`);
  }
  for (const [name, list] of [
    ['shapes', s.shapes],
    ['payloads', s.payloads],
    ['systems', s.systems],
  ] as const) {
    if (list.length === 0) throw new Error(`peer bench: ${name} must not be empty`);
  }
  // Order the systems as SYSTEMS does, whatever order they were given in.
  s.systems = SYSTEMS.filter((x) => s.systems.includes(x));
  return s;
}

/** Fails fast, naming the URL, when nothing listens where Redis should be. */
async function probeRedis(url: string): Promise<void> {
  const u = new URL(url);
  const port = Number(u.port || 6379);
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host: u.hostname, port });
    socket.setTimeout(3_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error(`Redis at ${u.hostname}:${port} did not answer within 3 s (--redis URL)`));
    });
    socket.once('error', (err) =>
      reject(
        new Error(`Redis at ${u.hostname}:${port} is unreachable: ${err.message} (--redis URL)`),
      ),
    );
  });
}

/**
 * bullmq is a devDependency (a peer to measure against, not part of the runtime), so its side of
 * the suite is imported only when the suite runs; an install without dev dependencies gets a
 * sentence instead of a module-resolution stack.
 */
export async function loadBullmqPeer(): Promise<typeof PeerBullmq> {
  try {
    return await import('./peer-bullmq.js');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && /['"]bullmq['"]/.test(e.message))
      throw new Error(
        'bench peer needs the dev dependencies (npm ci): the bullmq package is not installed',
        { cause: err },
      );
    throw err;
  }
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

/** A system while running. */
interface Runner {
  system: SystemName;
  /** Runs one invocation to its end: what the loops time. */
  run(shape: ShapeName, payload: PayloadName): Promise<void>;
  /** Runs one invocation and resolves with what its sink returned (may cost an extra read). */
  sinkValue(shape: ShapeName, payload: PayloadName): Promise<unknown>;
  note(shape: ShapeName, payload: PayloadName): string;
}

export async function runPeerBench(options: PeerBenchOptions = {}): Promise<PeerBenchResult> {
  const print = options.print ?? ((line: string) => console.log(line));
  const s = settings(options);
  const startedAt = new Date();
  const machine = machineInfo();
  const root = repoRoot();
  const git = gitCommit(root);
  await probeRedis(s.redisUrl);
  const { BullmqPeer, deleteRedisPrefix, redisVersion } = await loadBullmqPeer();

  const runId = randomBytes(4).toString('hex');
  const prefixes = { faasflow: `ff-bench-peer-${runId}:`, bullmq: `bench-peer-${runId}` };
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-bench-peer-'));
  const setup = {
    faasflow: `master + ${WORKERS} workers as processes from dist/ (faasflow: process sandboxes; faasflow-thread: worker threads; faasflow-trusted: the workers' own loop; at most 8 warm per function per worker; foreach concurrency 8), cross-worker data in Redis under ${prefixes.faasflow}`,
    bullmq: `${s.bullmqProcesses} worker processes, each with a Worker on queue fn and one on queue sink at concurrency ${s.bullmqConcurrency}; FlowProducer and QueueEvents in the bench process; keys under ${prefixes.bullmq}:`,
  };
  print(`peer bench: ${s.systems.join(', ')} on ${s.redisUrl}; logs in ${logDir}`);
  print(`faasflow: ${setup.faasflow}`);
  print(`BullMQ: ${setup.bullmq}`);

  let ffPeer: FaasflowPeer | null = null;
  const bull: Partial<Record<SystemName, BullmqPeer>> = {};
  let closed: Promise<void> | undefined;
  const closeAll = (): Promise<void> =>
    (closed ??= (async () => {
      const problems: unknown[] = [];
      const attempt = async (f: () => Promise<unknown>): Promise<void> => {
        try {
          await f();
        } catch (err) {
          problems.push(err);
        }
      };
      await attempt(() => ffPeer?.close() ?? Promise.resolve());
      for (const b of Object.values(bull)) await attempt(() => b.close());
      await attempt(() => deleteRedisPrefix(s.redisUrl, prefixes.faasflow));
      if (problems.length > 0) throw problems[0];
    })());
  const stopOnSignal = (): void => {
    print('interrupted: stopping the cluster and the BullMQ workers, deleting the keys');
    void closeAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);

  try {
    const runners: Runner[] = [];
    const faasflowSystems = s.systems.filter(isFaasflowSystem);
    if (faasflowSystems.length > 0) {
      print('starting faasflow');
      const peer = await FaasflowPeer.start({
        redisUrl: s.redisUrl,
        redisPrefix: prefixes.faasflow,
        logDir,
        connections: Math.max(8, s.concurrency, s.payloadConcurrency),
      });
      ffPeer = peer;
      // One cluster serves every tier: the same workers, the tier set per workflow.
      for (const system of faasflowSystems) {
        const tier = FAASFLOW_TIERS[system];
        const groups = new Map<string, string[][]>();
        for (const shape of s.shapes) {
          for (const payload of s.payloads)
            groups.set(`${shape}-${payload}`, await peer.deploy(shape, payload, tier));
        }
        const invoke = (shape: ShapeName, payload: PayloadName): Promise<string> =>
          peer.invoke(
            shape,
            payload,
            faasflowInput(shape, payloadBytes(payload, s.payloadBytes)),
            tier,
          );
        runners.push({
          system,
          run: async (shape, payload) => {
            await invoke(shape, payload);
          },
          sinkValue: async (shape, payload) => peer.output(await invoke(shape, payload)),
          note: (shape, payload) => {
            const g = groups.get(`${shape}-${payload}`) ?? [];
            return `${g.length} group(s), ${tier ?? 'process'} tier`;
          },
        });
      }
    }
    for (const system of ['bullmq', 'bullmq-sandboxed'] as const) {
      if (!s.systems.includes(system)) continue;
      const sandboxed = system === 'bullmq-sandboxed';
      print(
        `starting ${s.bullmqProcesses} BullMQ worker process(es)${sandboxed ? ' with sandboxed processors' : ''}`,
      );
      const peer = await BullmqPeer.start({
        redisUrl: s.redisUrl,
        prefix: prefixes.bullmq,
        queues: sandboxed ? { fn: 'sbx-fn', sink: 'sbx-sink' } : { fn: 'fn', sink: 'sink' },
        processes: s.bullmqProcesses,
        concurrency: s.bullmqConcurrency,
        sandboxed,
        logDir,
      });
      bull[system] = peer;
      runners.push({
        system,
        run: async (shape, payload) => {
          await peer.invoke(shape, payloadBytes(payload, s.payloadBytes));
        },
        // The sink's return value comes with its completed event: no extra read.
        sinkValue: (shape, payload) => peer.invoke(shape, payloadBytes(payload, s.payloadBytes)),
        note: (shape) => SHAPE_INFO[shape].bullmqNote,
      });
    }

    const results: PeerResult[] = [];
    for (const payload of s.payloads) {
      for (const shape of s.shapes) {
        results.push(...(await measureShape(runners, shape, payload, s, print)));
      }
    }
    const goals = buildGoals(results);
    const goalsMissed = missedGoals(goals);
    const notes = setupNotes(s);
    const figures: PeerFigures = {
      options: s,
      setup: { ...setup, prefixes },
      versions: {
        node: process.version,
        faasflow: packageVersion(root),
        bullmq: packageVersion(join(root, 'node_modules', 'bullmq')),
        redis: await redisVersion(s.redisUrl),
      },
      results,
      goals,
      goalsMissed,
      notes,
    };
    print('');
    for (const line of formatResults(results)) print(line);
    print('');
    for (const line of formatGoals(goals)) print(line);
    print('');
    for (const n of notes) print(`note: ${n}`);
    print(goalsMissed.length === 0 ? 'all goals met' : `goals missed: ${goalsMissed.join('; ')}`);
    const reportPath = publishReport('peer', startedAt, figures, {
      ...(options.command === undefined ? {} : { command: options.command }),
      ...(options.reportDir === undefined ? {} : { reportDir: options.reportDir }),
      print,
      machine,
      git,
    });
    return { figures, reportPath };
  } finally {
    process.off('SIGINT', stopOnSignal);
    await closeAll();
  }
}

/** The closed loop of every system, then the open loop of every system, for one case. */
async function measureShape(
  runners: readonly Runner[],
  shape: ShapeName,
  payload: PayloadName,
  s: Settings,
  print: (line: string) => void,
): Promise<PeerResult[]> {
  const info = SHAPE_INFO[shape];
  const withPayload = payload !== 'noop';
  const warmup = withPayload ? s.payloadWarmup : s.warmup;
  const repetitions = withPayload ? s.payloadRepetitions : s.repetitions;
  const concurrency = withPayload ? s.payloadConcurrency : s.concurrency;
  const results = new Map<SystemName, PeerResult>();
  for (const r of runners) {
    checkSink(r.system, shape, payload, await r.sinkValue(shape, payload), s.payloadBytes);
    const call: Call = () => r.run(shape, payload);
    print(
      `${info.label}, ${payload}, ${r.system}: ${warmup} warm-up + ${repetitions} invocations, one at a time`,
    );
    const loop = await closedLoop(call, { warmup, repetitions });
    results.set(r.system, {
      shape,
      payload,
      system: r.system,
      functions: info.functions,
      closed: {
        warmup,
        repetitions,
        latency: summarize(loop.latencyMs),
        failures: loop.failures,
        gaveUp: loop.gaveUp,
      },
      open: null,
      note: r.note(shape, payload),
    });
  }
  const warmupMs = throughputWarmupMs(s.durationMs);
  for (const r of runners) {
    const call: Call = () => r.run(shape, payload);
    print(
      `${info.label}, ${payload}, ${r.system}: ${concurrency} callers, ${warmupMs} ms warm-up + ${s.durationMs} ms`,
    );
    await openLoop(call, { concurrency, durationMs: warmupMs });
    const loop = await openLoop(call, { concurrency, durationMs: s.durationMs });
    results.get(r.system)!.open = {
      concurrency: loop.concurrency,
      warmupMs,
      elapsedMs: loop.elapsedMs,
      completed: loop.completed,
      invocationsPerSec: loop.invocationsPerSec,
      jobsPerSec: loop.invocationsPerSec * info.functions,
      latency: summarize(loop.latencyMs),
      failures: loop.failures,
      gaveUp: loop.gaveUp,
    };
  }
  return [...results.values()];
}

/** A sink with a payload must have received exactly the shape's bytes; a no-op's must answer. */
function checkSink(
  system: SystemName,
  shape: ShapeName,
  payload: PayloadName,
  value: unknown,
  bytes: number,
): void {
  const where = `${system}, ${SHAPE_INFO[shape].label}, ${payload}`;
  if (payload === 'noop') {
    if (value === undefined || value === null)
      throw new Error(`${where}: the sink returned nothing`);
    return;
  }
  const want = SHAPE_INFO[shape].sinkBytes(bytes);
  const got = (value as { bytes?: unknown } | null)?.bytes;
  if (got !== want)
    throw new Error(`${where}: the sink received ${String(got)} payload bytes, expected ${want}`);
}

function setupNotes(s: Settings): string[] {
  const notes = [
    "BullMQ flows are trees (one parent per job: taskforcesh/bullmq#2453, #3812), so genome's diamond (merge → 2 analyses → sink) runs as 2 flows: flow 1 is merge with the 5 individuals as children; merge's processor adds flow 2, the sink with the 2 analyses as children, carrying merge's output in their job data. Chain of 5 is nested children; fan-out 8 + join (no producer before the fan-out) and foreach of 64 are one flow each.",
    'Latency: faasflow, the client-observed POST /v1/workflows/:name/invocations with wait: true; BullMQ, FlowProducer.add until QueueEvents reports the sink completed. Both loops run in this process; both systems run in processes of their own.',
    `Payload runs: every function but the sink outputs ${s.payloadBytes} bytes (faasflow: a Buffer, carried as binary; BullMQ: a string, its job values being JSON) and each reads its input (BullMQ: getChildrenValues); the sink returns { bytes } of what it received, checked before measuring.`,
    `Throughput: ${s.concurrency} callers (${s.payloadConcurrency} with a payload), ${throughputWarmupMs(s.durationMs)} ms warm-up then ${s.durationMs} ms measured; jobs/s = invocations/s × functions per invocation (chain 5, fan-out 9, genome 9, foreach 65).`,
  ];
  if (s.systems.includes('bullmq-sandboxed'))
    notes.push(
      'bullmq-sandboxed: the same workers with sandboxed processors (BullMQ forks a child process per concurrent job slot and talks to it over IPC); goals compare against in-process bullmq.',
    );
  return notes;
}
