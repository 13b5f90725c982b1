/**
 * `faasflow bench sandbox`: what a function call costs in each tier (process, docker, thread,
 * trusted), measured side by side in one run in this process through the worker's own sandboxes
 * exactly as the engine calls them.
 *
 * - cold start: `sandbox.run()` on a function with no idle sandbox, so the call creates one
 *   (process: spawn; docker: create → start → connect → load; thread: a new worker thread;
 *   trusted: a new slot, the module already loaded) and gets its first response;
 * - warm invocation: `sandbox.run()` of a no-op on an idle sandbox (lease, request, answer,
 *   release);
 * - chain of 5: five warm calls in a row, each given the previous output (what a sequence of 5
 *   costs in the sandbox alone), with a no-op's small input and with a 1 MB Buffer;
 * - live resize: `sandbox.resize()` of a live sandbox between two allocations (process: cgroup
 *   writes; docker: the container's cgroup directly, and the engine's update API with cgroups
 *   off). Threads and trusted slots have no cgroup: no resize row.
 *
 * Docker rows are skipped, with the reason printed, when no engine or runtime image is there.
 * Goals (issue 4, on the 2-core bench machines): docker cold start ≤ 150 ms p50, warm ≤ 0.2 ms p50.
 */
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeValue } from '../shared/codec.js';
import type { FunctionSpec } from '../shared/dag/types.js';
import { newInvocationId, parseWorkerId } from '../shared/ids.js';
import { DockerSandbox } from '../worker/sandbox/docker.js';
import { ProcessSandbox } from '../worker/sandbox/process.js';
import { ThreadSandbox } from '../worker/sandbox/thread.js';
import { TrustedSandbox } from '../worker/sandbox/trusted.js';
import type { Allocation } from '../shared/schema/wire.js';
import type { FunctionDeployment, RunRequest, Sandbox } from '../worker/sandbox/types.js';
import { formatDuration, formatTable, publishReport, summarize, type Summary } from './report.js';

export const BENCH_TIERS = ['process', 'docker', 'thread', 'trusted'] as const;
export type BenchTier = (typeof BENCH_TIERS)[number];

export interface SandboxBenchOptions {
  /** Which tiers to measure. Default all (docker skipped with a reason when absent). */
  sandboxes?: BenchTier[];
  /** Cold starts per row. Default 20. */
  coldSamples?: number;
  /** Unmeasured warm calls first. Default 200. */
  warmup?: number;
  /** Measured warm calls. Default 2000. */
  warmIterations?: number;
  /** Resizes per row. Default 50. */
  resizeSamples?: number;
  /** Measured chains of 5 per payload. Default 200 (no-op), 40 (1 MB). */
  chainIterations?: number;
  /** The chain's payload, bytes. Default 1 MiB. */
  payloadBytes?: number;
  /** Where the JSON report goes; null writes none. Default `.bench`. */
  reportDir?: string | null;
  /** Where the table goes. Default console.log. */
  print?: (line: string) => void;
}

export interface SandboxBenchRow {
  sandbox: BenchTier;
  variant: string;
  /** Why the row has no figures (no Docker engine, no image); null when measured. */
  skipped: string | null;
  coldStart: Summary | null;
  warm: Summary | null;
  /** Five warm calls in a row, each fed the previous output: no-op. */
  chain5: Summary | null;
  /** The same with a Buffer of `payloadBytes`. */
  chain5Payload: Summary | null;
  /** Null for tiers without a cgroup (thread, trusted). */
  resize: Summary | null;
}

export interface SandboxBenchReport {
  rows: SandboxBenchRow[];
  reportPath: string | null;
}

/** A no-op inline function (shared by the sandbox benches). */
export const NOOP: FunctionSpec = {
  name: 'noop',
  source: { kind: 'code', code: 'export default async (x) => x' },
  cpu: 1,
  memoryMb: 256,
  timeoutMs: 10_000,
  retries: 0,
  network: 'none',
  runtimeMs: 1,
  outputBytes: 16,
};
const BASE: Allocation = { cpu: NOOP.cpu, memoryMb: NOOP.memoryMb };
const RESIZED: Allocation = { cpu: 0.5, memoryMb: 320 };

