/**
 * The keyed routing table of a sharded function (docs/guides/sharding.md): the 32-bit hash space
 * of the routing key cut into ranges, each served by one or more replicas of the function on
 * distinct workers. Every change makes a new table with `version + 1`; tables are plain data.
 *
 * Invariants (checked by `checkTable`, kept by every operation here):
 * - ranges are sorted, contiguous and cover [0, 2^32) exactly: every key is owned by exactly one
 *   range;
 * - every range has at least one replica and no worker twice;
 * - range ids are unique in the table and never reused within it (`nextId` only grows).
 */
import { AppError } from '../errors.js';
import type { WorkerId } from '../ids.js';

/** Size of the hash space: hashes are integers in [0, HASH_SPACE). */
export const HASH_SPACE = 2 ** 32;

export interface KeyRange {
  id: number;
  /** First hash of the range (inclusive). */
  start: number;
  /** End of the range (exclusive); the last range ends at HASH_SPACE. */
  end: number;
  /** Workers holding a replica; requests for a key of the range go to one of them. */
  replicas: WorkerId[];
}

export interface RoutingTable {
  fn: string;
  version: number;
  ranges: KeyRange[];
  /** Id the next new range gets. */
  nextId: number;
}

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so near keys spread. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * `rangeCount` equal ranges; range i is served by `replicas` workers starting at worker
 * i mod n (so ranges are spread over the workers and replicas of one range are distinct).
 */
export function initialTable(
  fn: string,
  workers: readonly WorkerId[],
  rangeCount: number,
  replicas = 1,
): RoutingTable {
  if (workers.length === 0) throw bad(`routing table of ${fn}: no workers to place ranges on`);
  if (!Number.isInteger(rangeCount) || rangeCount < 1)
    throw bad(`routing table of ${fn}: rangeCount must be an integer ≥ 1, got ${rangeCount}`);
  const r = Math.min(Math.max(1, Math.floor(replicas)), workers.length);
  const ranges: KeyRange[] = [];
  for (let i = 0; i < rangeCount; i++) {
    ranges.push({
      id: i,
      start: Math.floor((i * HASH_SPACE) / rangeCount),
      end: Math.floor(((i + 1) * HASH_SPACE) / rangeCount),
      replicas: Array.from({ length: r }, (_, j) => workers[(i + j) % workers.length]!),
    });
  }
  return { fn, version: 1, ranges, nextId: rangeCount };
}

