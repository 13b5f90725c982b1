/**
 * Node spans on the worker (docs/reference/metrics.md#traces): one span per node this worker
 * ran, a child of the invocation's root span (`ctx.traceparent`, made by the process that took
 * the invocation), drawn from the node's step once it is finished — so tracing adds nothing to
 * the run itself, and a step and its span always agree.
 *
 * A node span runs from the node's readiness (its last parent edge arrived) to its output being
 * stored, with child spans for the phases the step measured, laid out in the order the engine
 * runs them: `get` (reading its inputs from FaaStore), `queue` (waiting for a sandbox slot),
 * `init` (starting a cold sandbox: the gap between the queue and the run), `run` (the handler,
 * request sent → result) and `put` (storing the output). Without `ctx.traceparent` — tracing
 * off, or the invocation not sampled — nothing is done at all.
 */
import { SpanStatusCode, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { trace } from '@opentelemetry/api';
import type { InvocationContext, StepRecord } from '../../shared/schema/wire.js';
import { ATTR, contextFrom } from '../../shared/tracing.js';

export interface SpanInvocation {
  id: string;
  workflow: string;
  version: number;
}

/** Records `step` as a node span (and its phases) under the invocation's root span. */
export function traceStep(
  tracer: Tracer,
  ctx: InvocationContext,
  inv: SpanInvocation,
  step: StepRecord,
): void {
  if (ctx.traceparent === undefined) return;
  const parent = contextFrom(ctx.traceparent);
  const attributes: Attributes = {
    [ATTR.invocation]: inv.id,
    [ATTR.workflow]: inv.workflow,
    [ATTR.version]: inv.version,
    [ATTR.node]: step.node,
    [ATTR.kind]: step.kind,
    [ATTR.worker]: step.worker,
    [ATTR.status]: step.status,
    [ATTR.attempt]: step.attempts,
    [ATTR.cold]: step.cold,
    [ATTR.tier]: step.tier,
    [ATTR.inputBytes]: step.inputBytes,
    [ATTR.outputBytes]: step.outputBytes,
  };
  if (step.allocation) {
    attributes[ATTR.cpu] = step.allocation.cpu;
    attributes[ATTR.memoryMb] = step.allocation.memoryMb;
  }
  if (step.harvest?.reason !== undefined) attributes[ATTR.harvestReason] = step.harvest.reason;
  if (step.items !== undefined) attributes[ATTR.items] = step.items;
  if (step.error) attributes[ATTR.errorCode] = step.error.code;
  const span = tracer.startSpan(
    `node ${step.node}`,
    { startTime: step.readyAt, attributes },
    parent,
  );
  if (step.status === 'failed')
    span.setStatus({ code: SpanStatusCode.ERROR, message: step.error?.message ?? 'failed' });
  const inNode = trace.setSpan(parent, span);
  for (const p of phasesOf(step)) child(tracer, inNode, p.name, p.from, p.to);
  span.end(Math.max(step.readyAt, step.finishedAt));
}

export interface Phase {
  name: 'get' | 'queue' | 'init' | 'run' | 'put';
  /** Epoch ms. */
  from: number;
  to: number;
}

/**
 * A step's phases in time, as the engine runs them: inputs read from readiness; then from the
 * node's start the sandbox queue; the run ends where the put starts, and the put ends the node;
 * a cold start is the gap between the queue and the run. Phases the step did not measure (a
 * pass or switch node has no run, a skipped one nothing) are left out.
 */
export function phasesOf(step: StepRecord): Phase[] {
  const out: Phase[] = [];
  const end = Math.max(step.readyAt, step.finishedAt);
  if (step.getMs !== undefined && step.getMs > 0)
    out.push({ name: 'get', from: step.readyAt, to: Math.min(end, step.readyAt + step.getMs) });
  const queueEnd = Math.min(end, step.startedAt + step.queueMs);
  if (step.queueMs > 0) out.push({ name: 'queue', from: step.startedAt, to: queueEnd });
  const putFrom = Math.max(step.startedAt, end - (step.putMs ?? 0));
  if (step.runMs !== undefined) {
    const runFrom = Math.max(queueEnd, putFrom - step.runMs);
    if (step.cold && runFrom > queueEnd) out.push({ name: 'init', from: queueEnd, to: runFrom });
    out.push({ name: 'run', from: runFrom, to: putFrom });
  }
  if (step.putMs !== undefined && step.putMs > 0) out.push({ name: 'put', from: putFrom, to: end });
  return out;
}

function child(tracer: Tracer, parent: Context, name: string, from: number, to: number): void {
  tracer.startSpan(name, { startTime: from }, parent).end(Math.max(from, to));
}
