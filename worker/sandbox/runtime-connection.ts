/**
 * The one frame client: the worker's end of a runtime server's unix socket — a process child's,
 * or a container's through its bind mount — connecting while the server comes up, and one
 * request at a time in the frames of `runtime/protocol.ts`. Both `child.ts` and
 * `docker-container.ts` speak to their runtime through it; they differ only in how they start
 * it and how they explain its death.
 *
 * Invariants: a request settles exactly once — with the frame that answers it, or with a
 * ConnectionLost when the socket closes or sends a malformed frame first; an answer to a request
 * already abandoned (timed out, cancelled) is dropped; after a loss every request fails at once.
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeFrame, FrameDecoder, type Frame } from './runtime/protocol.js';

/** The socket closed (the server died or was killed), or it broke the protocol. */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';

  constructor(
    readonly kind: 'closed' | 'protocol',
    message: string,
  ) {
    super(message);
  }
}

interface Outstanding {
  answerId: number;
  resolve: (frame: Frame) => void;
  reject: (err: ConnectionLost) => void;
}

/** Between connection attempts while the server starts (its socket file appears at bind). */
const RETRY_MS = 2;

export class RuntimeConnection {
  private readonly decoder = new FrameDecoder();
  private outstanding: Outstanding | null = null;
  private lost: ConnectionLost | null = null;
  private readonly lostListeners: ((err: ConnectionLost) => void)[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.lose(new ConnectionLost('closed', err.message)));
    socket.on('close', () =>
      this.lose(new ConnectionLost('closed', 'the runtime closed its socket')),
    );
  }

  /**
   * Connects once the server listens. Rejects with the reason from `stop()` as soon as it returns
   * one (the container died, the deadline passed); `stop` is checked between attempts.
   */
  static async open(socketPath: string, stop: () => string | null): Promise<RuntimeConnection> {
    for (;;) {
      const reason = stop();
      if (reason !== null) throw new Error(reason);
      try {
        return new RuntimeConnection(await connectOnce(socketPath));
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // Not there yet, or bound but not yet listening: the server is still starting.
        if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw err;
      }
      await sleep(RETRY_MS);
    }
  }

  get alive(): boolean {
    return this.lost === null;
  }

  /** Called once when the connection is lost (immediately when it already is). */
  onLost(listener: (err: ConnectionLost) => void): void {
    if (this.lost !== null) listener(this.lost);
    else this.lostListeners.push(listener);
  }

  /**
   * Sends `frame` and resolves with the frame answering it: a `ready` or an `error` with id 0 for
   * `init`, a `result` or `error` with the run's id for `run`.
   */
  request(frame: Frame, answerId: number): Promise<Frame> {
    if (this.lost !== null) return Promise.reject(this.lost);
    if (this.outstanding !== null) {
      return Promise.reject(
        new Error('internal: a runtime connection serves one request at a time'),
      );
    }
    return new Promise<Frame>((resolve, reject) => {
      this.outstanding = { answerId, resolve, reject };
      const pieces = encodeFrame(frame);
      if (pieces.length === 1) {
        this.socket.write(pieces[0]!);
        return;
      }
      this.socket.cork();
      for (const piece of pieces) this.socket.write(piece);
      this.socket.uncork();
    });
  }

  /** Forgets the outstanding request; its answer, if it ever comes, is dropped. */
  abandon(): void {
    this.outstanding = null;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let frames: Frame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.lose(
        new ConnectionLost('protocol', `sent a malformed frame: ${(err as Error).message}`),
      );
      this.socket.destroy();
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  private onFrame(frame: Frame): void {
    const outstanding = this.outstanding;
    const answerId =
      frame.kind === 'ready'
        ? 0
        : frame.kind === 'result' || frame.kind === 'error'
          ? frame.id
          : null;
    if (answerId === null) {
      this.lose(new ConnectionLost('protocol', `sent an unexpected ${frame.kind} frame`));
      this.socket.destroy();
      return;
    }
    if (outstanding === null || outstanding.answerId !== answerId) return; // late: abandoned
    this.outstanding = null;
    outstanding.resolve(frame);
  }

  private lose(err: ConnectionLost): void {
    if (this.lost !== null) return;
    this.lost = err;
    const outstanding = this.outstanding;
    this.outstanding = null;
    outstanding?.reject(err);
    for (const listener of this.lostListeners.splice(0)) listener(err);
  }
}

function connectOnce(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}
