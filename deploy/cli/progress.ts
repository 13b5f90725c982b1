/**
 * Progress of long CLI work (profiling runs, bench steps, handler files of a deploy) on stderr,
 * so stdout keeps only results: on a terminal one status line redrawn in place (a bar when the
 * total is known), anywhere else (pipes, CI logs) a plain line per noted step, and nothing at
 * all in `--json` mode. Small on purpose: a count, a bar and a note need no dependency.
 */

export interface ProgressOptions {
  /** Steps in all; 0 when unknown (a count and the elapsed time show instead of a bar). */
  total: number;
  label: string;
  /** false in `--json` mode: no progress output at all. */
  enabled: boolean;
  /** Defaults to process.stderr; results go to `out` (process.stdout). */
  stream?: NodeJS.WriteStream;
  out?: NodeJS.WritableStream;
  /**
   * Off a terminal, whether a noted step becomes a stderr line. false when the command's own
   * stdout lines already tell the steps (the bench suites).
   */
  plainLines?: boolean;
  now?: () => number;
}

export interface Progress {
  /** A result line on stdout; on a terminal the bar is cleared first and redrawn after. */
  print(line: string): void;
  /** One step done. Off a terminal a step with a note is one stderr line `[i/n] note`. */
  tick(note?: string): void;
  /** What is happening now, without a step: the status line's note, or one stderr line. */
  note(line: string): void;
  /** Clears the status line; later ticks write nothing. */
  done(): void;
}

const WIDTH = 24;
const CLEAR = '\r\x1b[2K';

export function progress(o: ProgressOptions): Progress {
  const err = o.stream ?? process.stderr;
  const out = o.out ?? process.stdout;
  const now = o.now ?? Date.now;
  const tty = o.enabled && err.isTTY === true;
  const started = now();
  let count = 0;
  let last = '';
  let shown = false;
  let finished = !o.enabled;
  const counter = (): string => (o.total > 0 ? `${count}/${o.total}` : `step ${count}`);
  const status = (): string => {
    const secs = Math.round((now() - started) / 1000);
    const bar =
      o.total > 0
        ? ` [${'#'.repeat(Math.round((WIDTH * Math.min(count, o.total)) / o.total)).padEnd(WIDTH, '-')}]`
        : '';
    return `${o.label}${bar} ${counter()} ${secs}s${last === '' ? '' : `  ${last}`}`;
  };
  const redraw = (): void => {
    if (!tty || finished) return;
    err.write(`${CLEAR}${status().slice(0, (err.columns || 80) - 1)}`);
    shown = true;
  };
  // The elapsed time keeps moving while a long step runs; unref'd, so it never holds the CLI up.
  const timer = tty ? setInterval(redraw, 1000).unref() : undefined;
  const clear = (): void => {
    if (shown) err.write(CLEAR);
    shown = false;
  };
  return {
    print(line) {
      clear();
      out.write(`${line}\n`);
      redraw();
    },
    tick(note) {
      if (finished) return;
      count++;
      if (note !== undefined) last = note;
      if (tty) redraw();
      else if (note !== undefined && o.plainLines !== false) err.write(`[${counter()}] ${note}\n`);
    },
    note(line) {
      if (finished) return;
      last = line;
      if (tty) redraw();
      else if (o.plainLines !== false) err.write(`${line}\n`);
    },
    done() {
      clearInterval(timer);
      clear();
      finished = true;
    },
  };
}
