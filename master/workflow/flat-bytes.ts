/**
 * Edge weights for an imported FaaSFlow workflow: the bytes the consumer of an edge reads from
 * its producer, which is what the partitioner needs to keep heavy transfers on one worker.
 *
 * Rules (documented in flat.ts's header too):
 * - "Reads": a consumer reads parameter `p` of producer `P` when one of its `input` entries has
 *   `value: {function: P, parameter: p}`, or `value: {function: INPUT, parameter: p}` with `p` an
 *   output of `P` (FaaSFlow looks parameters up by name; the WfCommons generator behind the
 *   scientific benchmarks labels every input INPUT). Its size is the consumer's declared `size`,
 *   else the producer's output size. A parameter read twice counts once (largest size).
 * - Function → function: the bytes the consumer reads from the producer; when it declares none,
 *   every output of the producer (FaaSFlow's grouping weighs every edge that way).
 * - Switch and pass nodes (VIRTUAL, END) are transparent: they forward their input. An edge into
 *   one carries what its conditions and every node behind it (up to the next function) read from
 *   the producer; an edge out of one carries what the consumer reads from the functions in front
 *   of it. No fallback there: a switch's branches read from its producers, not the switch.
 */
import type { FlatEntry } from './flat-parse.js';
import type { FlatGraph } from './flat-graph.js';

/** Parameters demanded by readers: key `function\0parameter` (function may be INPUT) → size. */
type Demand = Map<string, { fn: string; parameter: string; sizeBytes: number | undefined }>;

export interface EdgeBytes {
  bytes(from: FlatEntry, to: FlatEntry): number;
}

export function edgeBytes(graph: FlatGraph): EdgeBytes {
  const transparent = (name: string): boolean => {
    const kind = graph.kinds.get(name);
    return kind === 'switch' || kind === 'pass';
  };
  const children = new Map<string, FlatEntry[]>();
  const parents = new Map<string, FlatEntry[]>();
  for (const e of graph.edges) {
    pushTo(children, e.from.name, e.to);
    pushTo(parents, e.to.name, e.from);
  }

  // Functions in front of each transparent node, parents first (topological order).
  const origins = new Map<string, Set<FlatEntry>>();
  for (const name of graph.order) {
    if (!transparent(name)) continue;
    const set = new Set<FlatEntry>();
    for (const p of parents.get(name) ?? []) {
      if (transparent(p.name)) for (const o of origins.get(p.name) ?? []) set.add(o);
      else set.add(p);
    }
    origins.set(name, set);
  }

  // What each node reads: a function's inputs; a transparent node's conditions plus everything
  // behind it up to the next functions (children first: reverse topological order).
  const demand = new Map<string, Demand>();
  for (const e of graph.entries) if (!transparent(e.name)) demand.set(e.name, inputsDemand(e));
  for (const name of [...graph.order].reverse()) {
    if (!transparent(name)) continue;
    const d: Demand = new Map();
    for (const p of graph.conditionReads.get(name) ?? []) add(d, 'INPUT', p, undefined);
    for (const c of children.get(name) ?? []) {
      for (const r of demand.get(c.name)?.values() ?? []) add(d, r.fn, r.parameter, r.sizeBytes);
    }
    demand.set(name, d);
  }

  const readBy = (consumer: string, producer: FlatEntry): number | null =>
    readFrom(demand.get(consumer) ?? new Map<string, never>(), producer);

  return {
    bytes(from, to) {
      if (!transparent(from.name)) {
        const read = readBy(to.name, from);
        if (read !== null || transparent(to.name)) return read ?? 0;
        return sumOutputs(from);
      }
      let total = 0;
      for (const o of origins.get(from.name) ?? []) total += readBy(to.name, o) ?? 0;
      return total;
    },
  };
}

/** Bytes of `producer`'s outputs named by `demand`, or null when it names none. */
function readFrom(demand: Demand, producer: FlatEntry): number | null {
  const outputs = new Map(producer.outputs.map((p) => [p.name, p.sizeBytes ?? 0]));
  const read = new Map<string, number>();
  for (const r of demand.values()) {
    const own = r.fn === producer.name || (r.fn === 'INPUT' && outputs.has(r.parameter));
    if (!own) continue;
    const size = r.sizeBytes ?? outputs.get(r.parameter) ?? 0;
    read.set(r.parameter, Math.max(size, read.get(r.parameter) ?? 0));
  }
  if (read.size === 0) return null;
  let total = 0;
  for (const s of read.values()) total += s;
  return total;
}

function inputsDemand(e: FlatEntry): Demand {
  const d: Demand = new Map();
  for (const p of e.inputs) if (p.from) add(d, p.from.function, p.from.parameter, p.sizeBytes);
  return d;
}

function add(d: Demand, fn: string, parameter: string, sizeBytes: number | undefined): void {
  const key = `${fn}\0${parameter}`;
  const old = d.get(key);
  if (old === undefined) d.set(key, { fn, parameter, sizeBytes });
  else if (sizeBytes !== undefined && (old.sizeBytes === undefined || sizeBytes > old.sizeBytes)) {
    old.sizeBytes = sizeBytes;
  }
}

export function sumOutputs(e: FlatEntry): number {
  let total = 0;
  for (const p of e.outputs) total += p.sizeBytes ?? 0;
  return total;
}

function pushTo<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
