/**
 * One channel: a long-lived connection carrying frames (./frames.ts) both ways, multiplexed by
 * request id (docs/design.md §4, "Channels"). Either side may send requests (answered by a
 * `response` or `error` frame with the same id) and one-way messages.
 *
 * Invariants:
 * - Frames queued in one tick leave in one socket write (cork/uncork: one writev), so the
 *   answers to every request handled in a tick are acknowledged together.
 * - While the socket reports backpressure (`write` returned false) nothing more is written
 *   until 'drain'; frames wait in the queue in order.
 * - Every request has a deadline; a request not answered by then fails with a retryable
 *   WORKER_UNREACHABLE. When the connection ends, every pending request fails the same way.
 * - `close()` is idempotent: it stops taking requests, answers what is being handled, flushes
 *   and ends the socket.
 */
import type { Duplex } from 'node:stream';
import { AppError, isWireError } from '../errors.js';
import { encodeFrame, FrameDecoder, type ChannelFrame } from './frames.js';

export interface Reply {
  body?: unknown;
  data?: Buffer;
}

export interface Incoming {
  op: string;
  body: unknown;
  data: Buffer | null;
  channel: Channel;
}

export interface ChannelHandlers {
  /** Answers a request; a thrown AppError travels back as an error frame. */
  request?(m: Incoming): Promise<Reply> | Reply;
  /** Takes a one-way message. */
  message?(m: Incoming): void;
}

export interface ChannelOptions {
  /** Where the other end is, for error messages. */
  peer: string;
  maxFrameBytes?: number;
  /** How often request deadlines are checked, ms. Default 10. */
  deadlineTickMs?: number;
  /** Told about frames that cannot be decoded or handled (the channel is then closed). */
  onProtocolError?: (err: Error) => void;
}

interface Pending {
  resolve: (r: { body: unknown; data: Buffer | null }) => void;
  reject: (err: AppError) => void;
  deadline: number;
  op: string;
}

export class Channel {
  private readonly decoder: FrameDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private queue: Buffer[] = [];
  private flushScheduled = false;
  private blocked = false;
  private ticker: NodeJS.Timeout | null = null;
  private handling = 0;
  private ended = false;
  private closing: Promise<void> | null = null;
  private readonly closeListeners: (() => void)[] = [];
  /** Socket writes so far (one per flushed tick): what the batching tests count. */
  writes = 0;

  constructor(
    private readonly socket: Duplex,
    private readonly handlers: ChannelHandlers,
    private readonly options: ChannelOptions,
    /** Bytes that arrived with the handshake, before the channel took the socket. */
    head?: Buffer,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    socket.on('error', () => this.onEnd());
    socket.on('close', () => this.onEnd());
    socket.on('end', () => {
      this.onEnd();
      socket.end();
    });
    if (head !== undefined && head.length > 0) this.onData(head);
  }

  /** True until the connection ended or `close()` was called. */
  get open(): boolean {
    return !this.ended && this.closing === null;
  }

  /** Requests waiting for an answer. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** False while the socket applies backpressure: large senders should wait for `drained()`. */
  get writable(): boolean {
    return !this.blocked;
  }

