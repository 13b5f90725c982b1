#!/usr/bin/env node
/**
 * The `faasflow` command line: runs the commander program of program.ts and turns its outcome
 * into the exit code — 0 ok, 1 failure, 2 bad input or usage, 3 the master is unreachable
 * (docs/reference/cli.md). Results go to stdout, errors and progress to stderr.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { CliError, EXIT } from './client.js';
import { buildProgram } from './program.js';

/** The version in faasflow's package.json: two folders up from source, three from dist/. */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'faasflow' && pkg.version !== undefined) return pkg.version;
    } catch {
      // not here: one folder up
    }
  }
  return 'unknown';
}

// `faasflow … | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

let finished: number | undefined;
const program = buildProgram((code) => (finished = code), version());

try {
  await program.parseAsync(process.argv);
  // Commands that stay in the foreground (up, master, worker) never report a code.
  if (finished !== undefined) process.exitCode = finished;
} catch (err) {
  if (err instanceof CommanderError) {
    // commander has printed the message (or the help): --help and --version are 0, the rest
    // (unknown option, missing argument, no command) is usage.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else if (err instanceof CliError) {
    console.error(`faasflow: ${err.message}`);
    process.exitCode = err.exitCode;
  } else {
    const e = err instanceof Error ? err : new Error(String(err));
    console.error(`faasflow: ${e.message}`);
    if (process.env['FAASFLOW_DEBUG'] === '1') console.error(e.stack);
    process.exitCode = EXIT.failure;
  }
}
