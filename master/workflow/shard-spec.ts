/**
 * The two sharding forms of a workflow document (docs/guides/sharding.md):
 * - `foreach: { …, shard: { across: workers, size: auto|N, maxShards, steal } }`
 * - `functions: { f: { …, shard: { key: '<JSONata>', replicas: auto|N, maxReplicas } } }`
 * Each reader checks one `shard:` mapping, adds an issue with its path for every problem, and
 * returns the compiled form (or undefined when there is none or it is wrong).
 */
import type { ForeachShard, KeyShard } from '../../shared/dag/types.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from '../../shared/expressions.js';
import { describe, isObj, onlyKeys, readBool, readInt, readString } from './read.js';

/** Most shards of a foreach and most replicas of a key range. */
export const SHARD_LIMITS = { maxShards: 64, maxReplicas: 64 } as const;

export const SHARD_DEFAULTS = { maxShards: 8, maxReplicas: 4, steal: true } as const;

const FOREACH_KEYS = ['across', 'size', 'maxShards', 'steal'];
const FUNCTION_KEYS = ['key', 'replicas', 'maxReplicas'];

/** `foreach.shard`; `path` is the foreach mapping's path (`flow.sequence[1].foreach`). */
export function readForeachShard(
  value: unknown,
  path: string,
  issues: Issues,
): ForeachShard | undefined {
  if (value === undefined || value === null) return undefined;
  const p = at(path, 'shard');
  if (!isObj(value)) {
    issues.add(
      p,
      `must be { across: workers, size: auto | 1..${SHARD_LIMITS.maxShards}, maxShards?, steal? }, got ${describe(value)}`,
    );
    return undefined;
  }
  const before = issues.list.length;
  onlyKeys(value, FOREACH_KEYS, p, issues);
  const across = value['across'] ?? 'workers';
  if (across !== 'workers')
    issues.add(
      at(p, 'across'),
      `must be "workers" (the only place shards go), got ${describe(across)}`,
    );
  const maxShards = readInt(value, 'maxShards', p, issues, {
    min: 1,
    max: SHARD_LIMITS.maxShards,
    fallback: SHARD_DEFAULTS.maxShards,
  });
  const size = readCount(value['size'], at(p, 'size'), 'maxShards', maxShards, issues);
  const steal = readBool(value, 'steal', p, issues, SHARD_DEFAULTS.steal);
  if (issues.list.length > before || size === undefined) return undefined;
  return { across: 'workers', size, maxShards, steal };
}

/** `functions.<name>.shard`; `path` is the function's path (`functions.lookup`). */
export function readKeyShard(value: unknown, path: string, issues: Issues): KeyShard | undefined {
  if (value === undefined || value === null) return undefined;
  const p = at(path, 'shard');
  if (!isObj(value)) {
    issues.add(
      p,
      `must be { key: <JSONata>, replicas?: auto | 1..${SHARD_LIMITS.maxReplicas}, maxReplicas? }, got ${describe(value)}`,
    );
    return undefined;
  }
  const before = issues.list.length;
  onlyKeys(value, FUNCTION_KEYS, p, issues);
  const key = readString(value, 'key', p, issues, {
    required: true,
    hint: 'a JSONata expression over the call input giving the routing key, such as "$.userId"',
  });
  if (key !== undefined) checkExpression(key, at(p, 'key'), issues);
  const maxReplicas = readInt(value, 'maxReplicas', p, issues, {
    min: 1,
    max: SHARD_LIMITS.maxReplicas,
    fallback: SHARD_DEFAULTS.maxReplicas,
  });
  const replicas = readCount(
    value['replicas'] ?? 'auto',
    at(p, 'replicas'),
    'maxReplicas',
    maxReplicas,
    issues,
  );
  if (issues.list.length > before || key === undefined || replicas === undefined) return undefined;
  return { key, replicas, maxReplicas };
}

/** `auto` or an integer from 1 to `max` (the sibling `maxName`). Absent means auto. */
function readCount(
  value: unknown,
  path: string,
  maxName: string,
  max: number,
  issues: Issues,
): 'auto' | number | undefined {
  if (value === undefined || value === null || value === 'auto') return 'auto';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    issues.add(
      path,
      `must be auto or an integer from 1 to ${maxName} (${max}), got ${describe(value)}`,
    );
    return undefined;
  }
  if (value > max) {
    issues.add(path, `${value} is more than ${maxName} (${max}); raise ${maxName} or lower it`);
    return undefined;
  }
  return value;
}
