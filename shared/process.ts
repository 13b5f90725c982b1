/**
 * The one place a process entry point (master, worker) deals with process globals: start the
 * server, stop it on SIGTERM/SIGINT (exit 0, or 1 when stopping fails), exit 1 if start fails.
 */
import { AppError } from './errors.js';
import type { Logger } from './logger.js';
import { startTracing } from './otel-sdk.js';

export async function runUntilSignalled(
  logger: Logger,
  start: () => Promise<{ close(): Promise<void> }>,
): Promise<void> {
  try {
    const server = await start();
    const stop = (signal: string): void => {
      logger.info({ signal }, 'stopping');
      server.close().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100).unref();
  }
}

/**
 * Starts a process's server with tracing when `endpoint` is set (shared/otel-sdk.ts): the SDK is
 * registered before the server starts, so its first spans are exported, and shut down after the
 * server has closed, so its last ones are too. Without an endpoint, `start` alone.
 */
export async function withTracing(
  logger: Logger,
  o: { endpoint: string | undefined; serviceName: string; instanceId?: string },
  start: () => Promise<{ close(): Promise<void> }>,
): Promise<{ close(): Promise<void> }> {
  if (o.endpoint === undefined) return start();
  if (!/^https?:\/\//.test(o.endpoint))
    throw new AppError(
      'CONFIG_INVALID',
      `invalid configuration:\n  otelEndpoint: ${JSON.stringify(o.endpoint)} is not an http(s) URL (from --otel-endpoint, FAASFLOW_OTEL_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT); give the collector's base URL, e.g. http://127.0.0.1:4318`,
    );
  const tracing = startTracing({
    endpoint: o.endpoint,
    serviceName: o.serviceName,
    ...(o.instanceId === undefined ? {} : { instanceId: o.instanceId }),
  });
  logger.info({ url: tracing.url }, 'exporting traces');
  try {
    const server = await start();
    return {
      close: async () => {
        try {
          await server.close();
        } finally {
          await tracing.shutdown();
        }
      },
    };
  } catch (err) {
    await tracing.shutdown();
    throw err;
  }
}
