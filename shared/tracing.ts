/**
 * OpenTelemetry tracing through `@opentelemetry/api` only (docs/reference/metrics.md#traces):
 * the W3C `traceparent` an invocation's spans hang from, and the attribute names every process
 * uses. Without an SDK registered (shared/otel-sdk.ts, `--otel-endpoint`) the api's tracer is a
 * no-op: spans do not record, no `traceparent` is ever made, and nothing travels.
 *
 * The trace context crosses processes as one W3C `traceparent` string (55 characters): from the
 * client's header to the master's invocation span, and from there in the invocation context
 * (`ctx.traceparent`) that every trigger carries, so a node span on any worker is a child of the
 * invocation's root. It is parsed and formatted here rather than through the api's global
 * propagator, so that it works the same whether or not a propagator is registered.
 */
import {
  ROOT_CONTEXT,
  TraceFlags,
  trace,
  type Context,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

/** The header a client sends its trace context in (W3C Trace Context). */
export const TRACEPARENT_HEADER = 'traceparent';

/** Instrumentation scope names of the two processes' tracers. */
export const MASTER_TRACER = 'faasflow-master';
export const WORKER_TRACER = 'faasflow-worker';

/** Span attribute names (documented in docs/reference/metrics.md). */
export const ATTR = {
  invocation: 'faasflow.invocation.id',
  workflow: 'faasflow.workflow',
  version: 'faasflow.workflow.version',
  tenant: 'faasflow.tenant',
  mode: 'faasflow.mode',
  status: 'faasflow.status',
  errorCode: 'faasflow.error.code',
  node: 'faasflow.node',
  kind: 'faasflow.node.kind',
  worker: 'faasflow.worker',
  attempt: 'faasflow.attempt',
  cold: 'faasflow.cold',
  tier: 'faasflow.tier',
  inputBytes: 'faasflow.input.bytes',
  outputBytes: 'faasflow.output.bytes',
  cpu: 'faasflow.allocation.cpu',
  memoryMb: 'faasflow.allocation.memory_mb',
  harvestReason: 'faasflow.harvest.reason',
  items: 'faasflow.foreach.items',
  groups: 'faasflow.groups',
  workers: 'faasflow.workers',
} as const;

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a W3C `traceparent` names; undefined when it is malformed or all zeros. */
export function parseTraceparent(header: string | undefined): SpanContext | undefined {
  if (header === undefined) return undefined;
  const m = TRACEPARENT.exec(header.trim().toLowerCase());
  if (!m || m[1] === 'ff') return undefined;
  const [, , traceId, spanId, flags] = m as unknown as [string, string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return {
    traceId,
    spanId,
    traceFlags: parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
}

/** A context whose parent is the span `traceparent` names (the root context without one). */
export function contextFrom(traceparent: string | undefined): Context {
  const sc = parseTraceparent(traceparent);
  return sc ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/**
 * The `traceparent` of `span`, for its children in other processes; undefined when the span
 * does not record (no SDK registered, or not sampled), so nothing travels for nothing.
 */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const sc = span.spanContext();
  const flags = (sc.traceFlags & TraceFlags.SAMPLED).toString(16).padStart(2, '0');
  return `00-${sc.traceId}-${sc.spanId}-${flags}`;
}
