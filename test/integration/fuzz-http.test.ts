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
import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { HTTP_CASE_TIMEOUT_MS } from '../../bench/fuzz/run.js';
import { httpProperty } from '../../bench/fuzz/http.js';
import { startFuzzCluster, type FuzzCluster } from '../../bench/fuzz/targets.js';

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
