/**
 * Demand prediction before an invocation (docs/guides/sharding.md §prediction): per function,
 * and per foreach body, the CPU, memory, duration per item and bytes per item a run will need.
 *
 * Where the figures come from, best first:
 * 1. `measured`: the timelines the master already keeps (step records), at least
 *    `MIN_MEASURED` of them: medians of the most recent `WINDOW`, the duration's p95 as the tail;
 *    when harvesting's models answer for the function, their CPU and memory replace the peaks;
 * 2. `declared`: the function's `runtime:`, `outputBytes:`, `cpu:` and `memory:` — so a workflow
 *    that asks for sharding is estimated from its first invocation.
 * Pure: the caller hands over the steps and the model's answer.
 */
import { adjacency, topologicalOrder } from '../dag/graph.js';
import type { FunctionSpec, WorkflowDag } from '../dag/types.js';
import type { StepRecord } from '../schema/wire.js';

/** Fewest measured runs before measurements replace the declared figures. */
export const MIN_MEASURED = 3;
/** Most recent runs the medians are taken over. */
export const WINDOW = 50;
/** Bytes assumed per item moved to a remote shard when nothing was measured. */
export const DECLARED_ITEM_BYTES = 1024;

export interface Demand {
  source: 'measured' | 'declared';
  /** Runs measured (0 when declared). */
  samples: number;
  /** Wall time of one item (one call for a function), ms. */
  durationPerItemMs: number;
  /** The slow tail: p95 of an item's duration, ms (= durationPerItemMs when declared). */
  tailMs: number;
  cpuCores: number;
  memoryMb: number;
  /** Bytes of one item's input, and of its output. */
  inputBytesPerItem: number;
  outputBytesPerItem: number;
}

/** A function's own demand from its declaration. */
export function declaredFunctionDemand(spec: FunctionSpec): Demand {
  return {
    source: 'declared',
    samples: 0,
    durationPerItemMs: spec.runtimeMs,
    tailMs: spec.runtimeMs,
    cpuCores: spec.cpu,
    memoryMb: spec.memoryMb,
    inputBytesPerItem: DECLARED_ITEM_BYTES,
    outputBytesPerItem: spec.outputBytes,
  };
}

/**
 * One item of a foreach body from the declarations: the body's critical path of declared
 * runtimes, the largest CPU and memory of its functions, the sinks' declared outputs.
 */
export function declaredBodyDemand(
  body: WorkflowDag,
  functions: Readonly<Record<string, FunctionSpec>>,
): Demand {
  const topo = topologicalOrder(body.nodes, body.edges);
  const { parents } = adjacency(body.nodes, body.edges);
  const finish = new Map<string, number>();
  let cpu = 0;
  let mem = 0;
  for (const id of topo.order ?? []) {
    const node = body.nodes.find((n) => n.id === id)!;
    const before = Math.max(0, ...(parents.get(id) ?? []).map((p) => finish.get(p) ?? 0));
    let own = 0;
    if (node.kind === 'task') {
      const f = functions[node.fn];
      own = f?.runtimeMs ?? 0;
      cpu = Math.max(cpu, f?.cpu ?? 0);
      mem = Math.max(mem, f?.memoryMb ?? 0);
    } else if (node.kind === 'foreach') {
      const inner = declaredBodyDemand(node.body, functions);
      own = inner.durationPerItemMs * Math.ceil(node.estimatedWidth / node.concurrency);
      cpu = Math.max(cpu, inner.cpuCores);
      mem = Math.max(mem, inner.memoryMb);
    }
    finish.set(id, before + own);
  }
  const duration = Math.max(0, ...finish.values());
  const out = body.sinks.reduce((s, id) => {
    const n = body.nodes.find((x) => x.id === id);
    return s + (n?.kind === 'task' ? (functions[n.fn]?.outputBytes ?? 0) : 0);
  }, 0);
  return {
    source: 'declared',
    samples: 0,
    durationPerItemMs: duration,
    tailMs: duration,
    cpuCores: cpu || 1,
    memoryMb: mem || 256,
    inputBytesPerItem: DECLARED_ITEM_BYTES,
    outputBytesPerItem: out,
  };
}

/** What one measured run says, per item. */
export interface DemandSample {
  durationPerItemMs: number;
  cpuCores: number | null;
  memoryMb: number | null;
  inputBytesPerItem: number;
  outputBytesPerItem: number;
}

/** A task node's steps as samples (failed and skipped steps say nothing about demand). */
export function taskSamples(steps: readonly StepRecord[]): DemandSample[] {
  return steps
    .filter((s) => s.status === 'succeeded' && s.kind === 'task')
    .map((s) => ({
      durationPerItemMs: s.runMs ?? s.finishedAt - s.startedAt,
      cpuCores: s.peakCpuCores ?? null,
      memoryMb: s.peakMemoryMb ?? null,
      inputBytesPerItem: s.inputBytes,
      outputBytesPerItem: s.outputBytes,
    }));
}

/**
 * A foreach node's steps as per-item samples: its items ran `concurrency` at a time, so one item
 * took about elapsed × min(concurrency, items) / items.
 */
export function foreachSamples(steps: readonly StepRecord[], concurrency: number): DemandSample[] {
  return steps
    .filter((s) => s.status === 'succeeded' && s.kind === 'foreach' && (s.items ?? 0) > 0)
    .map((s) => {
      const n = s.items!;
      return {
        durationPerItemMs: ((s.finishedAt - s.startedAt) * Math.min(concurrency, n)) / n,
        cpuCores: s.peakCpuCores ?? null,
        memoryMb: s.peakMemoryMb ?? null,
        inputBytesPerItem: s.inputBytes / n,
        outputBytesPerItem: s.outputBytes / n,
      };
    });
}

/**
 * The demand to plan with: measured when there are at least `MIN_MEASURED` samples (the most
 * recent `WINDOW`, in the order given: oldest first), else the declared figures. `model` is
 * harvesting's ML2 answer for the function when it has one.
 */
export function predictDemand(
  declared: Demand,
  samples: readonly DemandSample[],
  model?: { cpuCores: number; memoryMb: number } | null,
): Demand {
  const base = model
    ? { ...declared, cpuCores: model.cpuCores, memoryMb: model.memoryMb }
    : declared;
  if (samples.length < MIN_MEASURED) return base;
  const recent = samples.slice(-WINDOW);
  const durations = recent.map((s) => s.durationPerItemMs);
  const known = (xs: (number | null)[]): number[] => xs.filter((x): x is number => x !== null);
  const cpu = known(recent.map((s) => s.cpuCores));
  const mem = known(recent.map((s) => s.memoryMb));
  return {
    source: 'measured',
    samples: samples.length,
    durationPerItemMs: quantile(durations, 0.5),
    tailMs: quantile(durations, 0.95),
    cpuCores: model ? model.cpuCores : cpu.length > 0 ? quantile(cpu, 0.5) : declared.cpuCores,
    memoryMb: model ? model.memoryMb : mem.length > 0 ? quantile(mem, 0.95) : declared.memoryMb,
    inputBytesPerItem: quantile(
      recent.map((s) => s.inputBytesPerItem),
      0.5,
    ),
    outputBytesPerItem: quantile(
      recent.map((s) => s.outputBytesPerItem),
      0.5,
    ),
  };
}

/** Nearest-rank quantile; 0 for no values. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
