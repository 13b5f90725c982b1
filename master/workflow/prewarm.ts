/**
 * `prewarm:` (per workflow) and `preload:` (per function) — preparing sandboxes ahead of their
 * nodes (docs/guides/chains.md). Both are checked with paths in every message and carried on the
 * DAG as they are; the chain planner and the sandbox runtime read them.
 *
 * `prewarm: { mode: off | eager | predictive, budget }`: budget is the share of the workflow's
 * sandbox memory-seconds that prewarms never used may take, as a fraction (0.1) or a percentage
 * ("10%"), from 0 to 1; default 0.1. `preload:` is a list of at most 32 distinct relative paths
 * inside the workflow folder.
 */
import { PREWARM_DEFAULT_BUDGET } from '../../shared/chains/budget.js';
import type { PrewarmMode, PrewarmSpec } from '../../shared/dag/types.js';
import { isSelector } from '../../shared/labels.js';
import { at, type Issues } from './diagnostics.js';
import { describe, isObj, onlyKeys } from './read.js';

const MODES: readonly PrewarmMode[] = ['off', 'eager', 'predictive'];
export const MAX_PRELOAD_FILES = 32;
const PRELOAD_RE = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9_./-]+$/;
const PERCENT_RE = /^(\d+(?:\.\d+)?)\s*%$/;

export function readPrewarm(value: unknown, path: string, issues: Issues): PrewarmSpec | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObj(value)) {
    issues.add(
      path,
      `must be a mapping { mode: off | eager | predictive, budget }, got ${describe(value)}`,
    );
    return undefined;
  }
  onlyKeys(value, ['mode', 'budget'], path, issues);
  const mode = value['mode'];
  let ok = true;
  if (!MODES.includes(mode as PrewarmMode)) {
    issues.add(
      at(path, 'mode'),
      mode === undefined
        ? `is required: one of ${MODES.join(', ')}`
        : `must be one of ${MODES.join(', ')}, got ${describe(mode)}`,
    );
    ok = false;
  }
  const budget = readBudget(value['budget'], at(path, 'budget'), issues);
  if (budget === undefined) ok = false;
  return ok ? { mode: mode as PrewarmMode, budget: budget! } : undefined;
}

function readBudget(value: unknown, path: string, issues: Issues): number | undefined {
  if (value === undefined || value === null) return PREWARM_DEFAULT_BUDGET;
  let fraction: number | null = null;
  if (typeof value === 'number' && Number.isFinite(value)) fraction = value;
  else if (typeof value === 'string') {
    const m = PERCENT_RE.exec(value.trim());
    if (m) fraction = Number(m[1]) / 100;
  }
  if (fraction === null || fraction < 0 || fraction > 1) {
    issues.add(
      path,
      `must be a share of the workflow's sandbox memory-seconds from 0 to 1 (e.g. 0.1) or a percentage (e.g. "10%"), got ${describe(value)}`,
    );
    return undefined;
  }
  return fraction;
}

/** At most this many selectors in a function's `uses:`. */
export const MAX_USES = 16;

/** `uses: [near=db, gpu]`: worker label selectors (shared/labels.ts), checked with their paths. */
export function readUses(value: unknown, path: string, issues: Issues): string[] | undefined {
  return readDistinctList(value, path, issues, {
    max: MAX_USES,
    unit: 'labels',
    list: 'a list of worker labels the function uses, each key or key=value (e.g. [near=db, gpu])',
    valid: isSelector,
    item: 'a worker label, key or key=value (key: lower-case letters, digits, _ . -, starting with a letter; value: letters, digits, _ . -)',
  });
}

export function readPreload(value: unknown, path: string, issues: Issues): string[] | undefined {
  return readDistinctList(value, path, issues, {
    max: MAX_PRELOAD_FILES,
    unit: 'files',
    list: 'a list of files relative to the workflow folder (e.g. [models/weights.bin])',
    valid: (v) => PRELOAD_RE.test(v),
    item: 'a relative path inside the workflow folder (letters, digits, _ . / -; no leading / and no ..)',
  });
}

/** A list of at most `max` distinct strings each `valid`; every problem added with its path. */
function readDistinctList(
  value: unknown,
  path: string,
  issues: Issues,
  o: { max: number; unit: string; list: string; valid: (v: string) => boolean; item: string },
): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) {
    issues.add(path, `must be ${o.list}, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > o.max) {
    issues.add(path, `has ${value.length} ${o.unit}; at most ${o.max}`);
    return undefined;
  }
  const out: string[] = [];
  value.forEach((v: unknown, i) => {
    const p = at(path, i);
    if (typeof v !== 'string' || !o.valid(v))
      issues.add(p, `must be ${o.item}, got ${describe(v)}`);
    else if (out.includes(v)) issues.add(p, `${JSON.stringify(v)} is listed twice`);
    else out.push(v);
  });
  return out.length === value.length ? out : undefined;
}
