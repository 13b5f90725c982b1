/**
 * End to end, with the master and 3 workers as real processes (WorkerSP, process sandboxes, no
 * Redis: cross-worker objects go through the peer tier). Scenarios: a sequence; a parallel
 * fan-out 8 + join; a foreach of 100 items; a switch with a join behind exclusive branches (both
 * ways); an explicit DAG with a multi-parent join; a 20 MB payload between workers; a function that
 * fails twice then succeeds on retry; a function that times out; a failing function failing the
 * invocation with its name; the timeline's fields; bad input at every door.
 */
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { startCluster, type Api } from '../helpers/cluster.js';

const fixtures = join(repoRoot(), 'test/fixtures/workflows');
let cluster: LocalCluster;
let api: Api;
/** The master's request limit in this suite (small, so the 413 answer arrives before the body is sent). */
const BODY_LIMIT = 256 * 1024;

beforeAll(async () => {
  ({ cluster, api } = await startCluster({
    workers: 3,
    masterFlags: [`--body-limit-bytes=${BODY_LIMIT}`],
    workerFlags: () => ['--memory-mb=3072', '--cpu=2'],
  }));
  for (const f of [
    'sequence',
    'fanout',
    'foreach',
    'switch-join',
    'dag-join',
    'big-payload',
    'retry-timeout',
    'timeout',
    'failing',
  ]) {
    await api.deploy(join(fixtures, `${f}.yaml`));
  }
});

afterAll(async () => {
  await cluster?.stop();
});

function countByNode(steps: { node: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) out[s.node] = (out[s.node] ?? 0) + 1;
  return out;
}

describe('workflows run end to end', () => {
  it('runs a sequence, feeding each output to the next step', async () => {
    const r = await api.invoke('e2e-sequence', { n: 1 });
    expect(r).toMatchObject({ status: 'succeeded', output: 10 });
  });

  it('fans out to 8 branches with the same input and joins their outputs in order', async () => {
    const r = await api.invoke('e2e-fanout', { base: 100 });
    expect(r.status).toBe('succeeded');
    expect(r.output).toEqual({ total: 8 * 100 + 36, count: 8 });
    const inv = await api.invocation(r.invocationId);
    const counts = countByNode(inv.steps);
    expect(Object.keys(counts).filter((n) => n.startsWith('add'))).toHaveLength(8);
    expect(Object.values(counts).every((c) => c === 1)).toBe(true);
  });

  it('runs a foreach of 100 items and returns the results in order', async () => {
    const r = await api.invoke('e2e-foreach', { count: 100 });
    expect(r.status).toBe('succeeded');
    expect(r.output).toEqual({ n: 100, sum: 328350, first: [0, 1, 4, 9] });
    const inv = await api.invocation(r.invocationId);
    const fe = inv.steps.find((s: { node: string }) => s.node === 'foreach');
    expect(fe).toMatchObject({ status: 'succeeded', items: 100 });
  });

  it('skips the untaken switch case and still runs the join behind it', async () => {
    const flagged = await api.invoke('e2e-switch-join', { text: 'a bad day' });
    expect(flagged.output).toEqual({ published: 'a *** day', via: 'mosaic' });
    const clean = await api.invoke('e2e-switch-join', { text: 'a good day' });
    expect(clean.output).toEqual({ published: 'a good day', via: 'extract' });
    const inv = await api.invocation(clean.invocationId);
    const status = Object.fromEntries(
      inv.steps.map((s: { node: string; status: string }) => [s.node, s.status]),
    );
    expect(status).toMatchObject({
      check: 'succeeded',
      switch: 'succeeded',
      mosaic: 'skipped',
      extract: 'succeeded',
      publish: 'succeeded',
    });
  });

  it('gives an explicit-DAG join an object keyed by parent', async () => {
    const r = await api.invoke('e2e-dag-join', { v: 3 });
    expect(r.output).toEqual({ keys: ['left', 'right', 'src'], sum: 30 + 4 + 3 });
  });

  it('moves a 20 MB payload between workers intact', async () => {
    const bytes = 20 * 1024 * 1024;
    const r = await api.invoke('e2e-big', { bytes });
    expect(r.status).toBe('succeeded');
    const expected = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i += 4096) expected[i] = (i / 4096) & 0xff;
    expect(r.output).toEqual({
      bytes,
      sha256: createHash('sha256').update(expected).digest('hex'),
    });
    const inv = await api.invocation(r.invocationId);
    const produce = inv.steps.find((s: { node: string }) => s.node === 'produce');
    const consume = inv.steps.find((s: { node: string }) => s.node === 'consume');
    expect(produce.worker).not.toBe(consume.worker);
    expect(produce.tier).toBe('peer');
    expect(produce.outputBytes).toBeGreaterThan(bytes);
  });

  it('retries a failing function with backoff until it succeeds', async () => {
    const r = await api.invoke('e2e-faults', null);
    expect(r).toMatchObject({ status: 'succeeded', output: { ok: true, attempt: 3 } });
    const inv = await api.invocation(r.invocationId);
    expect(inv.steps[0]).toMatchObject({ node: 'flaky', attempts: 3 });
  });

  it('fails an invocation whose function times out, naming the function', async () => {
    const r = await api.invoke('e2e-timeout', null);
    expect(r.status).toBe('failed');
    expect(r.error.code).toBe('FUNCTION_TIMEOUT');
    expect(r.error.message).toContain('slow');
  });

  it('fails an invocation on a failing function with its code and message', async () => {
    const r = await api.invoke('e2e-failing', { a: 1 });
    expect(r.status).toBe('failed');
    expect(r.error).toMatchObject({ code: 'FUNCTION_FAILED' });
    expect(r.error.message).toMatch(/boom.*bad data/);
    const inv = await api.invocation(r.invocationId);
    expect(inv.status).toBe('failed');
    expect(inv.steps.map((s: { node: string }) => s.node)).not.toContain('ok-2');
  });

  it('records a timeline with worker, times, queue wait, cold/warm, bytes and storage tier', async () => {
    const r = await api.invoke('e2e-sequence', { n: 2 });
    const inv = await api.invocation(r.invocationId);
    expect(inv).toMatchObject({
      invocationId: r.invocationId,
      workflow: 'e2e-sequence',
      status: 'succeeded',
      output: 14,
    });
    expect(inv.steps).toHaveLength(4);
    for (const s of inv.steps) {
      expect(s.worker).toMatch(/^w[123]$/);
      expect(s.finishedAt).toBeGreaterThanOrEqual(s.startedAt);
      expect(typeof s.queueMs).toBe('number');
      expect(typeof s.cold).toBe('boolean');
      expect(s.inputBytes).toBeGreaterThan(0);
      expect(['inline', 'memory', 'peer', 'redis']).toContain(s.tier);
    }
  });

  it('answers 202 at once with wait: false and finishes in the background', async () => {
    const r = await api.invoke('e2e-sequence', { n: 0 }, { wait: false });
    expect(Object.keys(r)).toEqual(['invocationId']);
    const { eventually } = await import('../helpers/cluster.js');
    const inv = await eventually(async () => {
      const v = await api.invocation(r.invocationId);
      return v.status === 'succeeded' ? v : null;
    });
    expect(inv.output).toBe(6);
  });
});

