/**
 * Master process entry: reads config (--key=value flags, FAASFLOW_* env), starts the master,
 * stops it on SIGTERM/SIGINT. Nothing else in the master touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignalled } from '../shared/process.js';
import { loadMasterConfig } from './config.js';
import { MasterServer } from './server.js';

const logger = createLogger({ component: 'master' });
await runUntilSignalled(logger, () =>
  MasterServer.start(loadMasterConfig(parseFlags(process.argv.slice(2))), logger, {
    // Another master holds the lease now: this one must not act a moment longer.
    onLeaseLost: () => process.exit(1),
  }),
);
