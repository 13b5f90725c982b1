/**
 * The runtime server: runs inside a sandbox (a child process or a container), loads one function
 * and runs it on request. Usage: `node server.js --socket PATH [--accept-timeout-ms N]
 * [--exit-with-stdin]`.
 *
 * It listens on the unix socket PATH, prints `LISTENING_LINE` on stdout, and serves one
 * connection (its worker) with the frames of `protocol.ts`: `init` → `ready` | `error{id:0}`,
 * `run` → `result` | `error`. The handler contract (loading, `ctx`, errors) is `handler.ts`,
 * which the thread and trusted tiers run too.
 *
 * Invariants: a throwing handler (synchronously, asynchronously, or from a stray callback) is
 * reported on the run it belongs to and the server keeps serving; the server exits cleanly on
 * SIGTERM, when its worker's connection closes, when no worker connects in time, and (with
 * `--exit-with-stdin`) when its stdin closes, so a dead worker leaves no orphans; no file it makes
 * (socket, inline-code module) outlives the moment it is no longer needed. It imports only node
 * builtins, `shared/codec` and files of this folder, so the folder can be copied into a container
 * image.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  describeThrown,
  loadHandler,
  processCpuUs,
  removePendingCode,
  RunTracker,
  type Handler,
} from './handler.js';
import {
  encodeFrame,
  FrameDecoder,
  LISTENING_LINE,
  type Frame,
  type RuntimeSource,
} from './protocol.js';

let handler: Handler | null = null;
let connection: Socket | null = null;
let socketPath = '';
let server: Server | null = null;
const runs = new RunTracker(
  {
    result: (id, output, cpuTimeUs) => send({ kind: 'result', id, output, cpuTimeUs }),
    error: (id, thrown) => send({ kind: 'error', id, ...thrown }),
  },
  processCpuUs,
);
const USAGE = `usage: server.js --socket PATH [--accept-timeout-ms N] [--exit-with-stdin]
  --socket PATH            unix socket to listen on (the worker connects to it)
  --accept-timeout-ms N    exit when no worker has connected after N ms (default 30000)
  --exit-with-stdin        exit when stdin closes (the spawning worker died)
`;

function usage(problem: string): never {
  process.stderr.write(`faasflow-runtime: ${problem}\n${USAGE}`);
  process.exit(2);
}

function main(argv: readonly string[]): void {
  let path: string | undefined;
  let acceptTimeoutMs = 30_000;
  let exitWithStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--socket') path = argv[++i];
    else if (arg === '--accept-timeout-ms') acceptTimeoutMs = Number(argv[++i]);
    else if (arg === '--exit-with-stdin') exitWithStdin = true;
    else usage(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (path === undefined || path === '') usage('--socket PATH is required');
  if (!Number.isInteger(acceptTimeoutMs) || acceptTimeoutMs <= 0) {
    usage('--accept-timeout-ms must be a positive integer');
  }
  socketPath = resolve(path);
  removeSocketFile();
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  process.on('exit', cleanup);
  process.on('uncaughtException', (err) => strayError(err));
  process.on('unhandledRejection', (reason) => strayError(reason));
  if (exitWithStdin) {
    // The worker holds the other end of our stdin; it closes when the worker dies, however.
    process.stdin.on('end', () => shutdown(0));
    process.stdin.on('error', () => shutdown(0));
    process.stdin.resume();
  }
  // A worker that dies between spawning us and connecting must not leave us waiting forever.
  const acceptTimer = setTimeout(() => {
    if (connection !== null) return;
    process.stderr.write(`faasflow-runtime: no worker connected within ${acceptTimeoutMs} ms\n`);
    shutdown(1);
  }, acceptTimeoutMs);
  acceptTimer.unref();
  server = createServer(accept);
  server.on('error', (err) => {
    process.stderr.write(`faasflow-runtime: cannot listen on ${socketPath}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(socketPath, () => process.stdout.write(`${LISTENING_LINE}\n`));
}

function accept(socket: Socket): void {
  if (connection !== null) {
    // One worker owns a sandbox; a second connection is a mistake, never a takeover.
    socket.destroy();
    return;
  }
  connection = socket;
  // One connection per life: stop listening and drop the socket file, so nothing is left behind
  // even if this process is SIGKILLed later.
  server?.close();
  removeSocketFile();
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = decoder.push(chunk);
    } catch (err) {
      process.stderr.write(
        `faasflow-runtime: bad frame from worker: ${describeThrown(err).message}\n`,
      );
      shutdown(1);
      return;
    }
    for (const frame of frames) onFrame(frame);
  });
  socket.on('error', () => shutdown(0));
  socket.on('close', () => shutdown(0));
}

function onFrame(frame: Frame): void {
  switch (frame.kind) {
    case 'init':
      void init(frame.fnName, frame.source);
      return;
    case 'run':
      void runs.run(handler, frame.id, frame);
      return;
    case 'ready':
    case 'result':
    case 'error':
      process.stderr.write(`faasflow-runtime: unexpected ${frame.kind} frame from worker\n`);
      return;
    default:
      frame satisfies never;
  }
}

async function init(fnName: string, source: RuntimeSource): Promise<void> {
  const startedMs = performance.now();
  try {
    if (handler !== null)
      throw new Error('init received twice: this runtime already has a handler');
    process.title = `faasflow-runtime ${fnName}`;
    handler = await loadHandler(fnName, source);
    send({ kind: 'ready', pid: process.pid, loadMs: performance.now() - startedMs });
  } catch (err) {
    send({ kind: 'error', id: 0, ...describeThrown(err) });
  }
}

function send(frame: Frame): void {
  const socket = connection;
  if (socket === null || socket.destroyed) return;
  const pieces = encodeFrame(frame);
  if (pieces.length === 1) {
    socket.write(pieces[0]!);
    return;
  }
  socket.cork();
  for (const piece of pieces) socket.write(piece);
  socket.uncork();
}

function shutdown(code: number): void {
  process.exit(code);
}

function cleanup(): void {
  removeSocketFile();
  removePendingCode();
}

/** An error thrown outside any awaited handler code (timers, emitters, stray promises). */
function strayError(err: unknown): void {
  if (runs.stray(err)) return;
  const { stack } = describeThrown(err);
  process.stderr.write(`faasflow-runtime: uncaught error between runs: ${stack}\n`);
}

function removeSocketFile(): void {
  try {
    unlinkSync(socketPath);
  } catch {
    // Absent already: nothing to remove.
  }
}

main(process.argv.slice(2));
