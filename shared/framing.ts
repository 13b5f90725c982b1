/**
 * Reassembly of length-prefixed frames from a byte stream: a u32 little-endian body length, then
 * the body. Used by the framed channels between processes (`shared/channel/frames.ts`) and by the
 * sandbox protocol (`worker/sandbox/runtime/protocol.ts`), which differ only in how a body
 * decodes. Imports only node builtins: it is part of the runtime copied into sandbox images.
 */

/** A body at least this large is assembled into its final buffer as its chunks arrive. */
const ASSEMBLE_FROM_BYTES = 256 * 1024;

export interface LengthPrefixedOptions<T> {
  /** Decodes one frame's body (the bytes after the length prefix). Throws on a bad body. */
  decodeBody: (body: Buffer) => T;
  /** The error thrown for a frame over the limit or an internal inconsistency. */
  error: (message: string) => Error;
  maxFrameBytes: number;
}

/** Reassembles frames from arbitrarily split or merged chunks of a byte stream. */
export class LengthPrefixedDecoder<T> {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length of the frame being assembled, or -1 while its length prefix is incomplete. */
  private expected = -1;
  /**
   * A large frame's body, filled as its chunks arrive: the copy overlaps the transfer, and the
   * chunks are not held twice (list + concatenation) at the end.
   */
  private assembling: Buffer | null = null;
  private filled = 0;

  constructor(private readonly options: LengthPrefixedOptions<T>) {}

  /** Feeds a chunk; returns every frame it completed, in order. */
  push(chunk: Buffer): T[] {
    const frames: T[] = [];
    const { decodeBody, maxFrameBytes } = this.options;
    let rest = chunk;
    if (this.assembling !== null) {
      const body = this.assembling;
      const used = Math.min(rest.length, body.length - this.filled);
      rest.copy(body, this.filled, 0, used);
      this.filled += used;
      if (this.filled < body.length) return frames;
      this.assembling = null;
      this.expected = -1;
      frames.push(decodeBody(body));
      rest = rest.subarray(used);
    }
    if (rest.length > 0) {
      this.chunks.push(rest);
      this.buffered += rest.length;
    }
    for (;;) {
      if (this.expected < 0) {
        if (this.buffered < 4) break;
        this.expected = this.take(4).readUInt32LE(0);
        if (this.expected > maxFrameBytes)
          throw this.options.error(
            `frame of ${this.expected} bytes exceeds the limit of ${maxFrameBytes} bytes`,
          );
      }
      if (this.buffered < this.expected) {
        if (this.expected >= ASSEMBLE_FROM_BYTES) {
          this.filled = this.buffered;
          this.assembling = Buffer.allocUnsafe(this.expected);
          this.take(this.buffered).copy(this.assembling);
        }
        break;
      }
      const body = this.take(this.expected);
      this.expected = -1;
      frames.push(decodeBody(body));
    }
    return frames;
  }

  /** Bytes received but not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered + (this.assembling === null ? 0 : this.filled);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first !== undefined && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0];
      if (c === undefined) throw this.options.error('internal: took more bytes than buffered');
      const used = Math.min(c.length, n - filled);
      c.copy(out, filled, 0, used);
      filled += used;
      if (used === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(used);
    }
    this.buffered -= n;
    return out;
  }
}
