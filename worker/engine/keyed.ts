/**
 * Keyed sharding on the worker (docs/guides/sharding.md §keyed sharding at run time). A task of a
 * function with `shard: { key }` evaluates the key over its input, looks the key up in the
 * function's routing table (sent by the master with the placement view) and runs on the replica
 * the table names — here, or on that worker through `keyed.run` — while the node's own worker
 * keeps everything else (retries, output, triggers, the step). A replica that cannot be reached
 * costs the call nothing: the node's worker runs it itself and the step says `fallback`.
 *
 * `KeyedMeter` counts what this worker ran of each range — calls, handler time, distinct keys,
 * the busy-time median hash and the busiest key's share — and hands it to the master with every
 * heartbeat, where the re-sharding loop reads it.
 */
import type { WorkerId } from '../../shared/ids.js';
import type { Isolation } from '../../shared/dag/types.js';
import type { KeyedRunAnswer, KeyedRunRequest } from '../../shared/schema/keyed.js';
import type { KeyedRangeLoad, ViewRouting } from '../../shared/schema/wire.js';
import type { RoutingTable } from '../../shared/shard/routing.js';
import type { RunResult } from '../sandbox/types.js';

/** What keyed routing needs from the rest of the worker. */
export interface KeyedPort {
  /** The routing table of `fn` of `workflow` (its tenant-qualified name), when it has one. */
  table(workflow: string, fn: string): RoutingTable | undefined;
  /** Load of a replica's worker by the view (join-shortest-queue among a range's replicas). */
  load(worker: WorkerId): number;
  /** Runs the call on `worker`; rejects when that worker cannot be reached. */
  run(worker: WorkerId, req: KeyedRunRequest): Promise<KeyedRunAnswer>;
  meter: KeyedMeter;
}

/** Distinct keys tracked per range and interval; more are counted in `calls` and `busyMs` only. */
const MAX_TRACKED_KEYS = 4096;

interface RangeTally {
  workflow: string;
  fn: string;
  version: number;
  range: number;
  calls: number;
  busyMs: number;
  byKey: Map<number, number>;
}

export class KeyedMeter {
  private tallies = new Map<string, RangeTally>();

  /** One call of `fn` whose key hashed to `hash`, in `range` of table `version`, busy `ms`. */
  record(
    workflow: string,
    fn: string,
    version: number,
    range: number,
    hash: number,
    ms: number,
  ): void {
    const id = `${workflow}\u0000${fn}\u0000${version}\u0000${range}`;
    let t = this.tallies.get(id);
    if (!t) {
      t = { workflow, fn, version, range, calls: 0, busyMs: 0, byKey: new Map() };
      this.tallies.set(id, t);
    }
    const busy = Math.max(0, ms);
    t.calls++;
    t.busyMs += busy;
    const had = t.byKey.get(hash);
    if (had !== undefined) t.byKey.set(hash, had + busy);
    else if (t.byKey.size < MAX_TRACKED_KEYS) t.byKey.set(hash, busy);
  }

  /** What was recorded since the last drain, and a fresh start. */
  drain(): KeyedRangeLoad[] {
    const out: KeyedRangeLoad[] = [];
    for (const t of this.tallies.values()) out.push(summarise(t));
    this.tallies = new Map();
    return out;
  }
}

function summarise(t: RangeTally): KeyedRangeLoad {
  const keys = [...t.byKey.entries()].sort((a, b) => a[0] - b[0]);
  const tracked = keys.reduce((s, [, ms]) => s + ms, 0);
  let medianHash = keys[0]?.[0] ?? 0;
  let acc = 0;
  let top = 0;
  for (const [hash, ms] of keys) {
    if (acc < tracked / 2) medianHash = hash;
    acc += ms;
    top = Math.max(top, ms);
  }
  return {
    workflow: t.workflow,
    fn: t.fn,
    version: t.version,
    range: t.range,
    calls: t.calls,
    busyMs: Math.round(t.busyMs * 1000) / 1000,
    keys: t.byKey.size,
    medianHash,
    topKeyShare: tracked > 0 ? Math.min(1, top / tracked) : 0,
  };
}

/** The routing key of a call: the key expression's value, strings as they are, others as JSON. */
export function keyString(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value ?? null);
}

/** The workflow a deployment runs for (a composition variant `name~i` routes as `name`). */
export function routedWorkflow(deployment: string): string {
  const i = deployment.indexOf('~');
  return i < 0 ? deployment : deployment.slice(0, i);
}

/** The routing tables of the newest placement view, by workflow and function. */
export class RoutingTables {
  private byName = new Map<string, RoutingTable>();

  /** Takes the view's tables (absent: none). */
  update(routing: readonly ViewRouting[] | undefined): void {
    const next = new Map<string, RoutingTable>();
    // Worker ids in the view were checked by the master when the workers registered.
    for (const r of routing ?? [])
      next.set(`${r.workflow}\u0000${r.table.fn}`, r.table as RoutingTable);
    this.byName = next;
  }

  get(workflow: string, fn: string): RoutingTable | undefined {
    return this.byName.get(`${workflow}\u0000${fn}`);
  }
}

/** A replica's run as it travels back to the node's worker. */
export function keyedAnswer(r: RunResult): KeyedRunAnswer {
  return {
    ok: true,
    output: r.output.toString('base64'),
    cold: r.cold,
    queueMs: r.queueMs,
    initMs: r.initMs,
    durationMs: r.durationMs,
    allocation: { cpu: r.allocation.cpu, memoryMb: r.allocation.memoryMb },
    peakMemoryMb: r.peakMemoryMb,
    peakCpuCores: r.peakCpuCores,
    cpuTimeMs: r.cpuTimeMs,
    isolation: r.isolation,
  };
}

/** The node's worker's view of a replica's successful run (`worker` names the replica). */
export function keyedResult(
  a: Extract<KeyedRunAnswer, { ok: true }>,
  requested: RunResult['allocation'],
  worker: string,
): RunResult {
  return {
    output: Buffer.from(a.output, 'base64'),
    cold: a.cold,
    queueMs: a.queueMs,
    initMs: a.initMs,
    durationMs: a.durationMs,
    allocation: { ...requested, ...a.allocation },
    peakMemoryMb: a.peakMemoryMb,
    peakCpuCores: a.peakCpuCores,
    cpuTimeMs: a.cpuTimeMs,
    // Not carried back: the replica's safeguard and pressure readings stay in its own logs.
    throttledMs: null,
    pressureMs: null,
    safeguardAtMs: null,
    sandboxId: `${worker}:keyed`,
    isolation: (a.isolation ?? 'process') as Isolation,
  };
}
