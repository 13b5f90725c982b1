import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { newRecord } from '../../shared/invocation/collect.js';
import {
  armDeadline,
  completeOnce,
  endRecord,
  recoverInTurn,
  replaceOnLive,
  sendFailure,
  workersLostError,
  type EndStatus,
} from '../../shared/invocation/finish.js';
import type { InvocationRecord } from '../../shared/invocation/record.js';
import type { Durability } from '../../shared/schema/wire.js';

function record(durability: Durability = 'none', deadline = 10_000): InvocationRecord {
  return newRecord(
    {
      id: 'inv-1' as InvocationRecord['id'],
      workflow: 'wf',
      version: 1,
      startedAt: 0,
      deadline,
      placement: { groups: ['w1', 'w2', 'w1'], workers: { w1: 'http://w1', w2: 'http://w2' } },
      ctx: {
        input: { tier: 'inline', data: '', sizeBytes: 0 },
        deadline,
      } as InvocationRecord['ctx'],
      durability,
      sinks: ['end'],
    },
    0,
  );
}

type Ended = { status: EndStatus; output?: unknown; error?: AppError };

function ender(): {
  ends: Ended[];
  end: (r: InvocationRecord, s: EndStatus, o?: unknown, e?: AppError) => void;
} {
  const ends: Ended[] = [];
  return {
    ends,
    end: (r, status, output, error) => {
      if (endRecord(r, status, 0, output, error)) ends.push({ status, output, error });
    },
  };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('armDeadline', () => {
  it('times a running invocation out at its deadline, naming how long it had', () => {
    const r = record('none', 500);
    const { ends, end } = ender();
    armDeadline(r, 100, end);
    vi.advanceTimersByTime(399);
    expect(ends).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(ends).toHaveLength(1);
    expect(ends[0]!.status).toBe('timed_out');
    expect(ends[0]!.error!.code).toBe('INVOCATION_TIMEOUT');
    expect(ends[0]!.error!.message).toContain('within 500 ms');
    expect(r.error?.code).toBe('INVOCATION_TIMEOUT');
  });

  it('fires at once when the deadline has already passed, and never after the invocation ended', () => {
    const late = record('none', 50);
    const a = ender();
    armDeadline(late, 80, a.end);
    vi.advanceTimersByTime(0);
    expect(a.ends.map((e) => e.status)).toEqual(['timed_out']);

    const done = record('none', 500);
    const b = ender();
    armDeadline(done, 0, b.end);
    b.end(done, 'succeeded', 42);
    vi.advanceTimersByTime(1_000);
    expect(b.ends.map((e) => e.status)).toEqual(['succeeded']);
    expect(done.output).toBe(42);
  });
});

describe('endRecord', () => {
  it('records the first end only and stops the timers', () => {
    const r = record();
    const fired = vi.fn();
    r.timer = setTimeout(fired, 10);
    r.completeTimer = setTimeout(fired, 10);
    expect(endRecord(r, 'succeeded', 7, { ok: true })).toBe(true);
    expect(endRecord(r, 'failed', 9, undefined, new AppError('INTERNAL', 'late'))).toBe(false);
    vi.advanceTimersByTime(100);
    expect(fired).not.toHaveBeenCalled();
    expect(r).toMatchObject({ status: 'succeeded', finishedAt: 7, output: { ok: true } });
    expect(r.error).toBeUndefined();
    expect(r.timer).toBeUndefined();
    expect(r.completeTimer).toBeUndefined();
  });

  it('keeps no output on a failure, and the error in its wire form', () => {
    const r = record();
    endRecord(r, 'failed', 3, 'ignored', new AppError('FUNCTION_FAILED', 'boom'));
    expect(r.output).toBeUndefined();
    expect(r.error).toMatchObject({ code: 'FUNCTION_FAILED', message: 'boom' });
  });
});

describe('completeOnce', () => {
  it('assembles once however many times the sinks are reported done', async () => {
    const r = record();
    const { ends, end } = ender();
    const assemble = vi.fn(() => Promise.resolve('out'));
    const o = { assemble, end, now: () => 0, later: vi.fn() };
    completeOnce(r, o);
    completeOnce(r, o);
    await vi.runAllTimersAsync();
    completeOnce(r, o);
    expect(assemble).toHaveBeenCalledTimes(1);
    expect(ends).toEqual([{ status: 'succeeded', output: 'out', error: undefined }]);
  });

  it('leaves a durable invocation whose output is unreachable for now to try later, before its deadline', async () => {
    const r = record('checkpoint', 1_000);
    const { ends, end } = ender();
    const later = vi.fn();
    const unreachable = () => Promise.reject(new AppError('WORKER_UNREACHABLE', 'sink gone'));
    completeOnce(r, { assemble: unreachable, end, now: () => 500, later });
    await vi.runAllTimersAsync();
    expect(later).toHaveBeenCalledTimes(1);
    expect(ends).toEqual([]);
    expect(r.completing).toBe(false);
    // Past the deadline the same failure ends it.
    completeOnce(r, { assemble: unreachable, end, now: () => 1_000, later });
    await vi.runAllTimersAsync();
    expect(ends.map((e) => e.error?.code)).toEqual(['WORKER_UNREACHABLE']);
  });

  it('fails a non-durable invocation, or a durable one on an error that is not retryable', async () => {
    const none = record('none');
    const a = ender();
    completeOnce(none, {
      assemble: () => Promise.reject(new AppError('WORKER_UNREACHABLE', 'gone')),
      end: a.end,
      now: () => 0,
      later: () => expect.unreachable(),
    });
    const durable = record('checkpoint');
    const b = ender();
    completeOnce(durable, {
      assemble: () => Promise.reject(new AppError('BAD_REQUEST', 'output expression fails')),
      end: b.end,
      now: () => 0,
      later: () => expect.unreachable(),
    });
    await vi.runAllTimersAsync();
    expect(a.ends.map((e) => e.status)).toEqual(['failed']);
    expect(b.ends.map((e) => e.error?.code)).toEqual(['BAD_REQUEST']);
  });
});

describe('sendFailure', () => {
  it('ends a non-durable invocation on any failure and a durable one only when not retryable', () => {
    const retryable = new AppError('WORKER_UNREACHABLE', 'connection refused');
    const fatal = new AppError('BAD_REQUEST', 'bad trigger');
    expect(sendFailure(record('none'), retryable)?.code).toBe('WORKER_UNREACHABLE');
    expect(sendFailure(record('checkpoint'), retryable)).toBeUndefined();
    expect(sendFailure(record('checkpoint'), fatal)?.code).toBe('BAD_REQUEST');
  });
});

describe('workersLostError', () => {
  it('names every lost worker and the invocation', () => {
    const e = workersLostError(record(), new Set(['w1', 'w2']));
    expect(e.code).toBe('WORKER_UNREACHABLE');
    expect(e.message).toBe('worker w1, w2 stopped responding while running invocation inv-1');
  });
});

describe('replaceOnLive', () => {
  const live = [
    { id: 'w3', url: 'http://w3' },
    { id: 'w4', url: 'http://w4' },
  ];

  it('moves only the gone worker’s groups, to where the fresh placement put them, one epoch up', () => {
    const r = record();
    const out = replaceOnLive(r, new Set(['w1']), live, () => ['w3', 'w4', 'w4']);
    expect(out.moved).toEqual([0, 2]);
    expect(out.placement).toEqual({
      groups: ['w3', 'w2', 'w4'],
      workers: { w3: 'http://w3', w2: 'http://w2', w4: 'http://w4' },
      epoch: 1,
    });
  });

  it('refuses clearly when nothing is live, or the fresh placement names a worker not live', () => {
    const r = record();
    expect(() => replaceOnLive(r, new Set(['w1']), [], () => [])).toThrow(
      'worker w1 was lost while running invocation inv-1 and no live worker can take its groups',
    );
    expect(() => replaceOnLive(r, new Set(['w1']), live, () => ['w9', 'w2', 'w9'])).toThrow(
      'no worker for invocation inv-1',
    );
  });
});

describe('recoverInTurn', () => {
  const quiet = { warn: () => undefined };

  it('runs recoveries one at a time, in order, and clears the marker after the last', async () => {
    const r = record('checkpoint');
    const { end } = ender();
    const order: string[] = [];
    let release!: () => void;
    const first = new Promise<void>((resolve) => (release = resolve));
    const o = { end, logger: quiet, now: () => 0 };
    recoverInTurn(
      r,
      async () => {
        order.push('first:start');
        await first;
        order.push('first:end');
      },
      o,
    );
    recoverInTurn(r, () => Promise.resolve(void order.push('second')), o);
    await vi.runAllTimersAsync();
    expect(order).toEqual(['first:start']);
    expect(r.recovering).toBeDefined();
    release();
    await vi.runAllTimersAsync();
    expect(order).toEqual(['first:start', 'first:end', 'second']);
    expect(r.recovering).toBeUndefined();
  });

  it('ends a non-durable invocation with the failed recovery’s error, and logs it', async () => {
    const r = record('none');
    const { ends, end } = ender();
    const warn = vi.fn();
    recoverInTurn(r, () => Promise.reject(new Error('journal unreachable')), {
      end,
      logger: { warn },
      now: () => 0,
    });
    await vi.runAllTimersAsync();
    expect(ends.map((e) => e.error?.code)).toEqual(['WORKER_UNREACHABLE']);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('keeps a durable invocation running on a retryable failure until its deadline', async () => {
    const r = record('checkpoint', 1_000);
    const { ends, end } = ender();
    const noWorker = () => Promise.reject(new AppError('WORKER_UNREACHABLE', 'no live worker'));
    recoverInTurn(r, noWorker, { end, logger: quiet, now: () => 999 });
    await vi.runAllTimersAsync();
    expect(ends).toEqual([]);
    expect(r.status).toBe('running');
    expect(r.recovering).toBeUndefined();
    recoverInTurn(r, noWorker, { end, logger: quiet, now: () => 1_000 });
    await vi.runAllTimersAsync();
    expect(ends.map((e) => e.status)).toEqual(['failed']);
    // Not retryable: ends it at once, deadline or not.
    const other = record('checkpoint', 1_000);
    const b = ender();
    recoverInTurn(other, () => Promise.reject(new AppError('WORKFLOW_NOT_FOUND', 'deleted')), {
      end: b.end,
      logger: quiet,
      now: () => 0,
    });
    await vi.runAllTimersAsync();
    expect(b.ends.map((e) => e.error?.code)).toEqual(['WORKFLOW_NOT_FOUND']);
  });
});
