import { describe, expect, it } from 'vitest';
import type { StepRecord } from '../../shared/schema/wire.js';
import { publicView, toJsonSafe, type InvocationRecord } from '../../shared/invocation/record.js';
import { fromDoc, toDoc } from '../../shared/invocation/doc.js';
import { invId } from '../helpers/ids.js';

const STARTED_MS = Date.UTC(2020, 0, 2, 3, 4, 5, 0);

function step(node: string, readyAt: number): StepRecord {
  return {
    node,
    worker: 'w1',
    status: 'succeeded',
    kind: 'task',
    attempts: 1,
    readyAt,
    startedAt: readyAt,
    finishedAt: readyAt + 1,
    queueMs: 0,
    cold: false,
    inputBytes: 1,
    outputBytes: 1,
    tier: 'inline',
  };
}

function record(partial: Partial<InvocationRecord> = {}): InvocationRecord {
  return {
    id: invId('inv_0000000001abcdef'),
    workflow: 'wf',
    version: 2,
    status: 'succeeded',
    startedAt: STARTED_MS,
    finishedAt: STARTED_MS + 250,
    deadline: STARTED_MS + 60_000,
    placement: { groups: ['w1'], workers: { w1: 'http://127.0.0.1:1' } },
    ctx: {
      tenant: 'default',
      deadline: STARTED_MS + 60_000,
      input: { tier: 'inline', data: '', sizeBytes: 0 },
      master: 'http://127.0.0.1:2',
      mode: 'worker',
    },
    durability: 'none',
    recoveries: 0,
    lastActivityAt: STARTED_MS,
    pendingSinks: new Set(),
    stepKeys: new Set(),
    sinkOutputs: new Map(),
    steps: [],
    stepsDropped: 0,
    stepped: new Set(),
    sinksDone: true,
    output: { ok: true },
    done: Promise.resolve(),
    settle: () => undefined,
    ...partial,
  };
}

describe('toJsonSafe', () => {
  it('turns a Buffer into { $base64 }', () => {
    expect(toJsonSafe(Buffer.from('hello'))).toEqual({ $base64: 'aGVsbG8=' });
  });

  it('turns Buffers into { $base64 } at any depth of arrays and objects', () => {
    const v = {
      a: [1, { b: Buffer.from([0xff, 0x00]) }],
      c: { d: { e: Buffer.alloc(0) } },
      s: 'x',
      n: null,
    };
    expect(toJsonSafe(v)).toEqual({
      a: [1, { b: { $base64: '/wA=' } }],
      c: { d: { e: { $base64: '' } } },
      s: 'x',
      n: null,
    });
  });

  it('encodes only the bytes a Uint8Array view covers, not its whole backing buffer', () => {
    const backing = Buffer.from('0123456789');
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 3);
    expect(toJsonSafe(view)).toEqual({ $base64: Buffer.from('234').toString('base64') });
    expect(toJsonSafe(backing.subarray(7))).toEqual({
      $base64: Buffer.from('789').toString('base64'),
    });
  });

  it('leaves plain JSON values as they are', () => {
    for (const v of [null, 0, 'text', true, [1, 'a'], { k: [null] }])
      expect(toJsonSafe(v)).toEqual(v);
  });

  it('survives a JSON round trip', () => {
    const v = toJsonSafe({ img: Buffer.from('png'), list: [Buffer.from('a')] });
    expect(JSON.parse(JSON.stringify(v))).toEqual(v);
  });
});

describe('publicView', () => {
  it('shows ids, status, ISO times and the duration', () => {
    const view = publicView(record());
    expect(view).toEqual({
      invocationId: 'inv_0000000001abcdef',
      workflow: 'wf',
      version: 2,
      tenant: 'default',
      status: 'succeeded',
      startedAt: '2020-01-02T03:04:05.000Z',
      finishedAt: '2020-01-02T03:04:05.250Z',
      durationMs: 250,
      output: { ok: true },
      durability: { mode: 'none', recoveries: 0 },
      steps: [],
    });
  });

  it('shows output null when a succeeded invocation produced nothing', () => {
    expect(publicView(record({ output: undefined }))['output']).toBeNull();
  });

  it('shows no output unless the invocation succeeded', () => {
    for (const status of ['running', 'failed', 'timed_out', 'cancelled'] as const) {
      expect(publicView(record({ status, output: { partial: true } }))).not.toHaveProperty(
        'output',
      );
    }
  });

  it('shows the error of a failed invocation', () => {
    const error = { code: 'FUNCTION_FAILED', message: 'node a: boom' };
    const view = publicView(record({ status: 'failed', error, output: undefined }));
    expect(view['error']).toEqual(error);
    expect(view).not.toHaveProperty('output');
  });

  it('shows finishedAt null while running and counts the duration up to now', () => {
    const startedAt = Date.now() - 1000;
    const view = publicView(record({ status: 'running', startedAt, finishedAt: undefined }));
    expect(view['finishedAt']).toBeNull();
    expect(view['durationMs']).toBeGreaterThanOrEqual(1000);
  });

  it('sorts steps by readyAt, then node, without reordering the record', () => {
    const steps = [step('c', 30), step('b', 10), step('a', 30), step('d', 20)];
    const r = record({ steps });
    const view = publicView(r);
    expect((view['steps'] as StepRecord[]).map((s) => s.node)).toEqual(['b', 'd', 'a', 'c']);
    expect(r.steps.map((s) => s.node)).toEqual(['c', 'b', 'a', 'd']);
  });

  it('shows stepsDropped only when steps were dropped', () => {
    expect(publicView(record({ stepsDropped: 0 }))).not.toHaveProperty('stepsDropped');
    expect(publicView(record({ stepsDropped: 12 }))['stepsDropped']).toBe(12);
  });

  it('leaves steps and stepsDropped out when asked for the summary', () => {
    const view = publicView(record({ steps: [step('a', 1)], stepsDropped: 3 }), false);
    expect(view).not.toHaveProperty('steps');
    expect(view).not.toHaveProperty('stepsDropped');
  });

  it('names the dead ingress worker an adopted invocation came from, and keeps it in the stored doc', () => {
    const adopted = record({ durability: 'checkpoint', recoveries: 1, adoptedFrom: 'w3' });
    expect(publicView(adopted)['durability']).toEqual({
      mode: 'checkpoint',
      recoveries: 1,
      adoptedFrom: 'w3',
    });
    expect(fromDoc(toDoc(adopted))?.adoptedFrom).toBe('w3');
    expect(fromDoc(toDoc(record()))).not.toHaveProperty('adoptedFrom');
  });
});
