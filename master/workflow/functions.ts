/**
 * The function catalogue of a native workflow: `functions:` → `FunctionSpec` per name.
 * Each entry has exactly one source (handler file, inline code, builtin synthetic, image) and
 * resource settings with defaults: cpu 1 core (0.05..8 cores, as a number of cores such as 0.25
 * or Kubernetes' millicores such as "250m"; kept to whole millicores), memory 256 MB
 * (128..8192, steps of 128),
 * timeout 60 s (1 ms..1 h), retries 0 (0..10), network none, and `isolation` (process, docker,
 * thread, trusted) from the function, else from the workflow's `defaults:`, else absent (the
 * worker's own sandbox). An `image:` function runs in a container: only `docker` is valid for it,
 * and a workflow default does not apply to it.
 */
import {
  ISOLATIONS,
  type FunctionSource,
  type FunctionSpec,
  type Isolation,
  type SyntheticSpec,
} from '../../shared/dag/types.js';
import { MIN_CPU_MILLICORES } from '../../shared/harvest/types.js';
import { parseDurationMs } from '../../shared/time.js';
import { at, type Issues } from './diagnostics.js';
import { FUNCTION_NAME_RE, LIMITS } from './limits.js';
import { readKeyShard } from './shard-spec.js';
import { readPreload, readUses } from './prewarm.js';
import {
  describe,
  isObj,
  onlyKeys,
  readBool,
  readInt,
  readNumber,
  readString,
  type Obj,
} from './read.js';

export const FUNCTION_DEFAULTS = {
  cpu: 1,
  memoryMb: 256,
  timeoutMs: 60_000,
  retries: 0,
  /** Runtime assumed for partitioning when nothing better is known. */
  runtimeMs: 100,
  /** Output size assumed for partitioning when nothing better is known. */
  outputBytes: 1024,
} as const;

const MAX_TIMEOUT_MS = 3_600_000;
const SOURCES = ['handler', 'code', 'builtin', 'image'] as const;
const KEYS = [
  ...SOURCES,
  'cpu',
  'memory',
  'timeout',
  'retries',
  'network',
  'isolation',
  'runtime',
  'outputBytes',
  'shard',
  'preload',
  'uses',
  'description',
];
const HANDLER_RE = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9_./-]+\.(?:js|mjs)$/;
const IMAGE_RE = /^[a-z0-9][a-z0-9._/-]*(?::[A-Za-z0-9._-]{1,128})?(?:@sha256:[a-f0-9]{64})?$/;

/** What a workflow's `defaults:` sets for every function that does not say. */
export interface FunctionDefaults {
  isolation?: Isolation;
}

const DEFAULT_KEYS = ['isolation'];

/** `defaults:` of a native workflow: `{ isolation }`. */
export function readDefaults(value: unknown, path: string, issues: Issues): FunctionDefaults {
  if (value === undefined || value === null) return {};
  if (!isObj(value)) {
    issues.add(path, `must be a mapping such as { isolation: thread }, got ${describe(value)}`);
    return {};
  }
  onlyKeys(value, DEFAULT_KEYS, path, issues);
  const isolation = readIsolation(value, path, issues);
  return isolation === undefined ? {} : { isolation };
}

function readIsolation(obj: Obj, path: string, issues: Issues): Isolation | undefined {
  const value = obj['isolation'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' && (ISOLATIONS as readonly string[]).includes(value)) {
    return value as Isolation;
  }
  issues.add(
    at(path, 'isolation'),
    `must be one of ${ISOLATIONS.join(', ')} (docs/guides/sandboxes.md), got ${describe(value)}`,
  );
  return undefined;
}

export function readFunctions(
  value: unknown,
  path: string,
  issues: Issues,
  defaults: FunctionDefaults = {},
): Record<string, FunctionSpec> {
  const out: Record<string, FunctionSpec> = {};
  if (value === undefined || value === null) {
    issues.add(
      path,
      'is required: a mapping of function name to { handler | code | builtin | image, cpu, memory, timeout, retries }',
    );
    return out;
  }
  if (!isObj(value)) {
    issues.add(
      path,
      `must be a mapping of function name to its definition, got ${describe(value)}`,
    );
    return out;
  }
  const names = Object.keys(value);
  if (names.length > LIMITS.functions) {
    issues.add(path, `has ${names.length} functions; at most ${LIMITS.functions}`);
    return out;
  }
  for (const name of names) {
    const p = at(path, name);
    if (!FUNCTION_NAME_RE.test(name)) {
      issues.add(
        p,
        `function name ${JSON.stringify(name)} is not valid; use letters, digits, _ and -, starting with a letter or _, at most 63 characters`,
      );
      continue;
    }
    const spec = readFunction(name, value[name], p, issues, defaults);
    if (spec) out[name] = spec;
  }
  return out;
}

