/**
 * Master process entry: reads config (--key=value flags, FAASFLOW_* env), starts the master
 * (with tracing when `--otel-endpoint` or OTEL_EXPORTER_OTLP_ENDPOINT is set), stops it on
 * SIGTERM/SIGINT. Nothing else in the master touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignalled, withTracing } from '../shared/process.js';
import { MASTER_TRACER } from '../shared/tracing.js';
import { loadMasterConfig } from './config.js';
import { MasterServer } from './server.js';

const logger = createLogger({ component: 'master' });
await runUntilSignalled(logger, () => {
  const config = loadMasterConfig(parseFlags(process.argv.slice(2)));
  const endpoint = config.otelEndpoint ?? (process.env['OTEL_EXPORTER_OTLP_ENDPOINT'] || undefined);
  return withTracing(logger, { endpoint, serviceName: MASTER_TRACER }, () =>
    MasterServer.start(config, logger, {
      // Another master holds the lease now: this one must not act a moment longer.
      onLeaseLost: () => process.exit(1),
    }),
  );
});
