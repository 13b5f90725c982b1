/**
 * The thread tier's rule for moving bytes: a buffer that is the sole view of its ArrayBuffer is
 * transferred as it is (no copy); a view into a shared or pooled ArrayBuffer is copied first, so
 * transferring never detaches bytes that belong to someone else.
 */
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  copiedArrayBuffer,
  ownedArrayBuffer,
} from '../../worker/sandbox/runtime/thread-messages.js';

describe('thread message buffers', () => {
  it('hands back a buffer that owns its whole ArrayBuffer without copying it', () => {
    const big = Buffer.allocUnsafe(64 * 1024).fill(3);
    expect(ownedArrayBuffer(big)).toBe(big);
  });

  it('copies a view into a larger ArrayBuffer, and transferring the copy leaves the rest intact', () => {
    const pooled = Buffer.from('hello'); // small Buffers share Node's pool
    const neighbour = Buffer.from('world');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const owned = ownedArrayBuffer(pooled);
    expect(owned).not.toBe(pooled);
    expect(owned.byteLength).toBe(5);
    expect(owned.buffer.byteLength).toBe(5);
    const { port1, port2 } = new MessageChannel();
    port1.postMessage(owned, [owned.buffer as ArrayBuffer]);
    port1.close();
    port2.close();
    expect(owned.byteLength).toBe(0); // moved
    expect(pooled.toString()).toBe('hello');
    expect(neighbour.toString()).toBe('world');
  });

  it('copies a buffer the sender keeps, whatever it owns', () => {
    const big = Buffer.allocUnsafe(64 * 1024).fill(9);
    const copy = copiedArrayBuffer(big);
    expect(copy).not.toBe(big);
    expect(copy.buffer).not.toBe(big.buffer);
    expect(Buffer.from(copy).equals(big)).toBe(true);
  });
});
