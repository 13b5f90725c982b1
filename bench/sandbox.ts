/**
 * `faasflow bench sandbox`: what a function call costs in each sandbox, measured in this process
 * through the worker's own sandboxes exactly as the engine calls them.
 *
 * - cold start: `sandbox.run()` on a function with no idle sandbox, so the call creates one
 *   (process: spawn; docker: create → start → connect → load) and gets its first response;
 * - warm invocation: `sandbox.run()` of a no-op on an idle sandbox (lease, request, answer,
 *   release);
 * - live resize: `sandbox.resize()` of a live sandbox between two allocations (process: cgroup
 *   writes; docker: the container's cgroup directly, and the engine's update API with cgroups off).
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
import type { Allocation } from '../shared/schema/wire.js';
import type { FunctionDeployment, RunRequest, Sandbox } from '../worker/sandbox/types.js';
import { formatDuration, formatTable, publishReport, summarize, type Summary } from './report.js';

export interface SandboxBenchOptions {
  /** Which sandboxes to measure. Default both. */
  sandboxes?: ('process' | 'docker')[];
  /** Cold starts per row. Default 20. */
  coldSamples?: number;
  /** Unmeasured warm calls first. Default 200. */
  warmup?: number;
  /** Measured warm calls. Default 2000. */
  warmIterations?: number;
  /** Resizes per row. Default 50. */
  resizeSamples?: number;
  /** Where the JSON report goes; null writes none. Default `.bench`. */
  reportDir?: string | null;
  /** Where the table goes. Default console.log. */
  print?: (line: string) => void;
}

export interface SandboxBenchRow {
  sandbox: 'process' | 'docker';
  variant: string;
  /** Why the row has no figures (no Docker engine, no image); null when measured. */
  skipped: string | null;
  coldStart: Summary | null;
  warm: Summary | null;
  resize: Summary | null;
}

export interface SandboxBenchReport {
  rows: SandboxBenchRow[];
  reportPath: string | null;
}

const NOOP: FunctionSpec = {
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
  sandbox: 'process' | 'docker';
  variant: string;
  make: (name: string, idleMs: number) => Promise<Sandbox>;
}

export async function runSandboxBench(o: SandboxBenchOptions = {}): Promise<SandboxBenchReport> {
  const print = o.print ?? ((line: string) => console.log(line));
  const startedAt = new Date();
  const kinds = o.sandboxes ?? ['process', 'docker'];
  const variants: Variant[] = [];
  if (kinds.includes('process')) {
    variants.push({
      sandbox: 'process',
      variant: 'child process',
      make: (name, idleMs) => ProcessSandbox.create({ workerId: parseWorkerId(name), idleMs }),
    });
  }
  const rows: SandboxBenchRow[] = [];
  if (kinds.includes('docker')) {
    const probe = await DockerSandbox.probe();
    if (!probe.ok) {
      rows.push({
        sandbox: 'docker',
        variant: 'all',
        skipped: probe.reason,
        coldStart: null,
        warm: null,
        resize: null,
      });
    } else {
      variants.push({
        sandbox: 'docker',
        variant: 'container, resize via cgroup',
        make: (name, idleMs) => DockerSandbox.create({ workerId: parseWorkerId(name), idleMs }),
      });
      variants.push({
        sandbox: 'docker',
        variant: 'container, resize via engine API',
        make: (name, idleMs) =>
          DockerSandbox.create({ workerId: parseWorkerId(name), idleMs, cgroups: 'off' }),
      });
    }
  }
  for (const v of variants) {
    print(`measuring ${v.sandbox} (${v.variant})…`);
    try {
      rows.push(await measure(v, o));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      rows.push({
        sandbox: v.sandbox,
        variant: v.variant,
        skipped: reason,
        coldStart: null,
        warm: null,
        resize: null,
      });
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
    for (let i = 0; i < (o.resizeSamples ?? 50); i++) {
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
    resize: summarize(resizeMs),
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
          ]
        : [
            r.sandbox,
            r.variant,
            cell(r.coldStart, 'p50Ms'),
            cell(r.coldStart, 'p99Ms'),
            cell(r.warm, 'p50Ms'),
            cell(r.warm, 'p99Ms'),
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
