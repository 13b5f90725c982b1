/**
 * The root span of each invocation, on the process that accepted it (the master): started when
 * it is accepted, a child of the client's `traceparent` when one came, ended with its result.
 * Its `traceparent` goes into the invocation context, so every node span on every worker hangs
 * from it (worker/engine/trace.ts). Through the api only: without an SDK registered the tracer
 * is a no-op, `start` returns no `traceparent` and nothing is held.
 *
 * Spans live in this process's memory: a master restarted while an invocation runs loses its
 * root (the workers' node spans still carry its trace id and parent).
 */
import { SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { AppError } from '../../shared/errors.js';
import { ATTR, MASTER_TRACER, contextFrom, traceparentOf } from '../../shared/tracing.js';
import type { InvocationRecord } from './record.js';

export interface RootSpanStart {
  id: string;
  workflow: string;
  version: number;
  tenant: string;
  mode: string;
  /** Epoch ms the invocation was accepted. */
  startedAt: number;
  /** The client's W3C `traceparent` header, if it sent one. */
  traceparent?: string;
}

export class InvocationSpans {
  private readonly open = new Map<string, Span>();

  constructor(private readonly tracer: Tracer = trace.getTracer(MASTER_TRACER)) {}

  /** Starts the root span; returns the `traceparent` its children use, or undefined. */
  start(s: RootSpanStart): string | undefined {
    const span = this.tracer.startSpan(
      `invocation ${s.workflow}`,
      {
        kind: SpanKind.SERVER,
        startTime: s.startedAt,
        attributes: {
          [ATTR.invocation]: s.id,
          [ATTR.workflow]: s.workflow,
          [ATTR.version]: s.version,
          [ATTR.tenant]: s.tenant,
          [ATTR.mode]: s.mode,
        },
      },
      contextFrom(s.traceparent),
    );
    const tp = traceparentOf(span);
    if (tp === undefined) {
      span.end();
      return undefined;
    }
    this.open.set(s.id, span);
    return tp;
  }

  /** Where the groups went (an event: re-placements after a lost worker add more). */
  placed(id: string, placement: InvocationRecord['placement'], at: number): void {
    this.open.get(id)?.addEvent(
      'placed',
      {
        [ATTR.groups]: placement.groups.length,
        [ATTR.workers]: [...new Set(placement.groups)].join(','),
      },
      at,
    );
  }

  /** Ends the root span with the invocation's result. */
  end(id: string, status: InvocationRecord['status'], at: number, error?: AppError): void {
    const span = this.open.get(id);
    if (!span) return;
    this.open.delete(id);
    span.setAttribute(ATTR.status, status);
    if (error) {
      span.setAttribute(ATTR.errorCode, error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    } else if (status === 'succeeded') span.setStatus({ code: SpanStatusCode.OK });
    span.end(at);
  }

  /** Ends every open span (the master is stopping). */
  close(at: number): void {
    for (const [id, span] of this.open) {
      span.setAttribute(ATTR.status, 'running');
      span.end(at);
      this.open.delete(id);
    }
  }
}
