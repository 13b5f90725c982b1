/**
 * The harvesting models at invocation time (thesis §3.5.2): ML1 predicts each parallel
 * function's input size from the invocation's, ML2 its peak CPU, peak memory and CPU time from
 * that. Pure; the master and an ingress worker both call it with a model set they hold.
 */
import { modelKey, type ModelSet } from './model-set.js';
import type { StagePlan } from './stages.js';

export type Prediction =
  | { kind: 'ok'; inputBytes: number; cpuCores: number; memoryMb: number; cpuTimeMs?: number }
  | { kind: 'no-model'; model: 'ml1' | 'ml2'; message: string };

/** ML1: the function's input size, or null without a model for the stage. */
export function predictInputBytes(
  set: ModelSet,
  q: { workflow: string; stage: string; dagInputBytes: number; index: number },
): number | null {
  const m = set.ml1.get(modelKey(q.workflow, q.stage));
  if (!m) return null;
  return Math.max(0, m.forest.predict([[q.dagInputBytes, q.index]])[0]!);
}

/**
 * ML2: peak CPU cores, peak memory (MB) and, when the set has the work model, CPU time (ms);
 * null without a model for the function.
 */
export function predictDemand(
  set: ModelSet,
  q: { workflow: string; function: string; inputBytes: number },
): { cpuCores: number; memoryMb: number; cpuTimeMs?: number } | null {
  const m = set.ml2.get(modelKey(q.workflow, q.function));
  if (!m) return null;
  const row = [q.inputBytes];
  return {
    cpuCores: Math.max(0, m.cpu.predict([row])[0]!),
    memoryMb: Math.max(0, m.memory.predict([row])[0]!),
    ...(m.cpuTime ? { cpuTimeMs: Math.max(0, m.cpuTime.predict([row])[0]!) } : {}),
  };
}

/** ML1 then ML2, as at invocation time: only the invocation's input size is known. */
export function predictNode(
  set: ModelSet,
  q: { workflow: string; stage: string; function: string; dagInputBytes: number; index: number },
): Prediction {
  const inputBytes = predictInputBytes(set, q);
  if (inputBytes === null)
    return { kind: 'no-model', model: 'ml1', message: noModel(set, 'ml1', q.workflow, q.stage) };
  const demand = predictDemand(set, { workflow: q.workflow, function: q.function, inputBytes });
  if (demand === null)
    return { kind: 'no-model', model: 'ml2', message: noModel(set, 'ml2', q.workflow, q.function) };
  return { kind: 'ok', inputBytes, ...demand };
}

/**
 * Predictions for the task nodes of an invocation's parallel stages (width > 1, outside foreach
 * bodies, whose width is known only at run time: use `predictNode` with `foreachInstance`).
 */
export function predictInvocation(
  set: ModelSet,
  workflow: string,
  plan: StagePlan,
  dagInputBytes: number,
): Record<string, Prediction> {
  const out: Record<string, Prediction> = {};
  for (const stage of plan.stages) {
    if (stage.width < 2 || stage.foreach) continue;
    stage.members.forEach((m, index) => {
      out[m.node] = predictNode(set, {
        workflow,
        stage: stage.id,
        function: m.fn,
        dagInputBytes,
        index,
      });
    });
  }
  return out;
}

function noModel(set: ModelSet, model: 'ml1' | 'ml2', workflow: string, key: string): string {
  const what = model === 'ml1' ? `stage ${key}` : `function ${key}`;
  const s = set.skipped.find((x) => x.model === model && x.workflow === workflow && x.key === key);
  return s
    ? `no ${model.toUpperCase()} model for ${what} of ${workflow}: ${s.message}`
    : `no ${model.toUpperCase()} model for ${what} of ${workflow}: no profile records`;
}
