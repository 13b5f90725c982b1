/**
 * Worker process entry: reads config (--key=value flags, FAASFLOW_* env), starts the worker
 * (with tracing when `--otel-endpoint` or OTEL_EXPORTER_OTLP_ENDPOINT is set), stops it on
 * SIGTERM/SIGINT. Nothing else in the worker touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignalled, withTracing } from '../shared/process.js';
import { WORKER_TRACER } from '../shared/tracing.js';
import { loadWorkerConfig } from './config.js';
import { WorkerServer } from './server.js';

const logger = createLogger({ component: 'worker' });
await runUntilSignalled(logger, () => {
  const config = loadWorkerConfig(parseFlags(process.argv.slice(2)));
  const endpoint = config.otelEndpoint ?? (process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] || undefined);
  return withTracing(
    logger,
    {
      endpoint,
      serviceName: WORKER_TRACER,
      ...(config.workerId === undefined ? {} : { instanceId: config.workerId }),
    },
    () => WorkerServer.start(config, logger),
  );
});
