import { describe, expect, it } from 'vitest';
import {
  runSynthetic,
  syntheticOutput,
  syntheticSpecProblems,
} from '../../worker/sandbox/runtime/synthetic.js';

describe('synthetic builtin output', () => {
  it('echoes the input when neither fields, keys nor outputBytes are set', () => {
    const input = { a: [1, 2], b: Buffer.from('x') };
    expect(syntheticOutput({ sleepMs: 0 }, 'f', input, undefined)).toBe(input);
  });

  it('emits a zero-filled Buffer of outputBytes', () => {
    const out = syntheticOutput({ sleepMs: 0, outputBytes: 1000 }, 'f', 'in', undefined);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect((out as Buffer).length).toBe(1000);
  });

  it('fills fields with Buffers of their declared sizes, ignoring outputBytes', () => {
    const out = syntheticOutput(
      { sleepMs: 0, outputBytes: 5, fields: { a: 3, b: 0 } },
      'f',
      'in',
      {},
    );
    expect(out).toEqual({ a: Buffer.alloc(3), b: Buffer.alloc(0) });
  });

  it('takes a field from workflowInput[fn][field] before workflowInput[field]', () => {
    const wf = { f: { a: 'scoped' }, a: 'top', b: 'top-b' };
    const out = syntheticOutput({ sleepMs: 0, fields: { a: 10, b: 10, c: 2 } }, 'f', null, wf);
    expect(out).toEqual({ a: 'scoped', b: 'top-b', c: Buffer.alloc(2) });
  });

  it('falls back to the size when the workflow input holds null for a field', () => {
    const out = syntheticOutput({ sleepMs: 0, fields: { a: 4 } }, 'f', null, { a: null });
    expect(out).toEqual({ a: Buffer.alloc(4) });
  });

  it('ignores a workflow input that is not an object', () => {
    for (const wf of [undefined, null, 'text', [1, 2], Buffer.from('ab')]) {
      expect(syntheticOutput({ sleepMs: 0, fields: { a: 1 } }, 'f', null, wf)).toEqual({
        a: Buffer.alloc(1),
      });
    }
  });

  it('emits keys fields as k0..k{width-1} unless the workflow input gives them', () => {
    const spec = { sleepMs: 0, fields: { data: 1 }, keys: { parts: 3, given: 2 } };
    const out = syntheticOutput(spec, 'split', null, { split: { given: ['x', 'y', 'z'] } });
    expect(out).toEqual({
      data: Buffer.alloc(1),
      parts: ['k0', 'k1', 'k2'],
      given: ['x', 'y', 'z'],
    });
  });

  it('emits an object when only keys are declared, so a foreach still gets its list', () => {
    expect(syntheticOutput({ sleepMs: 0, keys: { items: 2 } }, 'f', 'in', undefined)).toEqual({
      items: ['k0', 'k1'],
    });
  });

  it('returns its output after sleeping or spinning', async () => {
    await expect(runSynthetic({ sleepMs: 2 }, 'f', 'in', undefined)).resolves.toBe('in');
    await expect(
      runSynthetic({ sleepMs: 2, busy: true, outputBytes: 3 }, 'f', 'in', undefined),
    ).resolves.toEqual(Buffer.alloc(3));
  });
});

describe('synthetic spec checks', () => {
  it('accepts a well-formed spec', () => {
    expect(
      syntheticSpecProblems({
        sleepMs: 1,
        busy: true,
        outputBytes: 2,
        fields: { a: 1 },
        keys: { k: 2 },
      }),
    ).toEqual([]);
  });

  it('names every malformed field', () => {
    const problems = syntheticSpecProblems({
      sleepMs: -1,
      busy: 'yes',
      outputBytes: 'x',
      fields: { a: 'big' },
      keys: [],
    });
    expect(problems).toEqual([
      'sleepMs must be a number ≥ 0',
      'busy must be a boolean',
      'outputBytes must be a number ≥ 0',
      'fields.a must be a number ≥ 0',
      'keys must be an object of name → width',
    ]);
  });

  it('rejects a spec that is not an object', () => {
    expect(syntheticSpecProblems(null)).toHaveLength(1);
  });
});
