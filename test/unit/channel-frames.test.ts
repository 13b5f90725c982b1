import { describe, expect, it } from 'vitest';
import {
  encodeFrame,
  FrameDecoder,
  FrameError,
  FRAME_HEADER_BYTES,
  type ChannelFrame,
} from '../../shared/channel/frames.js';

const bytes = (f: ChannelFrame): Buffer => Buffer.concat(encodeFrame(f));

describe('channel frames', () => {
  it('round-trips meta and raw data, and tells no data from empty data', () => {
    const frames: ChannelFrame[] = [
      { type: 'request', id: 7, meta: { op: 'triggers', body: { a: [1, 'x'] } }, data: null },
      { type: 'response', id: 7, meta: undefined, data: Buffer.from([0, 1, 2, 255]) },
      { type: 'error', id: 0xffffffff, meta: { code: 'NOT_FOUND', message: 'm' }, data: null },
      { type: 'message', id: 0, meta: null, data: Buffer.alloc(0) },
    ];
    const d = new FrameDecoder();
    const out = d.push(Buffer.concat(frames.map(bytes)));
    expect(out).toEqual(frames);
    expect(d.pendingBytes).toBe(0);
  });

  it('puts the header fields where the contract says', () => {
    const b = bytes({ type: 'response', id: 258, meta: 1, data: Buffer.from('ab') });
    expect(b.readUInt32LE(0)).toBe(b.length - 4);
    expect(b.readUInt8(4)).toBe(2); // response
    expect(b.readUInt8(5)).toBe(1); // FLAG_DATA
    expect(b.readUInt32LE(6)).toBe(258);
    expect(b.readUInt32LE(10)).toBe(1); // meta "1"
    expect(b.toString('utf8', FRAME_HEADER_BYTES)).toBe('1ab');
  });

  it('reassembles frames fed one byte at a time', () => {
    const f: ChannelFrame = {
      type: 'request',
      id: 3,
      meta: { op: 'x', body: 'é' },
      data: Buffer.from('data'),
    };
    const all = Buffer.concat([bytes(f), bytes({ ...f, id: 4 })]);
    const d = new FrameDecoder();
    const out: ChannelFrame[] = [];
    for (let i = 0; i < all.length; i++) out.push(...d.push(all.subarray(i, i + 1)));
    expect(out.map((x) => x.id)).toEqual([3, 4]);
    expect(out[1]).toEqual({ ...f, id: 4 });
  });

  it('decodes many frames arriving in one chunk', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      bytes({ type: 'message', id: 0, meta: { op: 'm', body: i }, data: null }),
    );
    const out = new FrameDecoder().push(Buffer.concat(many));
    expect(out.map((f) => (f.meta as { body: number }).body)).toEqual(many.map((_, i) => i));
  });

  it('carries a large payload without copying it into the header and rebuilds it from chunks', () => {
    const data = Buffer.alloc(5 * 1024 * 1024 + 13);
    for (let i = 0; i < data.length; i++) data[i] = i % 251;
    const pieces = encodeFrame({ type: 'response', id: 9, meta: undefined, data });
    expect(pieces[1]).toBe(data); // written as is
    const all = Buffer.concat(pieces);
    const d = new FrameDecoder();
    const out: ChannelFrame[] = [];
    for (let at = 0; at < all.length; at += 65_536)
      out.push(...d.push(all.subarray(at, at + 65_536)));
    expect(out).toHaveLength(1);
    expect(out[0]!.data!.equals(data)).toBe(true);
  });

  it('rejects frames over the limit, unknown types and unknown flags', () => {
    const big = bytes({ type: 'message', id: 0, meta: 'x', data: Buffer.alloc(100) });
    expect(() => new FrameDecoder(50).push(big)).toThrow(/exceeds the limit of 50 bytes/);
    const badType = Buffer.from(big);
    badType.writeUInt8(9, 4);
    expect(() => new FrameDecoder().push(badType)).toThrow(FrameError);
    const badFlags = Buffer.from(big);
    badFlags.writeUInt8(0x81, 5);
    expect(() => new FrameDecoder().push(badFlags)).toThrow(/unknown flags/);
  });
});
