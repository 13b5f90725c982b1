/**
 * The runtime server on its own (compiled, as a sandbox runs it), spoken to over its unix socket:
 * - it prints the listening line, answers `init` with `ready` and `run` with `result`;
 * - a `run` before `init`, and a second `init`, get `error` frames and the server keeps serving;
 * - a second connection is refused while the first is served;
 * - SIGTERM ends it with exit code 0; so does its worker's connection closing, or its stdin
 *   closing under --exit-with-stdin; with no worker connecting in time it exits 1 and says why;
 * - bad arguments exit 2 with the usage;
 * - the compiled runtime imports only node builtins, shared/codec, shared/framing and its own folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { locateRuntimeServer } from '../../worker/sandbox/process.js';
import {
  encodeFrame,
  FrameDecoder,
  LISTENING_LINE,
  type Frame,
} from '../../worker/sandbox/runtime/protocol.js';
import { poll } from './sandbox-helpers.js';

let serverPath: string;
let dir: string;
const started: ChildProcess[] = [];

beforeAll(() => {
  serverPath = locateRuntimeServer();
  dir = mkdtempSync(join(tmpdir(), 'faasflow-rt-'));
});

afterEach(() => {
  for (const p of started.splice(0))
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  proc: ChildProcess;
  socketPath: string;
  exit: Promise<{ code: number | null; stderr: string }>;
}

let next = 0;

function startServer(extra: string[] = [], stdin: 'pipe' | 'ignore' = 'ignore'): Running {
  const socketPath = join(dir, `s${next++}.sock`);
  const proc = spawn(process.execPath, [serverPath, '--socket', socketPath, ...extra], {
    env: { PATH: process.env['PATH'] ?? '' },
    stdio: [stdin, 'pipe', 'pipe'],
  });
  started.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, stderr })),
  );
  return { proc, socketPath, exit };
}

function listening(r: Running): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    r.proc.stdout!.on('data', (c: Buffer) => {
      seen += c.toString();
      if (seen.includes(LISTENING_LINE)) resolve();
    });
    r.proc.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

class Client {
  private readonly decoder = new FrameDecoder();
  private readonly frames: Frame[] = [];
  private constructor(readonly socket: Socket) {
    socket.on('data', (c: Buffer) => this.frames.push(...this.decoder.push(c)));
  }

  static async open(socketPath: string): Promise<Client> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new Client(socket);
  }

  send(frame: Frame): void {
    for (const piece of encodeFrame(frame)) this.socket.write(piece);
  }

  next(): Promise<Frame> {
    return poll('a frame from the server', () => this.frames.shift());
  }
}

function runFrame(id: number, input: unknown): Frame {
  return {
    kind: 'run',
    id,
    invocationId: 'inv_rt',
    node: 'n',
    attempt: 0,
    timeoutMs: 1000,
    input: encodeValue(input),
    workflowInput: null,
  };
}

describe('runtime server', () => {
  it('serves init and runs, and answers protocol misuse with error frames', async () => {
    const server = startServer();
    await listening(server);
    const client = await Client.open(server.socketPath);
    client.send(runFrame(1, 'early'));
    expect(await client.next()).toMatchObject({
      kind: 'error',
      id: 1,
      message: 'run received before a successful init',
    });
    client.send({
      kind: 'init',
      fnName: 'echo',
      source: { kind: 'builtin', builtin: { sleepMs: 0 } },
    });
    expect(await client.next()).toMatchObject({ kind: 'ready', pid: server.proc.pid });
    client.send(runFrame(2, { hello: 1 }));
    const result = await client.next();
    expect(result.kind).toBe('result');
    if (result.kind === 'result') {
      expect(result.id).toBe(2);
      expect(decodeValue(result.output)).toEqual({ hello: 1 });
    }
    client.send({
      kind: 'init',
      fnName: 'again',
      source: { kind: 'code', code: 'export default () => 1' },
    });
    const twice = await client.next();
    expect(twice).toMatchObject({ kind: 'error', id: 0 });
    expect(twice.kind === 'error' && twice.message).toMatch(/init received twice/);
    client.send(runFrame(3, 'still serving'));
    expect(await client.next()).toMatchObject({ kind: 'result', id: 3 });
    client.socket.destroy();
    expect((await server.exit).code).toBe(0);
  });

  it('refuses a second connection while serving the first', async () => {
    const server = startServer();
    await listening(server);
    const first = await Client.open(server.socketPath);
    // Refused either way: the socket file is gone once the first worker is in, or (when the
    // second connect raced the first accept) the server closes it at once.
    const second = connect(server.socketPath);
    let outcome: string | undefined;
    second.once('error', (err: NodeJS.ErrnoException) => (outcome ??= err.code));
    second.once('close', () => (outcome ??= 'closed'));
    expect(['ENOENT', 'ECONNRESET', 'closed']).toContain(
      await poll('the second connection to be refused', () => outcome),
    );
    first.send({ kind: 'init', fnName: 'e', source: { kind: 'builtin', builtin: { sleepMs: 0 } } });
    expect(await first.next()).toMatchObject({ kind: 'ready' });
    first.socket.destroy();
    await server.exit;
  });

  it('exits with code 0 on SIGTERM', async () => {
    const server = startServer();
    await listening(server);
    const client = await Client.open(server.socketPath);
    client.send({
      kind: 'init',
      fnName: 'e',
      source: { kind: 'builtin', builtin: { sleepMs: 0 } },
    });
    await client.next();
    server.proc.kill('SIGTERM');
    expect((await server.exit).code).toBe(0);
  });

  it('exits when its stdin closes under --exit-with-stdin', async () => {
    const server = startServer(['--exit-with-stdin'], 'pipe');
    await listening(server);
    const client = await Client.open(server.socketPath);
    server.proc.stdin!.end();
    expect((await server.exit).code).toBe(0);
    client.socket.destroy();
  });

  it('exits with code 1 when no worker connects in time, saying so', async () => {
    const server = startServer(['--accept-timeout-ms', '100']);
    const { code, stderr } = await server.exit;
    expect(code).toBe(1);
    expect(stderr).toMatch(/no worker connected within 100 ms/);
  });

  it('exits with code 2 and the usage on bad arguments', async () => {
    const server = startServer(['--bogus']);
    const { code, stderr } = await server.exit;
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown argument "--bogus"/);
    expect(stderr).toMatch(/usage: server\.js --socket PATH/);
  });

  it('imports only node builtins, shared/codec, shared/framing and its own folder when compiled', () => {
    const runtimeDir = dirname(serverPath);
    const specifiers = readdirSync(runtimeDir)
      .filter((f) => f.endsWith('.js'))
      .flatMap((f) =>
        [
          ...readFileSync(join(runtimeDir, f), 'utf8').matchAll(
            /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm,
          ),
        ].map((m) => m[1]!),
      );
    expect(specifiers.length).toBeGreaterThan(0);
    const shared = ['../../../shared/codec.js', '../../../shared/framing.js'];
    const outside = specifiers.filter(
      (s) => !s.startsWith('node:') && !/^\.\/[a-z-]+\.js$/.test(s) && !shared.includes(s),
    );
    expect(outside).toEqual([]);
    // The shared modules the runtime takes import nothing but node builtins themselves.
    for (const file of shared) {
      const text = readFileSync(join(runtimeDir, file), 'utf8');
      const theirs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)]
        .map((m) => m[1]!)
        .filter((s) => !s.startsWith('node:'));
      expect(theirs, file).toEqual([]);
    }
  });
});