function readFunction(
  name: string,
  value: unknown,
  path: string,
  issues: Issues,
  defaults: FunctionDefaults,
): FunctionSpec | undefined {
  if (!isObj(value)) {
    issues.add(path, `must be a mapping with one of ${SOURCES.join(', ')}, got ${describe(value)}`);
    return undefined;
  }
  onlyKeys(value, KEYS, path, issues);
  const source = readSource(value, path, issues);
  const cpu = readCpu(value, path, issues);
  const memoryMb = readInt(value, 'memory', path, issues, {
    min: 128,
    max: 8192,
    step: 128,
    fallback: FUNCTION_DEFAULTS.memoryMb,
  });
  const timeoutMs = readDuration(
    value,
    'timeout',
    path,
    issues,
    FUNCTION_DEFAULTS.timeoutMs,
    MAX_TIMEOUT_MS,
  );
  const retries = readInt(value, 'retries', path, issues, {
    min: 0,
    max: 10,
    fallback: FUNCTION_DEFAULTS.retries,
  });
  const network = value['network'] ?? 'none';
  if (network !== 'none' && network !== 'host') {
    issues.add(at(path, 'network'), `must be "none" or "host", got ${describe(network)}`);
  }
  const synthetic = source?.kind === 'builtin' ? source.builtin : undefined;
  const runtimeMs = readDuration(
    value,
    'runtime',
    path,
    issues,
    synthetic?.sleepMs ?? FUNCTION_DEFAULTS.runtimeMs,
    MAX_TIMEOUT_MS,
  );
  const outputBytes = readInt(value, 'outputBytes', path, issues, {
    min: 0,
    max: 2 ** 32,
    fallback: synthetic ? syntheticOutputBytes(synthetic) : FUNCTION_DEFAULTS.outputBytes,
  });
  const shard = readKeyShard(value['shard'], path, issues);
  const own = readIsolation(value, path, issues);
  if (source?.kind === 'image' && own !== undefined && own !== 'docker') {
    issues.add(
      at(path, 'isolation'),
      `is ${own}, but an image function runs in a container: use docker or leave isolation out`,
    );
  }
  const preload = readPreload(value['preload'], at(path, 'preload'), issues);
  const uses = readUses(value['uses'], at(path, 'uses'), issues);
  if (!source) return undefined;
  const isolation = own ?? (source.kind === 'image' ? undefined : defaults.isolation);
  return {
    name,
    source,
    cpu,
    memoryMb,
    timeoutMs,
    retries,
    network: network === 'host' ? 'host' : 'none',
    ...(isolation === undefined ? {} : { isolation }),
    runtimeMs,
    outputBytes,
    ...(shard ? { shard } : {}),
    ...(preload !== undefined ? { preload } : {}),
    ...(uses !== undefined && uses.length > 0 ? { uses } : {}),
  };
}

const MAX_CPU_MILLICORES = 8000;
const MILLICORES_RE = /^(\d+)m$/;

/**
 * `cpu:` as cores (`0.5`, `2`, `"1.5"`) or millicores (`"250m"`), from 0.05 to 8 cores, kept to
 * whole millicores (0.0004 of a core more or less is not a CFS quota anyone can ask for).
 */
function readCpu(obj: Obj, path: string, issues: Issues): number {
  const value = obj['cpu'];
  if (value === undefined || value === null) return FUNCTION_DEFAULTS.cpu;
  let mc: number | null = null;
  if (typeof value === 'number' && Number.isFinite(value)) mc = value * 1000;
  else if (typeof value === 'string') {
    const m = MILLICORES_RE.exec(value.trim());
    if (m) mc = Number(m[1]);
    else if (/^\d+(\.\d+)?$/.test(value.trim())) mc = Number(value) * 1000;
  }
  if (mc === null || Math.abs(mc - Math.round(mc)) > 1e-6) {
    issues.add(
      at(path, 'cpu'),
      `must be cores (e.g. 0.5, 2) or millicores (e.g. "250m"), in whole millicores, got ${describe(value)}`,
    );
    return FUNCTION_DEFAULTS.cpu;
  }
  mc = Math.round(mc);
  if (mc < MIN_CPU_MILLICORES || mc > MAX_CPU_MILLICORES) {
    issues.add(
      at(path, 'cpu'),
      `must be from 0.05 (50m) to 8 cores (8000m), got ${describe(value)}`,
    );
    return FUNCTION_DEFAULTS.cpu;
  }
  return mc / 1000;
}

