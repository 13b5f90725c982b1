/**
 * Builtin synthetic functions (FaaSFlow's benchmark functions and load tests): take `sleepMs`
 * (sleeping, or burning CPU when `busy`), then emit an output of declared shape.
 *
 * Output rules, in order:
 * - `fields` or `keys` given: an object. Each `fields` entry is
 *   `workflowInput[fnName][field] ?? workflowInput[field] ?? Buffer.alloc(size)`; each `keys` entry
 *   is taken the same way from the workflow input, else `width` strings `k0..k{width-1}`.
 *   (`keys` alone also produces an object: a key list feeding a foreach must not be dropped.)
 * - else `outputBytes` given: a zero-filled Buffer of that size.
 * - else the input, echoed.
 *
 * Part of the runtime copied into sandbox images: imports only node builtins.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { SyntheticSpec } from '../../../shared/dag/types.js';

/** Problems with a builtin spec received over the wire; empty when it is usable. */
export function syntheticSpecProblems(spec: unknown): string[] {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    return ['builtin spec must be an object {sleepMs, busy?, outputBytes?, fields?, keys?}'];
  }
  const s = spec as Record<string, unknown>;
  const problems: string[] = [];
  if (!isSize(s['sleepMs'])) problems.push('sleepMs must be a number ≥ 0');
  if (s['busy'] !== undefined && typeof s['busy'] !== 'boolean')
    problems.push('busy must be a boolean');
  if (s['outputBytes'] !== undefined && !isSize(s['outputBytes'])) {
    problems.push('outputBytes must be a number ≥ 0');
  }
  for (const group of ['fields', 'keys'] as const) {
    const g = s[group];
    if (g === undefined) continue;
    if (typeof g !== 'object' || g === null || Array.isArray(g)) {
      problems.push(
        `${group} must be an object of name → ${group === 'fields' ? 'bytes' : 'width'}`,
      );
      continue;
    }
    for (const [name, size] of Object.entries(g)) {
      if (!isSize(size)) problems.push(`${group}.${name} must be a number ≥ 0`);
    }
  }
  return problems;
}

function isSize(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Runs the synthetic function: waits its time, then returns its output. */
export async function runSynthetic(
  spec: SyntheticSpec,
  fnName: string,
  input: unknown,
  workflowInput: unknown,
): Promise<unknown> {
  if (spec.sleepMs > 0) {
    if (spec.busy === true) spin(spec.sleepMs);
    else await sleep(spec.sleepMs);
  }
  return syntheticOutput(spec, fnName, input, workflowInput);
}

/** Burns CPU on this thread for `durationMs`. */
export function spin(durationMs: number): void {
  const until = performance.now() + durationMs;
  let x = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 1000; i++) x = (x * 31 + i) | 0;
  }
  if (x === 0.5) throw new Error('unreachable'); // keeps the loop from being optimised away
}

/** The output of a synthetic function (no waiting). */
export function syntheticOutput(
  spec: SyntheticSpec,
  fnName: string,
  input: unknown,
  workflowInput: unknown,
): unknown {
  const fields = spec.fields ?? {};
  const keys = spec.keys ?? {};
  if (Object.keys(fields).length > 0 || Object.keys(keys).length > 0) {
    const out: Record<string, unknown> = {};
    for (const [field, sizeBytes] of Object.entries(fields)) {
      out[field] = fromWorkflowInput(workflowInput, fnName, field) ?? Buffer.alloc(sizeBytes);
    }
    for (const [field, width] of Object.entries(keys)) {
      out[field] = fromWorkflowInput(workflowInput, fnName, field) ?? keyList(width);
    }
    return out;
  }
  if (spec.outputBytes !== undefined) return Buffer.alloc(spec.outputBytes);
  return input;
}

function fromWorkflowInput(workflowInput: unknown, fnName: string, field: string): unknown {
  if (!isRecord(workflowInput)) return undefined;
  const own = workflowInput[fnName];
  const scoped = isRecord(own) ? own[field] : undefined;
  return scoped ?? workflowInput[field] ?? undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

function keyList(width: number): string[] {
  return Array.from({ length: Math.floor(width) }, (_, i) => `k${i}`);
}
