/**
 * The runtime server: runs inside a sandbox (a child process or a container), loads one function
 * and runs it on request. Usage: `node server.js --socket PATH [--accept-timeout-ms N]
 * [--exit-with-stdin]`.
 *
 * It listens on the unix socket PATH, prints `LISTENING_LINE` on stdout, and serves one
 * connection (its worker) with the frames of `protocol.ts`: `init` → `ready` | `error{id:0}`,
 * `run` → `result` | `error`. A handler is `export default async (input, ctx) => output`, with
 * ctx = { invocationId, node, attempt, workflowInput, deadlineMs }.
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
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { decodeValue, encodeValue } from '../../../shared/codec.js';
import {
  encodeFrame,
  FrameDecoder,
  LISTENING_LINE,
  type Frame,
  type RuntimeSource,
} from './protocol.js';
import { runSynthetic, syntheticSpecProblems } from './synthetic.js';

export interface HandlerContext {
  invocationId: string;
  node: string;
  attempt: number;
  /** The invocation's input (decoded on first access). */
  readonly workflowInput: unknown;
  /** Epoch ms after which the worker kills this run. */
  deadlineMs: number;
}

type Handler = (input: unknown, ctx: HandlerContext) => unknown;
type RunFrame = Extract<Frame, { kind: 'run' }>;

let handler: Handler | null = null;
let connection: Socket | null = null;
let codeDir: string | null = null;
let socketPath = '';
let server: Server | null = null;
/** Runs not yet answered; a stray uncaught error is charged to them. */
const inFlight = new Set<number>();

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
      process.stderr.write(`faasflow-runtime: bad frame from worker: ${describe(err).message}\n`);
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
      void run(frame);
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
    handler = await load(fnName, source);
    send({ kind: 'ready', pid: process.pid, loadMs: performance.now() - startedMs });
  } catch (err) {
    send({ kind: 'error', id: 0, ...describe(err) });
  }
}

async function load(fnName: string, source: RuntimeSource): Promise<Handler> {
  switch (source.kind) {
    case 'handler':
      return pickExport(await importModule(resolve(source.path)), source.path);
    case 'code': {
      codeDir = mkdtempSync(join(tmpdir(), 'faasflow-code-'));
      const file = join(codeDir, `${fnName.replace(/[^A-Za-z0-9_-]/g, '_')}.mjs`);
      writeFileSync(file, source.code, { mode: 0o600 });
      try {
        return pickExport(await importModule(file), `inline code of ${fnName}`);
      } finally {
        // The module is loaded (or failed to); the file is not needed and must not outlive a kill.
        removeCodeDir();
      }
    }
    case 'builtin': {
      const problems = syntheticSpecProblems(source.builtin);
      if (problems.length > 0)
        throw new Error(`invalid builtin spec for ${fnName}: ${problems.join('; ')}`);
      const spec = source.builtin;
      return (input, ctx) => runSynthetic(spec, fnName, input, ctx.workflowInput);
    }
    default:
      return source satisfies never;
  }
}

async function importModule(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

function pickExport(mod: Record<string, unknown>, where: string): Handler {
  const fn = mod['default'] ?? mod['handler'];
  if (typeof fn !== 'function') {
    const names = Object.keys(mod).join(', ') || 'none';
    throw new TypeError(
      `${where} must export a default function (input, ctx) => output (or a named \`handler\`); its exports: ${names}`,
    );
  }
  return fn as Handler;
}

async function run(frame: RunFrame): Promise<void> {
  const { id } = frame;
  inFlight.add(id);
  const cpuStart = process.cpuUsage();
  try {
    if (handler === null) throw new Error('run received before a successful init');
    const input = decodeValue(frame.input);
    const output = encodeValue(await handler(input, context(frame)));
    if (!inFlight.delete(id)) return;
    const cpu = process.cpuUsage(cpuStart);
    send({ kind: 'result', id, output, cpuTimeUs: cpu.user + cpu.system });
  } catch (err) {
    if (inFlight.delete(id)) send({ kind: 'error', id, ...describe(err) });
  }
}

function context(frame: RunFrame): HandlerContext {
  const encoded = frame.workflowInput;
  let decoded: { value: unknown } | null = null;
  return {
    invocationId: frame.invocationId,
    node: frame.node,
    attempt: frame.attempt,
    deadlineMs: Date.now() + frame.timeoutMs,
    get workflowInput(): unknown {
      if (encoded === null) return undefined;
      decoded ??= { value: decodeValue(encoded) };
      return decoded.value;
    },
  };
}

/** An error thrown outside any awaited handler code (timers, emitters, stray promises). */
function strayError(err: unknown): void {
  const described = describe(err);
  if (inFlight.size === 0) {
    process.stderr.write(`faasflow-runtime: uncaught error between runs: ${described.stack}\n`);
    return;
  }
  for (const id of inFlight) send({ kind: 'error', id, ...described });
  inFlight.clear();
}

/**
 * A handler stops its retries by throwing an error named `NonRetryableError` or carrying
 * `retryable: false` (docs/durability.md); the name carries that across the frame.
 */
export const NON_RETRYABLE = 'NonRetryableError';

function describe(err: unknown): { message: string; stack: string; name: string } {
  if (err instanceof Error) {
    const terminal = (err as { retryable?: unknown }).retryable === false;
    return {
      message: err.message,
      stack: err.stack ?? `${err.name}: ${err.message}`,
      name: terminal ? NON_RETRYABLE : err.name,
    };
  }
  const message = typeof err === 'string' ? err : inspect(err, { depth: 3 });
  return { message: `non-Error thrown: ${message}`, stack: '', name: 'NonError' };
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
  removeCodeDir();
}

function removeCodeDir(): void {
  if (codeDir === null) return;
  rmSync(codeDir, { recursive: true, force: true });
  codeDir = null;
}

function removeSocketFile(): void {
  try {
    unlinkSync(socketPath);
  } catch {
    // Absent already: nothing to remove.
  }
}

main(process.argv.slice(2));