/** Index of the range owning `hash` (binary search). */
export function rangeIndexOf(table: RoutingTable, hash: number): number {
  if (!(Number.isInteger(hash) && hash >= 0 && hash < HASH_SPACE))
    throw bad(`hash must be an integer in [0, 2^32), got ${hash}`);
  let lo = 0;
  let hi = table.ranges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (table.ranges[mid]!.start <= hash) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The range owning `key`. */
export function lookup(table: RoutingTable, key: string): KeyRange {
  return table.ranges[rangeIndexOf(table, keyHash(key))]!;
}

/**
 * The replica a call for `key` goes to: the one `load` says is least busy (join-shortest-queue
 * within the range), ties broken by the key's hash so one key sticks to one replica when idle.
 */
export function route(
  table: RoutingTable,
  key: string,
  load: (w: WorkerId) => number = () => 0,
): { range: KeyRange; worker: WorkerId } {
  return routeHash(table, keyHash(key), load);
}

/** `route` for a key already hashed (`keyHash`). */
export function routeHash(
  table: RoutingTable,
  hash: number,
  load: (w: WorkerId) => number = () => 0,
): { range: KeyRange; worker: WorkerId } {
  const range = table.ranges[rangeIndexOf(table, hash)]!;
  const n = range.replicas.length;
  let best = range.replicas[hash % n]!;
  let bestLoad = load(best);
  for (let i = 1; i < n; i++) {
    const w = range.replicas[(hash + i) % n]!;
    const l = load(w);
    if (l < bestLoad) {
      best = w;
      bestLoad = l;
    }
  }
  return { range, worker: best };
}

function findIndex(table: RoutingTable, id: number): number {
  const i = table.ranges.findIndex((r) => r.id === id);
  if (i < 0)
    throw bad(`routing table of ${table.fn} v${table.version} has no range ${id}`, {
      ranges: table.ranges.map((r) => r.id),
    });
  return i;
}

function next(table: RoutingTable, ranges: KeyRange[], nextId = table.nextId): RoutingTable {
  const t = { fn: table.fn, version: table.version + 1, ranges, nextId };
  checkTable(t);
  return t;
}

/**
 * Splits range `id` at hash `at` (default its midpoint) into [start, at) keeping the id and
 * [at, end) as a new range; the new range goes to `replicas` (default the same workers).
 */
export function splitRange(
  table: RoutingTable,
  id: number,
  at?: number,
  replicas?: readonly WorkerId[],
): RoutingTable {
  const i = findIndex(table, id);
  const r = table.ranges[i]!;
  if (r.end - r.start < 2)
    throw bad(`range ${id} of ${table.fn} is one hash wide and cannot be split`);
  const cut = at ?? r.start + Math.floor((r.end - r.start) / 2);
  if (!(Number.isInteger(cut) && cut > r.start && cut < r.end))
    throw bad(`split point ${cut} is not inside range ${id} (${r.start}, ${r.end})`);
  const left: KeyRange = { ...r, end: cut, replicas: [...r.replicas] };
  const right: KeyRange = {
    id: table.nextId,
    start: cut,
    end: r.end,
    replicas: [...(replicas ?? r.replicas)],
  };
  const ranges = [...table.ranges];
  ranges.splice(i, 1, left, right);
  return next(table, ranges, table.nextId + 1);
}

/** Merges range `id` with its right-hand neighbour; the merged range keeps `id` and `replicas`. */
export function mergeWithNext(
  table: RoutingTable,
  id: number,
  replicas?: readonly WorkerId[],
): RoutingTable {
  const i = findIndex(table, id);
  const r = table.ranges[i]!;
  const right = table.ranges[i + 1];
  if (!right) throw bad(`range ${id} of ${table.fn} is the last one; it has no right neighbour`);
  const merged: KeyRange = {
    id: r.id,
    start: r.start,
    end: right.end,
    replicas: [...(replicas ?? r.replicas)],
  };
  const ranges = [...table.ranges];
  ranges.splice(i, 2, merged);
  return next(table, ranges);
}

/** Range `id` is served by `to` instead of `from`. */
export function moveReplica(
  table: RoutingTable,
  id: number,
  from: WorkerId,
  to: WorkerId,
): RoutingTable {
  const i = findIndex(table, id);
  const r = table.ranges[i]!;
  if (!r.replicas.includes(from))
    throw bad(`range ${id} of ${table.fn} has no replica on ${from}`, { replicas: r.replicas });
  if (r.replicas.includes(to))
    throw bad(`range ${id} of ${table.fn} already has a replica on ${to}`);
  return setReplicas(
    table,
    id,
    r.replicas.map((w) => (w === from ? to : w)),
  );
}

/** Range `id` is served by exactly `replicas`. */
export function setReplicas(
  table: RoutingTable,
  id: number,
  replicas: readonly WorkerId[],
): RoutingTable {
  const i = findIndex(table, id);
  const ranges = [...table.ranges];
  ranges[i] = { ...ranges[i]!, replicas: [...replicas] };
  return next(table, ranges);
}

/** Throws a BAD_REQUEST naming the first broken invariant. */
export function checkTable(table: RoutingTable): void {
  const where = `routing table of ${table.fn} v${table.version}`;
  if (table.ranges.length === 0) throw bad(`${where} has no ranges`);
  const ids = new Set<number>();
  let expected = 0;
  for (const r of table.ranges) {
    if (r.start !== expected)
      throw bad(`${where}: range ${r.id} starts at ${r.start}, expected ${expected}`);
    if (!(r.end > r.start)) throw bad(`${where}: range ${r.id} is empty`);
    if (ids.has(r.id)) throw bad(`${where}: range id ${r.id} appears twice`);
    if (r.id >= table.nextId) throw bad(`${where}: range id ${r.id} is not below nextId`);
    ids.add(r.id);
    if (r.replicas.length === 0) throw bad(`${where}: range ${r.id} has no replica`);
    if (new Set(r.replicas).size !== r.replicas.length)
      throw bad(`${where}: range ${r.id} has a worker twice`, { replicas: r.replicas });
    expected = r.end;
  }
  if (expected !== HASH_SPACE) throw bad(`${where}: ranges end at ${expected}, not at 2^32`);
}

/** Fraction of the hash space range `r` covers. */
export function widthShare(r: KeyRange): number {
  return (r.end - r.start) / HASH_SPACE;
}

/**
 * Share of `keys` whose serving workers gained a worker from `before` to `after` (those keys
 * must warm up somewhere new); a key losing one of several replicas does not move.
 */
export function movedKeyShare(
  before: RoutingTable,
  after: RoutingTable,
  keys: readonly string[],
): number {
  if (keys.length === 0) return 0;
  let moved = 0;
  for (const k of keys) {
    const h = keyHash(k);
    const was = before.ranges[rangeIndexOf(before, h)]!.replicas;
    const now = after.ranges[rangeIndexOf(after, h)]!.replicas;
    if (now.some((w) => !was.includes(w))) moved++;
  }
  return moved / keys.length;
}

function bad(message: string, details?: unknown): AppError {
  return new AppError('BAD_REQUEST', message, details === undefined ? {} : { details });
}
