/**
 * The contract every FaaStore tier passes (memory, disk, Redis): binary-safe round trips from
 * empty to 20 MB, replacement, OBJECT_NOT_FOUND for missing keys, idempotent delete and close,
 * group release, TTL expiry, concurrent puts, and STORE_UNAVAILABLE after close.
 *
 * `makeTier` must return a fresh, empty tier on every call.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ObjectTier } from '../../faastore/index.js';
import { AppError } from '../../shared/errors.js';

const LONG_TTL_MS = 60_000;

export async function expectAppError(promise: Promise<unknown>, code: string): Promise<AppError> {
  const err: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected a rejection with ${code}`).toBeInstanceOf(AppError);
  expect((err as AppError).code).toBe(code);
  return err as AppError;
}

/** Polls `check` until it returns true, failing after `timeoutMs`. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function describeTierContract(name: string, makeTier: () => Promise<ObjectTier>): void {
  describe(`${name} tier contract`, () => {
    let tier: ObjectTier;

    beforeEach(async () => {
      tier = await makeTier();
    });
    afterEach(async () => {
      await tier.close();
    });

    const roundTrips: [string, () => Buffer][] = [
      ['an empty buffer', () => Buffer.alloc(0)],
      ['a 1-byte buffer', () => Buffer.from([0x7f])],
      ['every byte value', () => Buffer.from(Array.from({ length: 256 }, (_, i) => i))],
      ['a 20 MB buffer', () => randomBytes(20 * 1024 * 1024)],
    ];
    for (const [label, make] of roundTrips) {
      it(`returns ${label} byte for byte`, async () => {
        const value = make();
        await tier.put(`rt-${value.length}`, value, LONG_TTL_MS);
        const read = await tier.getBuffer(`rt-${value.length}`);
        expect(Buffer.isBuffer(read)).toBe(true);
        expect(read.length).toBe(value.length);
        expect(read.equals(value)).toBe(true);
      });
    }

    it('replaces the value of a key that is put again', async () => {
      await tier.put('replaced', Buffer.from('first'), LONG_TTL_MS);
      await tier.put('replaced', Buffer.from('second, longer'), LONG_TTL_MS);
      expect((await tier.getBuffer('replaced')).toString()).toBe('second, longer');
    });

    it('rejects a missing key with OBJECT_NOT_FOUND naming the key', async () => {
      const err = await expectAppError(tier.getBuffer('never-stored'), 'OBJECT_NOT_FOUND');
      expect(err.message).toContain('never-stored');
    });

    it('deletes keys, and deleting missing or already deleted keys is a no-op', async () => {
      await tier.put('del-a', Buffer.from('a'), LONG_TTL_MS);
      await tier.put('del-b', Buffer.from('b'), LONG_TTL_MS);
      await tier.delete(['del-a', 'never-stored']);
      await expectAppError(tier.getBuffer('del-a'), 'OBJECT_NOT_FOUND');
      expect((await tier.getBuffer('del-b')).toString()).toBe('b');
      await tier.delete(['del-a']);
      await tier.delete([]);
      await expectAppError(tier.getBuffer('del-a'), 'OBJECT_NOT_FOUND');
    });

    it('releases every key of a group and only those', async () => {
      await tier.put('g1-a', Buffer.from('a'), LONG_TTL_MS, 'g1');
      await tier.put('g1-b', randomBytes(10_000), LONG_TTL_MS, 'g1');
      await tier.put('g2-a', Buffer.from('c'), LONG_TTL_MS, 'g2');
      await tier.put('no-group', Buffer.from('d'), LONG_TTL_MS);
      expect(await tier.releaseGroup('g1')).toBe(2);
      await expectAppError(tier.getBuffer('g1-a'), 'OBJECT_NOT_FOUND');
      await expectAppError(tier.getBuffer('g1-b'), 'OBJECT_NOT_FOUND');
      expect((await tier.getBuffer('g2-a')).toString()).toBe('c');
      expect((await tier.getBuffer('no-group')).toString()).toBe('d');
      expect(await tier.releaseGroup('g1')).toBe(0);
      expect(await tier.releaseGroup('never-used')).toBe(0);
    });

    it('forgets an object once its TTL has passed, and keeps one whose TTL has not', async () => {
      await tier.put('short', Buffer.from('gone soon'), 150);
      await tier.put('long', Buffer.from('still here'), LONG_TTL_MS);
      await eventually(
        () =>
          tier.getBuffer('short').then(
            () => false,
            (err: unknown) => err instanceof AppError && err.code === 'OBJECT_NOT_FOUND',
          ),
        5000,
        'expiry of the short-TTL object',
      );
      expect((await tier.getBuffer('long')).toString()).toBe('still here');
    });

    it('keeps every value of many concurrent puts', async () => {
      const values = Array.from({ length: 64 }, (_, i) => randomBytes(1000 + i * 37));
      await Promise.all(values.map((v, i) => tier.put(`conc-${i}`, v, LONG_TTL_MS, 'conc')));
      const read = await Promise.all(values.map((_, i) => tier.getBuffer(`conc-${i}`)));
      read.forEach((r, i) => expect(r.equals(values[i]!)).toBe(true));
      expect(await tier.releaseGroup('conc')).toBe(64);
    });

    it('ends concurrent puts of one key with one of the values whole', async () => {
      const values = Array.from({ length: 16 }, (_, i) => Buffer.alloc(50_000 + i, i));
      await Promise.all(values.map((v) => tier.put('same', v, LONG_TTL_MS)));
      const read = await tier.getBuffer('same');
      expect(values.some((v) => v.equals(read))).toBe(true);
    });

    it('closes idempotently and then rejects use with STORE_UNAVAILABLE', async () => {
      await tier.put('before-close', Buffer.from('x'), LONG_TTL_MS);
      await tier.close();
      await tier.close();
      await expectAppError(tier.getBuffer('before-close'), 'STORE_UNAVAILABLE');
      await expectAppError(
        tier.put('after-close', Buffer.from('y'), LONG_TTL_MS),
        'STORE_UNAVAILABLE',
      );
    });
  });
}
