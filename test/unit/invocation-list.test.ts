import { describe, expect, it } from 'vitest';
import { listInvocations } from '../../master/invocations/list.js';
import type { InvocationRecord } from '../../master/invocations/record.js';
import { invId } from '../helpers/ids.js';

function rec(
  id: string,
  workflow: string,
  status: InvocationRecord['status'],
  at: number,
): InvocationRecord {
  return {
    id: invId(id),
    workflow,
    version: 1,
    status,
    startedAt: at,
    ...(status === 'running' ? {} : { finishedAt: at + 10 }),
    deadline: at + 1000,
    placement: { groups: [] } as unknown as InvocationRecord['placement'],
    ctx: {
      tenant: 'default',
      deadline: at + 1000,
      input: { tier: 'inline', data: '', sizeBytes: 0 },
      master: 'http://m',
      mode: 'worker',
    },
    durability: 'none',
    recoveries: 0,
    lastActivityAt: at,
    pendingSinks: new Set(),
    sinkOutputs: new Map(),
    steps: [],
    stepsDropped: 0,
    stepKeys: new Set(),
    stepped: new Set(),
    sinksDone: false,
    done: Promise.resolve(),
    settle: () => undefined,
    ...(status === 'failed' ? { error: { code: 'FUNCTION_FAILED', message: 'x' } } : {}),
  };
}

const records = [
  rec('i1', 'a', 'succeeded', 1),
  rec('i2', 'b', 'failed', 2),
  rec('i3', 'a', 'failed', 3),
  rec('i4', 'a', 'succeeded', 4),
  rec('i5', 'b', 'running', 5),
  rec('i6', 'acme.a', 'succeeded', 6),
];

describe('invocation list', () => {
  it('lists newest first with a cursor to the next page', () => {
    const p1 = listInvocations(records.slice(0, 5), { limit: 2 }, 100);
    expect(p1.invocations.map((r) => r.invocationId)).toEqual(['i5', 'i4']);
    expect(p1.total).toBe(5);
    expect(p1.next).toBe('i4');
    const p2 = listInvocations(records, { limit: 2, before: 'i4' }, 100);
    expect(p2.invocations.map((r) => r.invocationId)).toEqual(['i3', 'i2']);
    const p3 = listInvocations(records, { limit: 2, before: 'i2' }, 100);
    expect(p3.invocations.map((r) => r.invocationId)).toEqual(['i1']);
    expect(p3.next).toBeNull();
  });

  it('filters by workflow, status and tenant together', () => {
    const p = listInvocations(records, { limit: 10, workflow: 'a', status: 'failed' });
    expect(p.invocations.map((r) => r.invocationId)).toEqual(['i3']);
    expect(p.invocations[0]!.errorCode).toBe('FUNCTION_FAILED');
    expect(p.total).toBe(1);
    expect(listInvocations(records, { limit: 10, tenant: 'other' }).total).toBe(0);
    expect(listInvocations(records, { limit: 10, tenant: 'default' }).total).toBe(5);
  });

  it('gives a running invocation its duration so far', () => {
    const p = listInvocations(records, { limit: 1, status: 'running' }, 105);
    expect(p.invocations[0]).toMatchObject({
      invocationId: 'i5',
      durationMs: 100,
      finishedAt: null,
    });
  });

  it('refuses a cursor that is no longer kept', () => {
    expect(() => listInvocations(records, { limit: 2, before: 'gone' })).toThrow(/no longer kept/);
  });
});
