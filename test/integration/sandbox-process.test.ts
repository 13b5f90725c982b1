/**
 * Process sandbox, working paths, with real child processes:
 * - a handler file runs with the documented ctx, a clean environment and a heap limit;
 * - inline code and builtin synthetic functions (workflow-input pass-through, keys) run;
 * - 20 MB Buffers travel in and out intact;
 * - a second call is warm on the same sandbox; prewarm makes the first call warm;
 * - the per-function concurrency cap queues extra calls FIFO and reports their queue wait;
 * - idle children are evicted after idleMs; undeploy stops a function's children;
 * - deploy rejects image functions and missing handler files; run rejects unknown keys;
 * - without cgroups CPU time still comes from the runtime and peak memory is null.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { parseWorkerId } from '../../shared/ids.js';
import { locateRuntimeServer, ProcessSandbox } from '../../worker/sandbox/process.js';
import { deployment, fnSpec, poll, processAlive, request } from './sandbox-helpers.js';

let sandbox: ProcessSandbox;

beforeAll(async () => {
  locateRuntimeServer(); // fails with "run npm run build" when dist is missing
  sandbox = await ProcessSandbox.create({ workerId: parseWorkerId('sbx-process-test') });
});

afterAll(async () => {
  await sandbox?.close();
});

describe('process sandbox', () => {
  it('runs a handler file with ctx, a clean environment and a heap limit from the allocation', async () => {
    const d = deployment(fnSpec('ok'));
    await sandbox.deploy(d);
    const result = await sandbox.run(
      d.key,
      request(
        { hello: 'world' },
        { node: 'first', attempt: 2, workflowInput: Buffer.from([1, 0x31]) }, // encoded JSON 1
      ),
    );
    const out = decodeValue(result.output) as {
      echo: unknown;
      ctx: Record<string, unknown>;
      envKeys: string[];
      execArgv: string[];
    };
    expect(out.echo).toEqual({ hello: 'world' });
    expect(out.ctx).toMatchObject({
      invocationId: 'inv_0000000000test',
      node: 'first',
      attempt: 2,
      workflowInput: 1,
    });
    expect(typeof out.ctx['deadlineMs']).toBe('number');
    expect(out.envKeys).toEqual(['HOME', 'PATH']);
    expect(out.execArgv).toContain('--max-old-space-size=256');
    expect(result.cold).toBe(true);
    expect(result.initMs).toBeGreaterThan(0);
    expect(result.cpuTimeMs).not.toBeNull();
  });

  it('reuses the warm child for the next call', async () => {
    const d = deployment(fnSpec('ok'), 'warm');
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request(1));
    const second = await sandbox.run(d.key, request(2));
    expect(first.cold).toBe(true);
    expect(second).toMatchObject({
      cold: false,
      sandboxId: first.sandboxId,
      initMs: 0,
      queueMs: 0,
    });
    expect((decodeValue(second.output) as { pid: number }).pid).toBe(
      (decodeValue(first.output) as { pid: number }).pid,
    );
  });

  it('deploys idempotently per key', async () => {
    const d = deployment(fnSpec('ok'), 'idem');
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request(1));
    await sandbox.deploy(d);
    expect((await sandbox.run(d.key, request(1))).sandboxId).toBe(first.sandboxId);
  });

  it('runs inline code', async () => {
    const d = deployment(
      fnSpec('inline', {
        kind: 'code',
        code: 'export default async (x, ctx) => ({ twice: x * 2, node: ctx.node })',
      }),
    );
    await sandbox.deploy(d);
    const result = await sandbox.run(d.key, request(21));
    expect(decodeValue(result.output)).toEqual({ twice: 42, node: 'step' });
  });

  it('runs a builtin synthetic function with workflow-input pass-through and keys', async () => {
    const builtin = { sleepMs: 1, fields: { video: 16, meta: 4 }, keys: { chunks: 3 } };
    const d = deployment(fnSpec('split', { kind: 'builtin', builtin }));
    await sandbox.deploy(d);
    const workflowInput = { split: { meta: 'given' } };
    const result = await sandbox.run(
      d.key,
      request(null, { workflowInput: Buffer.from(`\x01${JSON.stringify(workflowInput)}`) }),
    );
    expect(decodeValue(result.output)).toEqual({
      video: Buffer.alloc(16),
      meta: 'given',
      chunks: ['k0', 'k1', 'k2'],
    });
  });

  it('carries 20 MB Buffers in and out intact', async () => {
    const d = deployment(fnSpec('buffers', undefined, { memoryMb: 512 }));
    await sandbox.deploy(d);
    const data = Buffer.alloc(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 1024) data.writeUInt32LE(i, i);
    const result = await sandbox.run(
      d.key,
      request({ data, outBytes: 20 * 1024 * 1024 }, { allocation: { cpu: 1, memoryMb: 512 } }),
    );
    console.log(
      `20 MB in/out: peak ${result.peakMemoryMb?.toFixed(1)} MB, ${result.durationMs.toFixed(1)} ms`,
    );
    const out = decodeValue(result.output) as { sha256: string; reversed: Buffer; fresh: Buffer };
    expect(out.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect(out.reversed.equals(Buffer.from(data).reverse())).toBe(true);
    expect(out.fresh.length).toBe(20 * 1024 * 1024);
    expect(out.fresh.every((b) => b === 7)).toBe(true);
  });

  it('queues calls beyond the concurrency cap and reports their queue wait', async () => {
    const capped = await ProcessSandbox.create({
      workerId: parseWorkerId('sbx-process-cap'),
      maxConcurrencyPerFunction: 2,
    });
    try {
      const d = deployment(fnSpec('slow'));
      await capped.deploy(d, { prewarm: 2 });
      const calls = [0, 1, 2, 3].map((i) => capped.run(d.key, request({ ms: 150 + i })));
      await poll('two queued calls', () => capped.stats().perFunction[d.key]?.queued === 2);
      expect(capped.stats()).toMatchObject({ sandboxes: 2, busy: 2 });
      const results = await Promise.all(calls);
      expect(new Set(results.map((r) => r.sandboxId)).size).toBe(2);
      expect(results.every((r) => !r.cold)).toBe(true);
      expect(results.slice(0, 2).every((r) => r.queueMs === 0)).toBe(true);
      expect(results.slice(2).every((r) => r.queueMs > 0)).toBe(true);
    } finally {
      await capped.close();
    }
  });

  it('prewarms so the first call is warm', async () => {
    const d = deployment(fnSpec('ok'), 'prewarm');
    await sandbox.deploy(d, { prewarm: 2 });
    expect(sandbox.stats().perFunction[d.key]).toEqual({ warm: 2, busy: 0, queued: 0 });
    expect((await sandbox.run(d.key, request(1))).cold).toBe(false);
  });

  it('evicts children idle for idleMs', async () => {
    const quick = await ProcessSandbox.create({
      workerId: parseWorkerId('sbx-process-idle'),
      idleMs: 100,
    });
    try {
      const d = deployment(fnSpec('ok'));
      await quick.deploy(d);
      const result = await quick.run(d.key, request(1));
      const { pid } = decodeValue(result.output) as { pid: number };
      await poll('idle eviction', () => quick.stats().sandboxes === 0 && !processAlive(pid));
      expect(quick.stats().perFunction[d.key]).toEqual({ warm: 0, busy: 0, queued: 0 });
      expect((await quick.run(d.key, request(2))).cold).toBe(true);
    } finally {
      await quick.close();
    }
  });

  it('stops a function’s children on undeploy and forgets the key', async () => {
    const d = deployment(fnSpec('ok'), 'undeploy');
    await sandbox.deploy(d);
    const { pid } = decodeValue((await sandbox.run(d.key, request(1))).output) as { pid: number };
    await sandbox.undeploy(d.key);
    expect(processAlive(pid)).toBe(false);
    expect(sandbox.stats().perFunction[d.key]).toBeUndefined();
    await expect(sandbox.run(d.key, request(1))).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('rejects functions it cannot run, saying what would be valid', async () => {
    const image = sandbox.deploy(
      deployment(fnSpec('img', { kind: 'image', image: 'acme/thumb:1' })),
    );
    await expect(image).rejects.toMatchObject({ code: 'WORKFLOW_INVALID' });
    await expect(image).rejects.toThrow(/needs the docker sandbox/);
    const missing = sandbox.deploy(
      deployment(fnSpec('missing', { kind: 'handler', path: 'nope/missing.js' })),
    );
    await expect(missing).rejects.toMatchObject({ code: 'WORKFLOW_INVALID' });
    await expect(missing).rejects.toThrow(/not found: .*nope\/missing\.js/);
  });

  it('rejects a run request with an invalid timeout or allocation, naming each field', async () => {
    const d = deployment(fnSpec('ok'), 'invalid');
    await sandbox.deploy(d);
    const bad = sandbox.run(
      d.key,
      request(1, { timeoutMs: 0, allocation: { cpu: -1, memoryMb: 8 } }),
    );
    await expect(bad).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(bad).rejects.toThrow(
      /timeoutMs must be a positive .*allocation\.cpu must be a positive .*allocation\.memoryMb must be ≥ 32, got 8/,
    );
  });

  it('rejects a run for a key that is not deployed', async () => {
    await expect(sandbox.run('ghost@1/fn', request(1))).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('without cgroups reports runtime CPU time and no peak memory', async () => {
    const plain = await ProcessSandbox.create({
      workerId: parseWorkerId('sbx-process-plain'),
      cgroups: 'off',
    });
    try {
      expect(plain.cgroupMode).toEqual({
        kind: 'none',
        reason: 'disabled by configuration (cgroups: off)',
      });
      const d = deployment(fnSpec('spin'));
      await plain.deploy(d);
      const result = await plain.run(d.key, request({ ms: 20 }));
      expect(result.peakMemoryMb).toBeNull();
      expect(result.cpuTimeMs).toBeGreaterThan(0);
    } finally {
      await plain.close();
    }
  });
});
