import { describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { Expressions } from '../../shared/expressions.js';

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected the evaluation to fail');
}

describe('Expressions.evaluate', () => {
  it('evaluates JSONata against the input', async () => {
    const e = new Expressions();
    expect(await e.evaluate('a + b', { a: 1, b: 2 }, 'node n')).toBe(3);
    expect(
      await e.evaluate(
        '{ "total": $sum(items.price) }',
        { items: [{ price: 2 }, { price: 5 }] },
        'node n',
      ),
    ).toEqual({
      total: 7,
    });
  });

  it('compiles each source once and reuses it', async () => {
    const e = new Expressions();
    await e.evaluate('x * 2', { x: 1 }, 'node n');
    const cached = e.compile('x * 2');
    expect(e.compile('x * 2')).toBe(cached);
    const spy = vi.spyOn(cached, 'evaluate');
    expect(await e.evaluate('x * 2', { x: 21 }, 'node n')).toBe(42);
    expect(spy).toHaveBeenCalledTimes(1);
    expect(e.compile('x * 3')).not.toBe(cached);
  });

  it('returns null when the expression matches nothing', async () => {
    const e = new Expressions();
    expect(await e.evaluate('missing.field', { other: 1 }, 'node n')).toBeNull();
  });

  it('returns JSONata sequences as plain arrays', async () => {
    const e = new Expressions();
    const v = await e.evaluate('items.x', { items: [{ x: 1 }, { x: 2 }] }, 'node n');
    expect(Array.isArray(v)).toBe(true);
    expect(Object.keys(v as object)).toEqual(['0', '1']);
    expect(v).toStrictEqual([1, 2]);
  });

  it('turns an evaluation error into a non-retryable FUNCTION_FAILED naming the place and the expression', async () => {
    const e = new Expressions();
    const err = await failure(e.evaluate('$number(x)', { x: 'abc' }, 'node resize input'));
    expect(err.code).toBe('FUNCTION_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('node resize input');
    expect(err.message).toContain('"$number(x)"');
    expect(err.message).toMatch(/cast/i);
    expect(err.cause).toBeDefined();
  });

  it('turns a syntax error into the same FUNCTION_FAILED error', async () => {
    const e = new Expressions();
    const err = await failure(e.evaluate('a +', {}, 'node x output'));
    expect(err).toMatchObject({ code: 'FUNCTION_FAILED', retryable: false });
    expect(err.message).toContain('node x output');
  });
});

describe('Expressions.test', () => {
  const e = new Expressions();
  const truth = (source: string, input: unknown): Promise<boolean> =>
    e.test(source, input, 'node sw case 0');

  it('is true for a matching comparison and false otherwise', async () => {
    expect(await truth('flagged = true', { flagged: true })).toBe(true);
    expect(await truth('flagged = true', { flagged: false })).toBe(false);
    expect(await truth('n > 3', { n: 4 })).toBe(true);
  });

  it.each([
    ['an empty sequence', 'missing', { other: 1 }],
    ['0', 'v', { v: 0 }],
    ["''", 'v', { v: '' }],
    ['null', 'v', { v: null }],
    ['false', 'v', { v: false }],
    ['an empty array', 'v', { v: [] }],
    ['an empty object', 'v', { v: {} }],
    ['an array of falsy values', 'v', { v: [0, '', null, false] }],
    ['an array holding only empty arrays and objects', 'v', { v: [[], {}] }],
  ])('treats %s as false', async (_what, source, input) => {
    expect(await truth(source, input)).toBe(false);
  });

  it.each([
    ['a non-zero number', 'v', { v: -1 }],
    ['a non-empty string', 'v', { v: 'no' }],
    ['a non-empty object', 'v', { v: { a: 0 } }],
    ['an array with one truthy member', 'v', { v: [0, 0, 7] }],
    ['a sequence with one truthy member', 'items.ok', { items: [{ ok: false }, { ok: true }] }],
    ['a nested array with a truthy member', 'v', { v: [[0], [1]] }],
  ])('treats %s as true', async (_what, source, input) => {
    expect(await truth(source, input)).toBe(true);
  });

  it('agrees with JSONata $boolean on every case', async () => {
    const samples: unknown[] = [
      0,
      1,
      '',
      'x',
      null,
      true,
      false,
      [],
      [0],
      [1],
      [[]],
      [[1]],
      {},
      { a: 1 },
      [{}],
      [{ a: 1 }],
    ];
    for (const v of samples) {
      const expected = await e.evaluate('$boolean(v)', { v }, 'probe');
      expect({ v, truthy: await truth('v', { v }) }).toEqual({ v, truthy: expected });
    }
  });

  it('fails like evaluate when the condition cannot be evaluated', async () => {
    const err = await failure(truth('$undefinedFn()', {}));
    expect(err).toMatchObject({ code: 'FUNCTION_FAILED', retryable: false });
    expect(err.message).toContain('node sw case 0');
  });
});