describe('bad input at every door', () => {
  it('rejects malformed JSON with 400 and a code', async () => {
    const r = await api.request('POST', '/v1/workflows/e2e-sequence/invocations', '{"input": ', {
      'content-type': 'application/json',
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('BAD_REQUEST');
  });

  it('answers 404 for an unknown workflow and an unknown invocation', async () => {
    const a = await api.request('POST', '/v1/workflows/nope/invocations', { input: 1 });
    expect(a).toMatchObject({ status: 404, body: { code: 'WORKFLOW_NOT_FOUND' } });
    const b = await api.request('GET', '/v1/invocations/inv_doesnotexist0000');
    expect(b).toMatchObject({ status: 404, body: { code: 'INVOCATION_NOT_FOUND' } });
  });

  it('rejects wrong types and unknown fields in an invocation body', async () => {
    const r = await api.request('POST', '/v1/workflows/e2e-sequence/invocations', {
      input: 1,
      wait: 'yes',
      extra: true,
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('BAD_REQUEST');
  });

  it('answers 413 for a body over the limit', async () => {
    // Read the answer the way curl does, even if the server closes before taking the whole body.
    const body = JSON.stringify({ input: 'x'.repeat(BODY_LIMIT + 1024) });
    const { status, text } = await new Promise<{ status: number; text: string }>(
      (resolve, reject) => {
        const req = httpRequest(`${api.url}/v1/workflows/e2e-sequence/invocations`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        });
        req.on('response', (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: t }));
        });
        req.on('error', (err: NodeJS.ErrnoException) => {
          reject(err);
        });
        req.end(body);
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(text)).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      message: expect.stringContaining(String(BODY_LIMIT)),
    });
  });

  it('rejects an invalid workflow with every issue and keeps the deployed version', async () => {
    const bad =
      'name: e2e-sequence\nfunctions:\n  inc: { cpu: 99 }\nflow: { sequence: [inc, ghost] }\n';
    const r = await api.request('POST', '/v1/workflows', bad, {
      'content-type': 'application/yaml',
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('WORKFLOW_INVALID');
    expect(r.body.details.issues.map((i: { path: string }) => i.path)).toEqual(
      expect.arrayContaining(['functions.inc', 'functions.inc.cpu', 'flow.sequence[1]']),
    );
    const still = await api.invoke('e2e-sequence', { n: 1 });
    expect(still.output).toBe(10);
  });

  it('rejects an input that does not match the workflow input schema, listing the problems', async () => {
    const r = await api.request('POST', '/v1/workflows/e2e-sequence/invocations', {
      input: { n: 'one' },
    });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('INPUT_INVALID');
    expect(r.body.message).toContain('input.n must be integer');
  });

  it('rejects an unsupported content type with 415', async () => {
    const r = await api.request('POST', '/v1/workflows', 'x', { 'content-type': 'image/png' });
    expect(r.status).toBe(415);
  });
});