function readDuration(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  fallback: number,
  maxMs: number,
): number {
  const value = obj[key];
  if (value === undefined || value === null) return fallback;
  const ms = parseDurationMs(value);
  if (ms === null || ms > maxMs || (key === 'timeout' && ms < 1)) {
    issues.add(
      at(path, key),
      `must be a duration such as 500ms, 30s, 2m (a bare number is seconds), from 1ms to 1h; got ${describe(value)}`,
    );
    return fallback;
  }
  return ms;
}

function readSource(value: Obj, path: string, issues: Issues): FunctionSource | undefined {
  const present = SOURCES.filter((k) => value[k] !== undefined);
  if (present.length !== 1) {
    issues.add(
      path,
      present.length === 0
        ? `needs exactly one source: handler (file), code (inline ESM), builtin (synthetic) or image`
        : `has ${present.join(' and ')}; give exactly one source`,
    );
    return undefined;
  }
  const kind = present[0]!;
  switch (kind) {
    case 'handler': {
      const p = readString(value, 'handler', path, issues, {
        pattern: HANDLER_RE,
        hint: 'a relative path to a .js or .mjs file inside the workflow folder, e.g. functions/split.js',
      });
      return p === undefined ? undefined : { kind: 'handler', path: p };
    }
    case 'code': {
      const code = readString(value, 'code', path, issues, {
        maxLength: LIMITS.inlineCodeChars,
        hint: 'ESM source with a default export',
      });
      if (code !== undefined && code.trim() === '') {
        issues.add(
          at(path, 'code'),
          'is empty; expected ESM source such as "export default async (x) => x"',
        );
        return undefined;
      }
      return code === undefined ? undefined : { kind: 'code', code };
    }
    case 'image': {
      const image = readString(value, 'image', path, issues, {
        pattern: IMAGE_RE,
        hint: 'an image reference such as faasflow-runtime:latest',
      });
      return image === undefined ? undefined : { kind: 'image', image };
    }
    case 'builtin': {
      const builtin = readSynthetic(value['builtin'], at(path, 'builtin'), issues);
      return builtin ? { kind: 'builtin', builtin } : undefined;
    }
  }
}

function readSynthetic(value: unknown, path: string, issues: Issues): SyntheticSpec | undefined {
  if (!isObj(value)) {
    issues.add(
      path,
      `must be a mapping such as { sleepMs: 200, outputBytes: 1048576 }, got ${describe(value)}`,
    );
    return undefined;
  }
  onlyKeys(value, ['sleepMs', 'busy', 'outputBytes', 'fields', 'keys'], path, issues);
  const spec: SyntheticSpec = {
    sleepMs: readNumber(value, 'sleepMs', path, issues, {
      min: 0,
      max: MAX_TIMEOUT_MS,
      fallback: 0,
    }),
  };
  if (readBool(value, 'busy', path, issues, false)) spec.busy = true;
  if (value['outputBytes'] !== undefined) {
    spec.outputBytes = readInt(value, 'outputBytes', path, issues, {
      min: 0,
      max: 1024 ** 3,
      fallback: 0,
    });
  }
  for (const key of ['fields', 'keys'] as const) {
    const v = value[key];
    if (v === undefined) continue;
    if (!isObj(v)) {
      issues.add(
        at(path, key),
        `must be a mapping of field name to ${key === 'fields' ? 'size in bytes' : 'width'}`,
      );
      continue;
    }
    const out: Record<string, number> = {};
    for (const field of Object.keys(v))
      out[field] = readInt(v, field, at(path, key), issues, {
        min: 0,
        max: 1024 ** 3,
        fallback: 0,
      });
    spec[key] = out;
  }
  return spec;
}

export function syntheticOutputBytes(spec: SyntheticSpec): number {
  if (spec.fields) return Object.values(spec.fields).reduce((a, b) => a + b, 0);
  return spec.outputBytes ?? 0;
}
