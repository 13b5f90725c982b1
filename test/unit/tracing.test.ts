import { SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { tracesUrl } from '../../shared/otel-sdk.js';
import type { InvocationContext, StepRecord } from '../../shared/schema/wire.js';
import { contextFrom, parseTraceparent, traceparentOf } from '../../shared/tracing.js';
import { InvocationSpans } from '../../master/invocations/trace.js';
import { phasesOf, traceStep } from '../../worker/engine/trace.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
/** Epoch ms (the SDK reads small numbers as performance.now() offsets). */
const T = 1_700_000_000_000;

function recorder(): { exporter: InMemorySpanExporter; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider };
}

const ctx = (traceparent?: string): InvocationContext => ({
  tenant: 'default',
  deadline: 0,
  input: { tier: 'inline', data: '', sizeBytes: 0 },
  master: 'http://127.0.0.1:1',
  mode: 'worker',
  ...(traceparent === undefined ? {} : { traceparent }),
});

const step = (over: Partial<StepRecord> = {}): StepRecord => ({
  node: 'encrypt-1',
  worker: 'w-a',
  status: 'succeeded',
  kind: 'task',
  attempts: 1,
  readyAt: T + 1_000,
  startedAt: T + 1_004,
  finishedAt: T + 1_100,
  queueMs: 6,
  cold: false,
  inputBytes: 10,
  outputBytes: 20,
  tier: 'memory',
  getMs: 3,
  runMs: 80,
  putMs: 2,
  allocation: { cpu: 0.5, memoryMb: 256 },
  ...over,
});

describe('traceparent', () => {
  it('parses a W3C traceparent, case-insensitively, keeping only the sampled flag', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      spanId: PARENT,
      traceFlags: 1,
      isRemote: true,
    });
    expect(parseTraceparent(`00-${TRACE.toUpperCase()}-${PARENT}-03`)?.traceFlags).toBe(1);
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.traceFlags).toBe(0);
  });

  it('rejects malformed, all-zero and version-ff headers', () => {
    for (const bad of [
      undefined,
      '',
      'garbage',
      `00-${TRACE}-${PARENT}`,
      `00-${'0'.repeat(32)}-${PARENT}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${PARENT}-01`,
      `00-${TRACE}x-${PARENT}-01`,
    ])
      expect(parseTraceparent(bad)).toBeUndefined();
  });

  it('formats a recording span and gives nothing for a non-recording one', () => {
    const { provider } = recorder();
    const span = provider
      .getTracer('t')
      .startSpan('x', {}, contextFrom(`00-${TRACE}-${PARENT}-01`));
    expect(traceparentOf(span)).toBe(`00-${TRACE}-${span.spanContext().spanId}-01`);
    // The api's own tracer, with no SDK registered: a no-op.
    const noop = trace
      .getTracer('noop')
      .startSpan('x', {}, contextFrom(`00-${TRACE}-${PARENT}-01`));
    expect(traceparentOf(noop)).toBeUndefined();
  });

  it('sends spans to <endpoint>/v1/traces', () => {
    expect(tracesUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
    expect(tracesUrl('http://c:4318/')).toBe('http://c:4318/v1/traces');
    expect(tracesUrl('http://c:4318/v1/traces')).toBe('http://c:4318/v1/traces');
  });
});

describe('node phases', () => {
  it('lays a warm task out as get, queue, run, put in order, the put ending the node', () => {
    expect(phasesOf(step())).toEqual([
      { name: 'get', from: T + 1_000, to: T + 1_003 },
      { name: 'queue', from: T + 1_004, to: T + 1_010 },
      { name: 'run', from: T + 1_018, to: T + 1_098 },
      { name: 'put', from: T + 1_098, to: T + 1_100 },
    ]);
  });

  it('shows a cold start as init, between the queue and the run', () => {
    const p = phasesOf(step({ cold: true, queueMs: 0 }));
    expect(p.map((x) => x.name)).toEqual(['get', 'init', 'run', 'put']);
    expect(p[1]).toEqual({ name: 'init', from: T + 1_004, to: T + 1_018 });
  });

  it('gives a skipped or pass node no phases', () => {
    expect(
      phasesOf({ ...step(), getMs: undefined, runMs: undefined, putMs: undefined, queueMs: 0 }),
    ).toEqual([]);
  });
});