interface Variant {
  sandbox: BenchTier;
  variant: string;
  make: (name: string, idleMs: number) => Promise<Sandbox>;
  /** Whether resizing means anything (a cgroup or an engine to apply it). */
  resizes: boolean;
}

const skippedRow = (sandbox: BenchTier, variant: string, reason: string): SandboxBenchRow => ({
  sandbox,
  variant,
  skipped: reason,
  coldStart: null,
  warm: null,
  chain5: null,
  chain5Payload: null,
  resize: null,
});

export async function runSandboxBench(o: SandboxBenchOptions = {}): Promise<SandboxBenchReport> {
  const print = o.print ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const kinds = o.sandboxes ?? [...BENCH_TIERS];
  const variants: Variant[] = [];
  if (kinds.includes('process')) {
    variants.push({
      sandbox: 'process',
      variant: 'child process',
      make: (name, idleMs) => ProcessSandbox.create({ workerId: parseWorkerId(name), idleMs }),
      resizes: true,
    });
  }
  const rows: SandboxBenchRow[] = [];
  if (kinds.includes('docker')) {
    const probe = await DockerSandbox.probe();
    if (!probe.ok) {
      rows.push(skippedRow('docker', 'all', probe.reason));
    } else {
      variants.push({
        sandbox: 'docker',
        variant: 'container, resize via cgroup',
        make: (name, idleMs) => DockerSandbox.create({ workerId: parseWorkerId(name), idleMs }),
        resizes: true,
      });
      variants.push({
        sandbox: 'docker',
        variant: 'container, resize via engine API',
        make: (name, idleMs) =>
          DockerSandbox.create({ workerId: parseWorkerId(name), idleMs, cgroups: 'off' }),
        resizes: true,
      });
    }
  }
  if (kinds.includes('thread')) {
    variants.push({
      sandbox: 'thread',
      variant: 'worker thread',
      make: (name, idleMs) =>
        Promise.resolve(ThreadSandbox.create({ workerId: parseWorkerId(name), idleMs })),
      resizes: false,
    });
  }
  if (kinds.includes('trusted')) {
    variants.push({
      sandbox: 'trusted',
      variant: "the worker's own loop",
      make: (name, idleMs) =>
        Promise.resolve(TrustedSandbox.create({ workerId: parseWorkerId(name), idleMs })),
      resizes: false,
    });
  }
  for (const v of variants) {
    print(`measuring ${v.sandbox} (${v.variant})…`);
    try {
      rows.push(await measure(v, o));
    } catch (err) {
      rows.push(skippedRow(v.sandbox, v.variant, err instanceof Error ? err.message : String(err)));
    }
  }
  printTable(rows, print);
  let reportPath: string | null = null;
  if (o.reportDir !== null) {
    reportPath = publishReport('sandbox', startedAt, rows, {
      ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
      print,
    });
  }
  return { rows, reportPath };
}

