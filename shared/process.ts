/**
 * The one place a process entry point (master, worker) deals with process globals: start the
 * server, stop it on SIGTERM/SIGINT (exit 0, or 1 when stopping fails), exit 1 if start fails.
 */
import type { Logger } from './logger.js';

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
