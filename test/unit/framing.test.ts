import { describe, expect, it } from 'vitest';
import { LengthPrefixedDecoder } from '../../shared/framing.js';

function frame(body: Buffer): Buffer {
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

function decoder(maxFrameBytes = 1 << 30): LengthPrefixedDecoder<string> {
  return new LengthPrefixedDecoder({
    decodeBody: (body) => body.toString('latin1'),
    error: (message) => new RangeError(message),
    maxFrameBytes,
  });
}

describe('LengthPrefixedDecoder', () => {
  it('returns the same frames however the stream is cut', () => {
    const bodies = ['', 'a', 'hello', 'x'.repeat(300 * 1024), 'tail'];
    const stream = Buffer.concat(bodies.map((b) => frame(Buffer.from(b, 'latin1'))));
    for (const cut of [1, 3, 4, 7, 4096, 256 * 1024 + 5, stream.length]) {
      const d = decoder();
      const out: string[] = [];
      for (let at = 0; at < stream.length; at += cut)
        out.push(...d.push(stream.subarray(at, at + cut)));
      expect(out).toEqual(bodies);
      expect(d.pendingBytes).toBe(0);
    }
  });

  it('counts the bytes of an incomplete frame as pending, including a large one being assembled', () => {
    const d = decoder();
    const big = frame(Buffer.alloc(512 * 1024, 7));
    expect(d.push(big.subarray(0, 1000))).toEqual([]);
    expect(d.pendingBytes).toBe(1000 - 4);
    expect(d.push(big.subarray(1000))).toHaveLength(1);
    expect(d.pendingBytes).toBe(0);
  });

  it('refuses a frame over the limit with the caller’s error, naming both sizes', () => {
    const d = decoder(10);
    expect(() => d.push(frame(Buffer.alloc(11)))).toThrow(RangeError);
    expect(() => decoder(10).push(frame(Buffer.alloc(11)))).toThrow(
      'frame of 11 bytes exceeds the limit of 10 bytes',
    );
  });
});