describe('node spans (worker)', () => {
  const inv = { id: 'inv_1', workflow: 'aes', version: 3 };

  it('records a node span under the invocation root, with its attributes and phases', () => {
    const { exporter, provider } = recorder();
    traceStep(provider.getTracer('w'), ctx(`00-${TRACE}-${PARENT}-01`), inv, step());
    const spans = exporter.getFinishedSpans();
    const node = spans.find((s) => s.name === 'node encrypt-1')!;
    expect(node.spanContext().traceId).toBe(TRACE);
    expect(node.parentSpanContext?.spanId).toBe(PARENT);
    expect(node.attributes).toMatchObject({
      'faasflow.invocation.id': 'inv_1',
      'faasflow.workflow': 'aes',
      'faasflow.workflow.version': 3,
      'faasflow.node': 'encrypt-1',
      'faasflow.worker': 'w-a',
      'faasflow.attempt': 1,
      'faasflow.cold': false,
      'faasflow.tier': 'memory',
      'faasflow.status': 'succeeded',
      'faasflow.allocation.cpu': 0.5,
    });
    expect(node.startTime).toEqual([1_700_000_001, 0]);
    expect(node.endTime).toEqual([1_700_000_001, 100_000_000]);
    const children = spans.filter((s) => s.parentSpanContext?.spanId === node.spanContext().spanId);
    expect(children.map((s) => s.name)).toEqual(['get', 'queue', 'run', 'put']);
  });

  it('marks a failed node with its error code and an error status', () => {
    const { exporter, provider } = recorder();
    traceStep(
      provider.getTracer('w'),
      ctx(`00-${TRACE}-${PARENT}-01`),
      inv,
      step({ status: 'failed', error: { code: 'FUNCTION_OOM', message: 'out of memory' } }),
    );
    const node = exporter.getFinishedSpans().find((s) => s.name === 'node encrypt-1')!;
    expect(node.status).toEqual({ code: SpanStatusCode.ERROR, message: 'out of memory' });
    expect(node.attributes['faasflow.error.code']).toBe('FUNCTION_OOM');
  });

  it('records nothing for an invocation without a traceparent', () => {
    const { exporter, provider } = recorder();
    traceStep(provider.getTracer('w'), ctx(), inv, step());
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('invocation root spans (master)', () => {
  const start = { id: 'inv_2', workflow: 'aes', version: 1, tenant: 'default', mode: 'worker' };

  it('starts the root as a child of the client traceparent and ends it with the result', () => {
    const { exporter, provider } = recorder();
    const spans = new InvocationSpans(provider.getTracer('m'));
    const tp = spans.start({
      ...start,
      startedAt: T + 5_000,
      traceparent: `00-${TRACE}-${PARENT}-01`,
    });
    expect(parseTraceparent(tp)?.traceId).toBe(TRACE);
    expect(exporter.getFinishedSpans()).toEqual([]);
    spans.placed('inv_2', { groups: ['w-a', 'w-b', 'w-a'], workers: {} }, T + 5_001);
    spans.end('inv_2', 'failed', T + 5_200, new AppError('FUNCTION_FAILED', 'boom'));
    spans.end('inv_2', 'failed', T + 5_300);
    const [root] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(root!.parentSpanContext?.spanId).toBe(PARENT);
    expect(root!.spanContext().spanId).toBe(parseTraceparent(tp)?.spanId);
    expect(root!.attributes).toMatchObject({
      'faasflow.status': 'failed',
      'faasflow.error.code': 'FUNCTION_FAILED',
    });
    expect(root!.status.code).toBe(SpanStatusCode.ERROR);
    expect(root!.events[0]).toMatchObject({
      name: 'placed',
      attributes: { 'faasflow.groups': 3, 'faasflow.workers': 'w-a,w-b' },
    });
    expect(root!.endTime).toEqual([1_700_000_005, 200_000_000]);
  });

  it('makes no traceparent and holds nothing with the api’s no-op tracer', () => {
    const spans = new InvocationSpans(trace.getTracer('noop'));
    expect(
      spans.start({ ...start, startedAt: 1, traceparent: `00-${TRACE}-${PARENT}-01` }),
    ).toBeUndefined();
    expect((spans as unknown as { open: Map<string, unknown> }).open.size).toBe(0);
  });
});