async function measure(v: Variant, o: SandboxBenchOptions): Promise<SandboxBenchRow> {
  const tag = `${v.sandbox}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
  const d: FunctionDeployment = {
    key: 'bench-sandbox@1/noop',
    workflow: 'bench-sandbox',
    version: 1,
    fn: NOOP,
    baseDir: tmpdir(),
  };
  const input = encodeValue({ n: 1 });
  const req: RunRequest = {
    invocationId: newInvocationId(),
    node: 'noop',
    attempt: 1,
    input,
    timeoutMs: 10_000,
    allocation: BASE,
  };

  // Cold: every idle sandbox is stopped 1 ms after its run; the next run starts a new one.
  const coldMs: number[] = [];
  const cold = await v.make(`bench-cold-${tag}`, 1);
  try {
    await cold.deploy(d);
    await cold.run(d.key, req); // the first start also pays one-time costs (JIT, page cache)
    for (let i = 0; i < (o.coldSamples ?? 20); i++) {
      await until(() => cold.stats().sandboxes === 0, 10_000, 'idle sandboxes to stop');
      const started = performance.now();
      const r = await cold.run(d.key, req);
      coldMs.push(performance.now() - started);
      if (!r.cold) throw new Error('a cold-start sample ran on a warm sandbox');
    }
  } finally {
    await cold.close();
  }

  const warmMs: number[] = [];
  const resizeMs: number[] = [];
  const chainMs: number[] = [];
  const chainPayloadMs: number[] = [];
  const warm = await v.make(`bench-warm-${tag}`, 600_000);
  try {
    await warm.deploy(d, { prewarm: 1 });
    let sandboxId = '';
    for (let i = 0; i < (o.warmup ?? 200) + (o.warmIterations ?? 2000); i++) {
      const started = performance.now();
      const r = await warm.run(d.key, req);
      if (i >= (o.warmup ?? 200)) warmMs.push(performance.now() - started);
      sandboxId = r.sandboxId;
    }
    const chain = async (first: Buffer): Promise<number> => {
      const started = performance.now();
      let input = first;
      for (let step = 0; step < 5; step++) {
        input = (await warm.run(d.key, { ...req, node: `step${step}`, input })).output;
      }
      if (input.length !== first.length) throw new Error('the chain lost bytes');
      return performance.now() - started;
    };
    const chainIterations = o.chainIterations ?? 200;
    const payload = encodeValue(Buffer.alloc(o.payloadBytes ?? 1024 * 1024, 7));
    for (let i = 0; i < 10 + chainIterations; i++) {
      const ms = await chain(input);
      if (i >= 10) chainMs.push(ms);
    }
    for (let i = 0; i < 3 + Math.max(5, Math.ceil(chainIterations / 5)); i++) {
      const ms = await chain(payload);
      if (i >= 3) chainPayloadMs.push(ms);
    }
    for (let i = 0; v.resizes && i < (o.resizeSamples ?? 50); i++) {
      const started = performance.now();
      await warm.resize(sandboxId, i % 2 === 0 ? RESIZED : BASE);
      resizeMs.push(performance.now() - started);
    }
  } finally {
    await warm.close();
  }
  return {
    sandbox: v.sandbox,
    variant: v.variant,
    skipped: null,
    coldStart: summarize(coldMs),
    warm: summarize(warmMs),
    chain5: summarize(chainMs),
    chain5Payload: summarize(chainPayloadMs),
    resize: v.resizes ? summarize(resizeMs) : null,
  };
}

function printTable(rows: SandboxBenchRow[], print: (line: string) => void): void {
  const cell = (s: Summary | null, k: 'p50Ms' | 'p99Ms'): string => formatDuration(s?.[k] ?? null);
  const lines = formatTable(
    [
      'sandbox',
      'variant',
      'cold p50',
      'cold p99',
      'warm p50',
      'warm p99',
      'chain5 p50',
      'chain5 1MB p50',
      'resize p50',
      'resize p99',
    ],
    rows.map((r) =>
      r.skipped !== null
        ? [
            r.sandbox,
            `${r.variant} (skipped: ${r.skipped.slice(0, 80)})`,
            '—',
            '—',
            '—',
            '—',
            '—',
            '—',
            '—',
            '—',
          ]
        : [
            r.sandbox,
            r.variant,
            cell(r.coldStart, 'p50Ms'),
            cell(r.coldStart, 'p99Ms'),
            cell(r.warm, 'p50Ms'),
            cell(r.warm, 'p99Ms'),
            cell(r.chain5, 'p50Ms'),
            cell(r.chain5Payload, 'p50Ms'),
            cell(r.resize, 'p50Ms'),
            cell(r.resize, 'p99Ms'),
          ],
    ),
    ['left', 'left'],
  );
  print('');
  for (const line of lines) print(line);
  print(
    'goals: docker cold start ≤ 150 ms p50; warm invocation ≤ 0.2 ms p50 (cold = create → first response)',
  );
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(2);
  }
}
