import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';

describe('value codec', () => {
  it('round-trips any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(decodeValue(encodeValue(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips Buffers anywhere in a value, as zero-copy slices', () => {
    const a = Buffer.from([0, 1, 2, 255]);
    const b = Buffer.alloc(0);
    const value = { a, list: [1, { b, c: 'x' }], raw: new Uint8Array([9, 8]) };
    const encoded = encodeValue(value);
    const decoded = decodeValue(encoded) as {
      a: Buffer;
      list: [number, { b: Buffer; c: string }];
      raw: Buffer;
    };
    expect(Buffer.compare(decoded.a, a)).toBe(0);
    expect(decoded.list[1].b.length).toBe(0);
    expect(decoded.list[1].c).toBe('x');
    expect([...decoded.raw]).toEqual([9, 8]);
    expect(decoded.a.buffer).toBe(encoded.buffer);
  });

  it('encodes a top-level Buffer raw, with one byte of overhead', () => {
    const buf = Buffer.alloc(1000, 7);
    const encoded = encodeValue(buf);
    expect(encoded.length).toBe(1001);
    expect(Buffer.compare(decodeValue(encoded) as Buffer, buf)).toBe(0);
  });

  it('leaves the caller’s objects untouched and shares nothing it did not have to copy', () => {
    const inner = { keep: true };
    const value = { inner, blob: Buffer.from('hi') };
    encodeValue(value);
    expect(Buffer.isBuffer(value.blob)).toBe(true);
    expect(value.inner).toBe(inner);
  });

  it('maps undefined to null and Dates to their JSON form', () => {
    expect(decodeValue(encodeValue(undefined))).toBeNull();
    expect(decodeValue(encodeValue({ at: new Date(0) }))).toEqual({
      at: '1970-01-01T00:00:00.000Z',
    });
  });

  it('rejects cycles with a clear error', () => {
    const a: Record<string, unknown> = {};
    a['self'] = a;
    expect(() => encodeValue(a)).toThrow(/cycle/);
  });

  it('rejects buffers it cannot decode', () => {
    expect(() => decodeValue(Buffer.alloc(0))).toThrow(/empty/);
    expect(() => decodeValue(Buffer.from([9]))).toThrow(/unknown value tag/);
    const truncated = encodeValue({ b: Buffer.alloc(100) }).subarray(0, 50);
    expect(() => decodeValue(truncated)).toThrow();
  });
});
