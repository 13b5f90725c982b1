/**
 * Two connected in-memory byte streams (what `stream.duplexPair` gives on Node 22), for testing
 * channels without sockets. Each end counts its writes (one `_writev` of a corked batch counts
 * once) and can hold its writes back, so a test can make the writer see backpressure.
 */
import { Duplex } from 'node:stream';

export class PairEnd extends Duplex {
  other!: PairEnd;
  /** Socket-level writes so far (`_write` or `_writev` calls). */
  writes = 0;
  /** Bytes delivered to the other end. */
  bytes = 0;
  private held: (() => void)[] = [];
  private holding = false;

  constructor(highWaterMark = 16 * 1024) {
    super({ writableHighWaterMark: highWaterMark });
  }

  /** Stops completing writes until `release()`: the writer's buffer fills and `write` returns false. */
  hold(): void {
    this.holding = true;
  }

  release(): void {
    this.holding = false;
    for (const done of this.held.splice(0)) done();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes++;
    this.deliver([chunk], cb);
  }

  override _writev(
    chunks: { chunk: Buffer; encoding: BufferEncoding }[],
    cb: (err?: Error | null) => void,
  ): void {
    this.writes++;
    this.deliver(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _read(): void {}

  override _final(cb: (err?: Error | null) => void): void {
    this.other.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (!this.other.destroyed) this.other.destroy();
    cb(err);
  }

  private deliver(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    const done = (): void => {
      for (const c of chunks) {
        this.bytes += c.length;
        this.other.push(c);
      }
      cb();
    };
    if (this.holding) this.held.push(done);
    else done();
  }
}

export function duplexPair(highWaterMark?: number): [PairEnd, PairEnd] {
  const a = new PairEnd(highWaterMark);
  const b = new PairEnd(highWaterMark);
  a.other = b;
  b.other = a;
  return [a, b];
}
