/**
 * The JSONata of `learn:` evaluated: context features over the invocation input, the reward
 * over an ended invocation's measurements. Sources were compiled at validation; compiled forms
 * are cached per source.
 */
import jsonata from 'jsonata';

const compiled = new Map<string, jsonata.Expression>();

function expr(source: string): jsonata.Expression {
  let e = compiled.get(source);
  if (!e) {
    e = jsonata(source);
    if (compiled.size > 1_000) compiled.clear();
    compiled.set(source, e);
  }
  return e;
}

/** Feature values; a feature whose expression fails or gives nothing is left out (reads as 0). */
export async function contextValues(
  features: Readonly<Record<string, string>>,
  input: unknown,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, source] of Object.entries(features)) {
    try {
      const v: unknown = await expr(source).evaluate(input ?? null);
      if (v !== undefined) out[name] = v;
    } catch {
      // A feature the input does not have is absent, not an error: the invocation still runs.
    }
  }
  return out;
}

export interface Measurements {
  latencyMs: number;
  cpuMs: number;
  /** GB-seconds the task nodes held (memory allocated × run time). */
  costs: number;
  /** 1 when the invocation did not succeed. */
  failed: number;
  feedback: number;
}

/** The reward, or null when the expression fails or gives no finite number. */
export async function rewardOf(source: string, m: Measurements): Promise<number | null> {
  try {
    const v: unknown = await expr(source).evaluate(m, { ...m });
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export function usesFeedback(source: string): boolean {
  return /\$feedback\b/.test(source);
}
