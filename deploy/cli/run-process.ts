/**
 * `faasflow master` and `faasflow worker`: check the configuration the way the process will
 * (so a bad value is exit 2 with every problem listed, before anything starts), then hand the
 * typed options to the process's own entry point, which reads argv, env and defaults itself.
 */
import { loadMasterConfig } from '../../master/config.js';
import { AppError } from '../../shared/errors.js';
import { parseFlags } from '../../shared/flags.js';
import { loadWorkerConfig } from '../../worker/config.js';
import { CliError, EXIT } from './client.js';

/** The worker's `--master URL` is its `--master-url`. */
export function masterCommand(args: string[], master: string | undefined): string[] {
  return master === undefined ? args : [`--master-url=${master}`, ...args];
}

export async function runProcess(kind: 'master' | 'worker', args: string[]): Promise<void> {
  try {
    if (kind === 'master') loadMasterConfig(parseFlags(args));
    else loadWorkerConfig(parseFlags(args));
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFIG_INVALID')
      throw new CliError(`${kind}: ${err.message}`, EXIT.usage);
    throw err;
  }
  process.argv = [process.argv[0]!, kind, ...args];
  // The entry point owns the process from here: it listens, and exits on SIGTERM/SIGINT.
  if (kind === 'master') await import('../../master/main.js');
  else await import('../../worker/main.js');
}
