/**
 * Worker process entry: reads config (--key=value flags, FAASFLOW_* env), starts the worker,
 * stops it on SIGTERM/SIGINT. Nothing else in the worker touches process globals.
 */
import { parseFlags } from '../shared/flags.js';
import { createLogger } from '../shared/logger.js';
import { runUntilSignalled } from '../shared/process.js';
import { loadWorkerConfig } from './config.js';
import { WorkerServer } from './server.js';

const logger = createLogger({ component: 'worker' });
await runUntilSignalled(logger, () =>
  WorkerServer.start(loadWorkerConfig(parseFlags(process.argv.slice(2))), logger),
);
