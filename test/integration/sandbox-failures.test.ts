/**
 * Process sandbox, failure paths, with real child processes:
 * - a handler that throws (synchronously, asynchronously, from a stray timer, or a non-Error)
 *   gives FUNCTION_FAILED with message and stack, and the same child serves the next call;
 * - a run past timeoutMs gives FUNCTION_TIMEOUT naming the function and the limit, the child is
 *   killed, and the next call works on a new child;
 * - process.exit in a handler gives FUNCTION_CRASHED, and the next call works;
 * - a memory hog over memoryMb 128 gives FUNCTION_OOM (needs cgroups: skipped with a reason
 *   otherwise); a V8 heap exhaustion gives FUNCTION_OOM with or without cgroups;
 * - an aborted signal cancels a running call (its child is killed) and a queued call;
 * - a module without a handler export, or inline code that does not parse, fails to load with
 *   a non-retryable FUNCTION_FAILED saying what is expected.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import { parseWorkerId } from '../../shared/ids.js';
import { ProcessSandbox } from '../../worker/sandbox/process.js';
import type { RunResult } from '../../worker/sandbox/types.js';
import { deployment, fnSpec, poll, processAlive, request } from './sandbox-helpers.js';

let sandbox: ProcessSandbox;

beforeAll(async () => {
  sandbox = await ProcessSandbox.create({ workerId: parseWorkerId('sbx-failures-test') });
});

afterAll(async () => {
  await sandbox?.close();
});

async function failure(run: Promise<RunResult>): Promise<AppError> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the run to fail');
}

describe('process sandbox failures', () => {
  it('reports a throwing handler with message and stack, then reuses the child', async () => {
    const d = deployment(fnSpec('throws'));
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request({}));
    const cases = [
      { mode: 'sync', message: /sync failure: a/, name: 'TypeError' },
      { mode: 'async', message: /async failure: b/, name: 'Error' },
      { mode: 'stray', message: /stray failure: c/, name: 'RangeError' },
    ];
    for (const [i, c] of cases.entries()) {
      const err = await failure(sandbox.run(d.key, request({ mode: c.mode, message: 'abc'[i] })));
      expect(err.code).toBe('FUNCTION_FAILED');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(c.message);
      expect(err.message).toContain(d.key);
      const details = err.details as { message: string; stack: string; name: string };
      expect(details.name).toBe(c.name);
      expect(details.stack).toMatch(/throws\.js:\d+/);
    }
    const nonError = await failure(sandbox.run(d.key, request({ mode: 'value' })));
    expect(nonError.message).toMatch(/non-Error thrown: \{ code: 42 \}/);
    const after = await sandbox.run(d.key, request({}));
    expect(after).toMatchObject({ cold: false, sandboxId: first.sandboxId });
  });

  it('kills a run past timeoutMs with FUNCTION_TIMEOUT, and the next call works', async () => {
    const d = deployment(fnSpec('slow'));
    await sandbox.deploy(d);
    const warm = await sandbox.run(d.key, request({ ms: 1 }));
    const { pid } = decodeValue(warm.output) as { pid: number };
    const err = await failure(sandbox.run(d.key, request({ ms: 60_000 }, { timeoutMs: 200 })));
    expect(err.code).toBe('FUNCTION_TIMEOUT');
    expect(err.message).toMatch(/wf@1\/slow timed out after 200 ms/);
    await poll('the timed-out child to die', () => !processAlive(pid));
    const next = await sandbox.run(d.key, request({ ms: 1 }));
    expect(next.cold).toBe(true);
    expect(next.sandboxId).not.toBe(warm.sandboxId);
  });

  it('reports process.exit in a handler as FUNCTION_CRASHED, and the next call works', async () => {
    const d = deployment(fnSpec('exits'));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request({ code: 7 })));
    expect(err.code).toBe('FUNCTION_CRASHED');
    expect(err.message).toMatch(/exited mid-run \(exit code 7\)/);
    expect(err.details).toMatchObject({ exitCode: 7 });
    const again = await failure(sandbox.run(d.key, request({ code: 9 })));
    expect(again.details).toMatchObject({ exitCode: 9 });
  });

  it('reports a memory hog over its 128 MB cgroup limit as FUNCTION_OOM', async (ctx) => {
    if (sandbox.cgroupMode.kind === 'none') {
      ctx.skip(`no cgroups on this host: ${sandbox.cgroupMode.reason}`);
    }
    const d = deployment(fnSpec('hog', undefined, { memoryMb: 128 }));
    await sandbox.deploy(d);
    const alloc = { cpu: 1, memoryMb: 128 };
    const ok = await sandbox.run(d.key, request({ mb: 16, kind: 'buffer' }, { allocation: alloc }));
    expect(ok.peakMemoryMb).toBeGreaterThanOrEqual(16);
    const err = await failure(
      sandbox.run(d.key, request({ mb: 1024, kind: 'buffer' }, { allocation: alloc })),
    );
    expect(err.code).toBe('FUNCTION_OOM');
    expect(err.message).toMatch(/ran out of memory \(limit 128 MB\)/);
    const next = await sandbox.run(
      d.key,
      request({ mb: 8, kind: 'buffer' }, { allocation: alloc }),
    );
    expect(next.cold).toBe(true);
  });

  it('reports V8 heap exhaustion as FUNCTION_OOM, with or without cgroups', async () => {
    const plain = await ProcessSandbox.create({
      workerId: parseWorkerId('sbx-failures-heap'),
      cgroups: 'off',
    });
    try {
      const d = deployment(fnSpec('hog', undefined, { memoryMb: 128 }));
      await plain.deploy(d);
      const err = await failure(
        plain.run(
          d.key,
          request({ mb: 1024, kind: 'heap' }, { allocation: { cpu: 1, memoryMb: 128 } }),
        ),
      );
      expect(err.code).toBe('FUNCTION_OOM');
    } finally {
      await plain.close();
    }
  });

  it('cancels a running call when its signal aborts, killing the child', async () => {
    const d = deployment(fnSpec('slow'), 'cancel');
    await sandbox.deploy(d);
    const { pid } = decodeValue((await sandbox.run(d.key, request({ ms: 1 }))).output) as {
      pid: number;
    };
    const controller = new AbortController();
    const running = sandbox.run(d.key, request({ ms: 60_000 }, { signal: controller.signal }));
    await poll('the call to be running', () => sandbox.stats().perFunction[d.key]?.busy === 1);
    controller.abort();
    expect((await failure(running)).code).toBe('CANCELLED');
    await poll('the cancelled child to die', () => !processAlive(pid));
  });

  it('cancels a queued call when its signal aborts', async () => {
    const capped = await ProcessSandbox.create({
      workerId: parseWorkerId('sbx-failures-queue'),
      maxConcurrencyPerFunction: 1,
    });
    try {
      const d = deployment(fnSpec('slow'));
      await capped.deploy(d);
      const holder = capped.run(d.key, request({ ms: 300 }));
      await poll('the first call to hold the slot', () => capped.stats().busy === 1);
      const controller = new AbortController();
      const queued = capped.run(d.key, request({ ms: 1 }, { signal: controller.signal }));
      await poll('the second call to queue', () => capped.stats().perFunction[d.key]?.queued === 1);
      controller.abort();
      expect((await failure(queued)).code).toBe('CANCELLED');
      expect(capped.stats().perFunction[d.key]?.queued).toBe(0);
      await expect(holder).resolves.toMatchObject({ cold: true });
    } finally {
      await capped.close();
    }
  });

  it('fails to load a module without a handler export, saying what it must export', async () => {
    const d = deployment(fnSpec('noexport'));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request(1)));
    expect(err.code).toBe('FUNCTION_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/must export a default function .*its exports: notAHandler/);
    expect(err.details).toMatchObject({ phase: 'init' });
  });

  it('fails to load inline code that does not parse, with the syntax error', async () => {
    const d = deployment(fnSpec('broken', { kind: 'code', code: 'export default async (x) => {' }));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request(1)));
    expect(err.code).toBe('FUNCTION_FAILED');
    expect(err.details).toMatchObject({ phase: 'init', name: 'SyntaxError' });
  });
});
