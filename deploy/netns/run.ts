/**
 * Runs `ip` / `tc` (and commands inside a namespace) with a deadline; the only place the netns
 * code starts processes for configuration. Failures name the command and carry its stderr.
 */
import { execFile, execFileSync } from 'node:child_process';
import type { Argv } from './plan.js';

export interface RunResult {
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly argv: Argv,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(
      `\`${argv.join(' ')}\` failed${exitCode === null ? '' : ` with exit code ${exitCode}`}: ${stderr.trim() || stdout.trim() || 'no output'}`,
    );
  }
}

/** Runs `argv`; rejects with a CommandError on a non-zero exit or after `timeoutMs`. */
export function run(argv: Argv, timeoutMs = 10_000): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        if (e.killed) {
          reject(
            new CommandError(argv, null, `timed out after ${timeoutMs} ms. ${stderr}`, stdout),
          );
        } else if (typeof e.code === 'string') {
          reject(new CommandError(argv, null, `${e.code}: ${e.message}`, stdout));
        } else {
          reject(
            new CommandError(argv, typeof e.code === 'number' ? e.code : null, stderr, stdout),
          );
        }
      },
    );
  });
}

/** Runs `argv` synchronously, ignoring failure: for teardown from a process `exit` handler. */
export function runSyncIgnoringErrors(argv: Argv, timeoutMs = 5_000): string {
  const [file, ...args] = argv;
  if (file === undefined) return '';
  try {
    return execFileSync(file, args, {
      timeout: timeoutMs,
      stdio: ['ignore', 'pipe', 'ignore'],
      encoding: 'utf8',
    });
  } catch {
    return '';
  }
}
