import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  encodeFrame,
  FrameDecoder,
  ProtocolError,
  type Frame,
} from '../../worker/sandbox/runtime/protocol.js';

const runFrame: Frame = {
  kind: 'run',
  id: 7,
  invocationId: 'inv_abc',
  node: 'resize#2',
  attempt: 1,
  timeoutMs: 3000,
  input: Buffer.from([1, 2, 3]),
  workflowInput: Buffer.from('{"a":1}'),
};

const samples: Frame[] = [
  {
    kind: 'init',
    fnName: 'split',
    source: { kind: 'builtin', builtin: { sleepMs: 5, fields: { a: 10 } } },
  },
  { kind: 'init', fnName: 'f', source: { kind: 'code', code: 'export default (i) => i' } },
  { kind: 'init', fnName: 'g', source: { kind: 'handler', path: '/srv/fn/g.js' } },
  { kind: 'ready', pid: 1234, loadMs: 3.5 },
  runFrame,
  { ...runFrame, id: 8, workflowInput: null, input: Buffer.alloc(0) },
  { kind: 'result', id: 7, output: Buffer.from('out'), cpuTimeUs: 120 },
  { kind: 'error', id: 0, message: 'boom', stack: 'Error: boom\n  at x', name: 'TypeError' },
];

function bytesOf(frames: Frame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => encodeFrame(f)));
}

function plain(frames: Frame[]): unknown[] {
  return frames.map((f) => JSON.parse(JSON.stringify(f)) as unknown);
}

describe('runtime protocol framing', () => {
  it('round-trips every frame kind when each arrives in its own chunk', () => {
    const decoder = new FrameDecoder();
    const out = samples.flatMap((f) => decoder.push(bytesOf([f])));
    expect(plain(out)).toEqual(plain(samples));
    expect(decoder.pendingBytes).toBe(0);
  });

  it('decodes several frames merged into one chunk, in order', () => {
    const out = new FrameDecoder().push(bytesOf(samples));
    expect(out.map((f) => f.kind)).toEqual(samples.map((f) => f.kind));
    expect(plain(out)).toEqual(plain(samples));
  });

  it('reassembles frames fed one byte at a time, including split length prefixes', () => {
    const all = bytesOf(samples);
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (let i = 0; i < all.length; i++) out.push(...decoder.push(all.subarray(i, i + 1)));
    expect(plain(out)).toEqual(plain(samples));
  });

  it('yields the same frames however the stream is split', () => {
    const all = bytesOf(samples);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: all.length - 1 }), { maxLength: 20 }),
        (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), all.length];
          const decoder = new FrameDecoder();
          const out: Frame[] = [];
          for (let i = 0; i + 1 < points.length; i++) {
            out.push(...decoder.push(all.subarray(points[i], points[i + 1])));
          }
          expect(plain(out)).toEqual(plain(samples));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('carries a 20 MB part intact across 64 KB chunks without copying it into the header', () => {
    const big = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const pieces = encodeFrame({ kind: 'result', id: 1, output: big, cpuTimeUs: 0 });
    expect(pieces[1]).toBe(big); // written as is, after a small prefix
    const all = Buffer.concat(pieces);
    const decoder = new FrameDecoder();
    const out: Frame[] = [];
    for (let at = 0; at < all.length; at += 65536)
      out.push(...decoder.push(all.subarray(at, at + 65536)));
    expect(out).toHaveLength(1);
    const frame = out[0]!;
    expect(frame.kind).toBe('result');
    if (frame.kind === 'result') expect(frame.output.equals(big)).toBe(true);
  });

  it('packs a small frame into a single buffer', () => {
    expect(encodeFrame(runFrame)).toHaveLength(1);
  });

  it('rejects a frame longer than the configured limit, naming the limit', () => {
    const decoder = new FrameDecoder(1024);
    const frame = bytesOf([{ kind: 'result', id: 1, output: Buffer.alloc(2048), cpuTimeUs: 0 }]);
    expect(() => decoder.push(frame)).toThrow(/exceeds the limit of 1024 bytes/);
  });

  it('rejects an unknown frame kind', () => {
    const body = Buffer.from([99, 2, 0, 0, 0, 0x7b, 0x7d, 0]);
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32LE(body.length);
    expect(() => new FrameDecoder().push(Buffer.concat([prefix, body]))).toThrow(ProtocolError);
  });

  it('rejects a header missing a required field, naming it', () => {
    const good = bytesOf([{ kind: 'ready', pid: 1, loadMs: 1 }]);
    const text = good.toString('latin1').replace('"pid":1', '"pud":1');
    expect(() => new FrameDecoder().push(Buffer.from(text, 'latin1'))).toThrow(/field pid/);
  });

  it('rejects a frame whose parts do not fill it exactly', () => {
    const good = Buffer.concat(
      encodeFrame({ kind: 'result', id: 1, output: Buffer.from('abc'), cpuTimeUs: 0 }),
    );
    const tampered = Buffer.concat([good, Buffer.from('zz')]);
    tampered.writeUInt32LE(good.length - 4 + 2, 0);
    expect(() => new FrameDecoder().push(tampered)).toThrow(/stray bytes/);
  });
});
