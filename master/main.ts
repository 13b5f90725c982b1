/**
 * Master process entry: reads config (--key=value flags, FAASFLOW_* env), starts the master,
 * stops it on SIGTERM/SIGINT. Nothing else in the master touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { loadMasterConfig } from './config.js';
import { MasterServer } from './server.js';

const logger = createLogger({ component: 'master' });
try {
  const master = await MasterServer.start(loadMasterConfig(parseFlags(process.argv.slice(2))), logger);
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    master.close().then(
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
  logger.fatal({ err }, 'master failed to start');
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100).unref();
}
