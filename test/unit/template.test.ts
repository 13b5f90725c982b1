import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../shared/ids.js';
import type { InputTemplate } from '../../shared/dag/types.js';
import {
  assemble,
  isLive,
  readsWorkflowInput,
  type Arrival,
  type Resolver,
} from '../../shared/dag/template.js';

const id = (s: string): NodeId => s as NodeId;
const node = (s: string): InputTemplate => ({ kind: 'node', node: id(s) });
const INPUT: InputTemplate = { kind: 'input' };
const constant = (value: unknown): InputTemplate => ({ kind: 'const', value });

/** A resolver over a fixed table; names missing from it have not arrived. */
function arrivals(table: Record<string, Arrival>): Resolver {
  return (n) => table[n];
}
const value = (v: unknown): Arrival => ({ skip: false, value: v });
const SKIP: Arrival = { skip: true };

describe('assemble', () => {
  const resolve = arrivals({ a: value({ x: 1 }), b: value([1, 2]), s: SKIP });

  it('returns the workflow input for an input template', () => {
    expect(assemble(INPUT, resolve, { in: true })).toEqual({ in: true });
  });

  it('returns the literal of a const template', () => {
    expect(assemble(constant({ k: [1, 'two'] }), resolve, null)).toEqual({ k: [1, 'two'] });
  });

  it("returns a parent's output for a node template", () => {
    expect(assemble(node('a'), resolve, null)).toEqual({ x: 1 });
  });

  it('reads a skipped parent as null', () => {
    expect(assemble(node('s'), resolve, null)).toBeNull();
  });

  it('reads a parent that has not arrived as null', () => {
    expect(assemble(node('missing'), resolve, null)).toBeNull();
  });

  it('keeps a parent output that is itself null or falsy', () => {
    const r = arrivals({ z: value(0), n: value(null) });
    expect(assemble(node('z'), r, null)).toBe(0);
    expect(assemble(node('n'), r, null)).toBeNull();
  });

  it('builds arrays in item order, skipped items as null', () => {
    const t: InputTemplate = { kind: 'array', items: [node('b'), node('s'), INPUT, constant(7)] };
    expect(assemble(t, resolve, 'in')).toEqual([[1, 2], null, 'in', 7]);
  });

  it('builds objects keyed by field, nested templates included', () => {
    const t: InputTemplate = {
      kind: 'object',
      fields: { a: node('a'), s: node('s'), nested: { kind: 'array', items: [INPUT] } },
    };
    expect(assemble(t, resolve, 5)).toEqual({ a: { x: 1 }, s: null, nested: [5] });
  });

  it('first picks the first live option', () => {
    const t: InputTemplate = { kind: 'first', options: [node('s'), node('b'), node('a')] };
    expect(assemble(t, resolve, null)).toEqual([1, 2]);
  });

  it('first skips an option whose parents were all skipped, even when nested', () => {
    const r = arrivals({ s1: SKIP, s2: SKIP, ok: value('ok') });
    const allSkipped: InputTemplate = {
      kind: 'object',
      fields: { p: node('s1'), q: { kind: 'array', items: [node('s2')] } },
    };
    const t: InputTemplate = { kind: 'first', options: [allSkipped, node('ok')] };
    expect(assemble(t, r, null)).toBe('ok');
  });

  it('first takes an option where only some parents were skipped', () => {
    const r = arrivals({ s: SKIP, ok: value('ok') });
    const t: InputTemplate = {
      kind: 'first',
      options: [{ kind: 'array', items: [node('s'), node('ok')] }, constant('later')],
    };
    expect(assemble(t, r, null)).toEqual([null, 'ok']);
  });

  it('first takes an option that reads no node at all', () => {
    const r = arrivals({ s: SKIP });
    const t: InputTemplate = { kind: 'first', options: [node('s'), INPUT, constant('never')] };
    expect(assemble(t, r, 'the input')).toBe('the input');
  });

  it('first is null when every option was skipped', () => {
    const r = arrivals({ s1: SKIP, s2: SKIP });
    const t: InputTemplate = { kind: 'first', options: [node('s1'), node('s2')] };
    expect(assemble(t, r, 'in')).toBeNull();
  });

  it('merge combines objects shallowly, later fields winning', () => {
    const r = arrivals({ p: value({ a: 1, b: { deep: 1 } }), q: value({ b: { other: 2 }, c: 3 }) });
    const t: InputTemplate = { kind: 'merge', items: [node('p'), node('q')] };
    expect(assemble(t, r, null)).toEqual({ a: 1, b: { other: 2 }, c: 3 });
  });

  it('merge ignores arrays, Buffers, scalars, nulls and skipped parents', () => {
    const r = arrivals({
      obj: value({ keep: true }),
      arr: value([1, 2]),
      buf: value(Buffer.from('abc')),
      u8: value(new Uint8Array([1])),
      num: value(3),
      str: value('s'),
      nul: value(null),
      skipped: SKIP,
    });
    const items = ['arr', 'buf', 'u8', 'num', 'str', 'nul', 'skipped', 'obj'].map(node);
    const out = assemble({ kind: 'merge', items }, r, null);
    expect(out).toEqual({ keep: true });
    expect(Object.keys(out as object)).toEqual(['keep']);
  });

  it('merge does not mutate the parent outputs it reads', () => {
    const first = { a: 1 };
    const r = arrivals({ p: value(first), q: value({ a: 2 }) });
    assemble({ kind: 'merge', items: [node('p'), node('q')] }, r, null);
    expect(first).toEqual({ a: 1 });
  });
});

describe('isLive', () => {
  it('is live when the template reads no node', () => {
    expect(isLive(INPUT, arrivals({}))).toBe(true);
    expect(isLive(constant(1), arrivals({}))).toBe(true);
  });

  it('is live when at least one node it reads was not skipped', () => {
    const t: InputTemplate = {
      kind: 'merge',
      items: [node('s'), { kind: 'first', options: [node('a')] }],
    };
    expect(isLive(t, arrivals({ s: SKIP, a: value(1) }))).toBe(true);
  });

  it('is not live when every node it reads was skipped or has not arrived', () => {
    const t: InputTemplate = {
      kind: 'object',
      fields: { x: node('s'), y: node('missing'), z: INPUT },
    };
    expect(isLive(t, arrivals({ s: SKIP }))).toBe(false);
  });
});

describe('readsWorkflowInput', () => {
  it('is true for the input template and any composite containing it', () => {
    expect(readsWorkflowInput(INPUT)).toBe(true);
    expect(readsWorkflowInput({ kind: 'array', items: [node('a'), INPUT] })).toBe(true);
    expect(readsWorkflowInput({ kind: 'merge', items: [INPUT] })).toBe(true);
    expect(readsWorkflowInput({ kind: 'first', options: [node('a'), INPUT] })).toBe(true);
    expect(
      readsWorkflowInput({ kind: 'object', fields: { deep: { kind: 'array', items: [INPUT] } } }),
    ).toBe(true);
  });

  it('is false for templates that read only nodes and constants', () => {
    expect(readsWorkflowInput(node('a'))).toBe(false);
    expect(readsWorkflowInput(constant({ kind: 'input' }))).toBe(false);
    const t: InputTemplate = {
      kind: 'object',
      fields: {
        a: node('a'),
        b: { kind: 'first', options: [{ kind: 'merge', items: [node('b')] }] },
      },
    };
    expect(readsWorkflowInput(t)).toBe(false);
  });
});
