/**
 * Every HTTP route of the master and the worker under fuzz (bench/fuzz/http.ts, the properties
 * `faasflow bench fuzz --target master|worker` runs long), against a real master and a real
 * worker started in this process (loopback, port 0, process sandboxes, `hello` deployed):
 * - bodies generated from each route's schema, near-valid ones (one field of the wrong type,
 *   missing or extra), junk, huge values, malformed JSON, YAML, bytes, odd path parameters,
 *   query strings and headers: never a 5xx, an answer within the per-case timeout, the
 *   `{code, message}` shape on every 4xx;
 * - nothing stored by a rejected request: the master's catalogue, invocation list and workers,
 *   and the worker's data folder, are the same before and after every 4xx.
 * Plus the regressions the fuzzing found, one test each.
 */
import { readdir } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_CASE_TIMEOUT_MS } from '../../bench/fuzz/run.js';
import { httpProperty } from '../../bench/fuzz/http.js';
import { startFuzzCluster, type FuzzCluster } from '../../bench/fuzz/targets.js';
import type { FuzzTarget } from '../../bench/fuzz/http.js';

/** Per door; with the YAML file's, a few thousand cases in CI. */
const CASES = 800;

let cluster: FuzzCluster;

beforeAll(async () => {
  cluster = await startFuzzCluster();
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

describe('every door under fuzz', () => {
  it('master: every route answers every request without a 5xx, a hang or a stored rejection', async () => {
    await fc.assert(httpProperty(cluster.master, HTTP_CASE_TIMEOUT_MS), { numRuns: CASES });
  }, 120_000);

  it('worker: every route answers every request without a 5xx, a hang or a stored rejection', async () => {
    await fc.assert(httpProperty(cluster.worker, HTTP_CASE_TIMEOUT_MS), { numRuns: CASES });
  }, 120_000);
});

async function send(t: FuzzTarget, method: 'PUT' | 'POST', url: string, body: unknown) {
  const res = await t.inject({ method, url, payload: body as object });
  return {
    status: res.statusCode,
    body: JSON.parse(res.body) as { code: string; message: string },
  };
}

describe('regressions the fuzzing found', () => {
  it('a worker answers 400 for a peer ref whose url is not an http(s) URL (was 503 WORKER_UNREACHABLE)', async () => {
    for (const url of ['', 'a:', 'not a url', 'file:///etc/passwd']) {
      const r = await send(cluster.worker, 'POST', '/v1/objects/fetch', {
        ref: { tier: 'peer', key: 'default:inv_x:a', worker: 'w', url, sizeBytes: 0 },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('BAD_REQUEST');
      expect(r.body.message).toMatch(/http\(s\) URL|read it from that worker/);
    }
  });

  it('a worker without Redis answers 409 CONFLICT for a redis ref (was 503 STORE_UNAVAILABLE)', async () => {
    const r = await send(cluster.worker, 'POST', '/v1/objects/fetch', {
      ref: { tier: 'redis', key: 'default:inv_x:a', sizeBytes: 0 },
    });
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      code: 'CONFLICT',
      message: expect.stringMatching(/--redis-url/),
    });
  });

  it('a deployment whose dag is not a DAG is a 400 WORKFLOW_INVALID and writes no file (was a 500, after writing)', async () => {
    const before = await cluster.worker.snapshot();
    for (const dag of [{}, { nodes: [1], edges: [], sources: [], sinks: [], functions: {} }]) {
      const r = await send(cluster.worker, 'PUT', '/v1/deployments/fuzzed/1', {
        workflow: 'fuzzed',
        version: 1,
        dag,
        groupOf: {},
        files: { 'handler.js': Buffer.from('export default () => 1').toString('base64') },
      });
      expect(r.status).toBe(400);
      expect(r.body.code).toBe('WORKFLOW_INVALID');
    }
    expect(await cluster.worker.snapshot()).toBe(before);
    const dirs = await readdir(cluster.workerDataPath);
    expect(dirs).not.toContain('fuzzed');
  });
});
