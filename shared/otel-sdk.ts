/**
 * The one adapter of the OpenTelemetry SDK: registers a tracer provider that batches spans to an
 * OTLP/HTTP endpoint (JSON encoding), for a process started with `--otel-endpoint URL` or
 * `OTEL_EXPORTER_OTLP_ENDPOINT`. Everything else traces through `@opentelemetry/api`
 * (shared/tracing.ts), which stays a no-op when this is never called.
 *
 * The endpoint is the collector's base URL, as `OTEL_EXPORTER_OTLP_ENDPOINT` is: spans go to
 * `<endpoint>/v1/traces` (an endpoint that already ends in `/v1/traces` is used as it is).
 * Export never blocks a request: spans queue in memory (at most 2,048, the rest dropped), go in
 * batches every `flushMs`, and `shutdown()` sends what is left.
 */
import { trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface TracingOptions {
  /** Base URL of the OTLP/HTTP collector (`http://127.0.0.1:4318`). */
  endpoint: string;
  /** `service.name` of the spans: `faasflow-master` or `faasflow-worker`. */
  serviceName: string;
  /** `service.instance.id`: which worker (or master) sent them. */
  instanceId?: string;
  /** Longest a finished span waits before it is exported, ms. Default 1000. */
  flushMs?: number;
}

export interface Tracing {
  /** Where spans go. */
  readonly url: string;
  /** Exports what is queued and unregisters the provider; idempotent. */
  shutdown(): Promise<void>;
}

/** The traces URL of an OTLP/HTTP endpoint. */
export function tracesUrl(endpoint: string): string {
  const base = endpoint.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}

/** Registers the SDK as the global tracer provider, exporting to `o.endpoint`. */
export function startTracing(o: TracingOptions): Tracing {
  const url = tracesUrl(o.endpoint);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      'service.name': o.serviceName,
      ...(o.instanceId === undefined ? {} : { 'service.instance.id': o.instanceId }),
    }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url, timeoutMillis: 10_000 }), {
        scheduledDelayMillis: o.flushMs ?? 1_000,
      }),
    ],
  });
  trace.setGlobalTracerProvider(provider);
  let closing: Promise<void> | undefined;
  return {
    url,
    shutdown: () =>
      (closing ??= provider.shutdown().finally(() => {
        trace.disable();
      })),
  };
}
