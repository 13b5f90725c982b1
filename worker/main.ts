/**
 * Worker process entry: reads config (flags from argv as --key=value, FAASFLOW_* env), starts the
 * worker, and stops it on SIGTERM/SIGINT. Nothing else in the worker touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { loadWorkerConfig } from './config.js';
import { WorkerServer } from './server.js';

const logger = createLogger({ component: 'worker' });
try {
  const config = loadWorkerConfig(parseFlags(process.argv.slice(2)));
  const worker = await WorkerServer.start(config, logger);
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    worker.close().then(
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
  logger.fatal({ err }, 'worker failed to start');
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
}