  /** Resolves when the socket accepts writes again (at once when it does). */
  drained(): Promise<void> {
    if (!this.blocked || this.ended) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  /** Sends a request; resolves with the answer or rejects with the peer's AppError. */
  request(
    op: string,
    body: unknown,
    o: { timeoutMs: number; data?: Buffer },
  ): Promise<{ body: unknown; data: Buffer | null }> {
    if (!this.open)
      return Promise.reject(
        new AppError('WORKER_UNREACHABLE', `channel to ${this.options.peer} is closed`),
      );
    const id = this.nextId;
    this.nextId = this.nextId >= 0xfffffffe ? 1 : this.nextId + 1;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, deadline: Date.now() + o.timeoutMs, op });
      this.ensureTicker();
      this.enqueue({ type: 'request', id, meta: { op, body }, data: o.data ?? null });
    });
  }

  /** Sends a one-way message (no answer, no delivery guarantee beyond the connection's). */
  send(op: string, body: unknown, data?: Buffer): void {
    if (!this.open)
      throw new AppError('WORKER_UNREACHABLE', `channel to ${this.options.peer} is closed`);
    this.enqueue({ type: 'message', id: 0, meta: { op, body }, data: data ?? null });
  }

  /** Stops taking requests, lets handled ones answer, flushes and ends the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const until = Date.now() + 2_000;
      while (this.handling > 0 && !this.ended && Date.now() < until)
        await new Promise((r) => setTimeout(r, 5));
      this.flush();
      this.failPending('closed');
      if (!this.ended) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            this.socket.destroy();
            resolve();
          }, 1_000);
          t.unref();
          this.onClose(() => {
            clearTimeout(t);
            resolve();
          });
          this.socket.end();
        });
      }
    })();
    return this.closing;
  }

  /** Ends the connection at once (pending requests fail). */
  destroy(): void {
    this.socket.destroy();
    this.onEnd();
  }

  private enqueue(frame: ChannelFrame): void {
    for (const piece of encodeFrame(frame)) this.queue.push(piece);
    if (this.flushScheduled || this.blocked) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes everything queued in one corked write, unless the socket asked us to wait. */
  private flush(): void {
    if (this.blocked || this.queue.length === 0 || this.ended) return;
    const pieces = this.queue;
    this.queue = [];
    this.writes++;
    let ok = true;
    if (pieces.length === 1) ok = this.socket.write(pieces[0]!);
    else {
      this.socket.cork();
      for (const p of pieces) ok = this.socket.write(p);
      this.socket.uncork();
    }
    if (!ok) this.blocked = true;
  }

  private onData(chunk: Buffer): void {
    let frames: ChannelFrame[];
    try {
      frames = this.decoder.push(chunk);
    } catch (err) {
      this.options.onProtocolError?.(err as Error);
      this.destroy();
      return;
    }
    for (const f of frames) this.onFrame(f);
  }

  private onFrame(f: ChannelFrame): void {
    switch (f.type) {
      case 'request':
      case 'message': {
        const meta = f.meta as { op?: unknown; body?: unknown } | undefined;
        if (typeof meta !== 'object' || meta === null || typeof meta.op !== 'string') {
          this.options.onProtocolError?.(new Error(`${f.type} frame without an op`));
          this.destroy();
          return;
        }
        const m: Incoming = { op: meta.op, body: meta.body, data: f.data, channel: this };
        if (f.type === 'message') {
          try {
            this.handlers.message?.(m);
          } catch (err) {
            this.options.onProtocolError?.(err as Error);
          }
        } else this.handle(f.id, m);
        return;
      }
      case 'response':
      case 'error': {
        const p = this.pending.get(f.id);
        if (!p) return; // answered after its deadline: the caller has moved on
        this.pending.delete(f.id);
        if (f.type === 'response') p.resolve({ body: f.meta, data: f.data });
        else p.reject(errorFromFrame(this.options.peer, p.op, f.meta));
        return;
      }
    }
  }

  private handle(id: number, m: Incoming): void {
    if (this.closing !== null || !this.handlers.request) {
      this.answerError(
        id,
        new AppError('WORKER_UNREACHABLE', 'the channel is closing; send the request again'),
      );
      return;
    }
    this.handling++;
    let result: Promise<Reply> | Reply;
    try {
      result = this.handlers.request(m);
    } catch (err) {
      this.handling--;
      this.answerError(id, err);
      return;
    }
    if (!(result instanceof Promise)) {
      this.handling--;
      this.answer(id, result);
      return;
    }
    result.then(
      (r) => {
        this.handling--;
        this.answer(id, r);
      },
      (err: unknown) => {
        this.handling--;
        this.answerError(id, err);
      },
    );
  }

  private answer(id: number, r: Reply): void {
    if (this.ended) return;
    this.enqueue({ type: 'response', id, meta: r.body, data: r.data ?? null });
  }

  private answerError(id: number, err: unknown): void {
    if (this.ended) return;
    const e = AppError.from(err);
    this.enqueue({ type: 'error', id, meta: { ...e.toWire(), status: e.statusCode }, data: null });
  }

  private ensureTicker(): void {
    if (this.ticker !== null) return;
    this.ticker = setInterval(() => this.expire(), this.options.deadlineTickMs ?? 10);
    this.ticker.unref();
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      p.reject(
        new AppError(
          'WORKER_UNREACHABLE',
          `${p.op} on the channel to ${this.options.peer} got no answer within its deadline`,
        ),
      );
    }
    if (this.pending.size === 0 && this.ticker !== null) {
      clearInterval(this.ticker);
      this.ticker = null;
    }
  }

  private failPending(why: string): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(
        new AppError('WORKER_UNREACHABLE', `${p.op}: the channel to ${this.options.peer} ${why}`),
      );
    }
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
  }

  private onEnd(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.failPending('was lost');
    for (const l of this.closeListeners.splice(0)) l();
  }
}

/** Rebuilds the peer's AppError from an error frame; 5xx and 429 stay retryable, as over HTTP. */
function errorFromFrame(peer: string, op: string, meta: unknown): AppError {
  const status =
    typeof meta === 'object' &&
    meta !== null &&
    typeof (meta as { status?: unknown }).status === 'number'
      ? (meta as { status: number }).status
      : 500;
  const retryable = status >= 500 || status === 429;
  if (!isWireError(meta))
    return new AppError(
      'INTERNAL',
      `${op} on the channel to ${peer} failed without an error body`,
      {
        statusCode: status,
        retryable,
      },
    );
  const e = AppError.fromWire(meta, status);
  return new AppError(e.code, e.message, { details: e.details, statusCode: status, retryable });
}
