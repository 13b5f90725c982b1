/**
 * The sandbox tier contract: what every tier (process, thread, trusted, docker) must do the same
 * with the same handler — outputs, `ctx`, errors and their retryability, load failures,
 * timeouts (and the run after one), cancellation, binary data, the timeline's fields.
 * Each tier's test file calls `sandboxTierContract` with a way to open it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import { parseInvocationId } from '../../shared/ids.js';
import type { RunResult, Sandbox } from '../../worker/sandbox/types.js';
import { deployment, fnSpec, request } from '../integration/sandbox-helpers.js';

export interface TierUnderTest {
  name: string;
  open: () => Promise<Sandbox>;
  /** Whether the tier measures a run's CPU time (cpuTimeMs a number, else null). */
  measuresCpu: boolean;
  /** After the tier is closed: removes what a failed test may have left (containers). */
  cleanup?: () => Promise<void>;
}

export async function failure(run: Promise<RunResult>): Promise<AppError> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the run to fail');
}

export function sandboxTierContract(tier: TierUnderTest): void {
  describe(`sandbox tier contract: ${tier.name}`, () => {
    let sandbox: Sandbox;
    const wf = `contract-${tier.name}`;

    beforeAll(async () => {
      sandbox = await tier.open();
    });
    afterAll(async () => {
      await sandbox?.close();
      await tier.cleanup?.();
    });

    it('runs a handler with its input and ctx, cold then warm, with a timeline', async () => {
      const d = deployment(fnSpec('ok'), wf);
      await sandbox.deploy(d);
      const before = Date.now();
      const req = request(
        { hello: 'world', n: [1, 2] },
        {
          invocationId: parseInvocationId('inv_contract000001'),
          node: 'first',
          attempt: 2,
          timeoutMs: 5000,
          workflowInput: encodeValue({ whole: true }),
        },
      );
      const cold = await sandbox.run(d.key, req);
      const out = decodeValue(cold.output) as {
        echo: unknown;
        ctx: Record<string, unknown>;
      };
      expect(out.echo).toEqual({ hello: 'world', n: [1, 2] });
      expect(out.ctx).toMatchObject({
        invocationId: 'inv_contract000001',
        node: 'first',
        attempt: 2,
        workflowInput: { whole: true },
      });
      const deadline = out.ctx['deadlineMs'] as number;
      expect(deadline).toBeGreaterThanOrEqual(before + 5000);
      expect(deadline).toBeLessThanOrEqual(Date.now() + 5000);
      expect(cold.cold).toBe(true);
      expect(cold.initMs).toBeGreaterThan(0);
      expect(cold.durationMs).toBeGreaterThan(0);
      expect(cold.queueMs).toBe(0);
      const warm = await sandbox.run(d.key, request({ again: 1 }));
      expect(warm).toMatchObject({ cold: false, initMs: 0, sandboxId: cold.sandboxId });
      expect(
        (decodeValue(warm.output) as { ctx: { workflowInput: unknown } }).ctx.workflowInput,
      ).toBeNull();
      if (tier.measuresCpu) expect(typeof warm.cpuTimeMs).toBe('number');
      else expect(warm.cpuTimeMs).toBeNull();
    });

    it('gives the same output for the same binary input', async () => {
      const d = deployment(fnSpec('buffers'), wf);
      await sandbox.deploy(d);
      const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => i % 251));
      const r = await sandbox.run(d.key, request({ data, outBytes: 1024 * 1024 }));
      const out = decodeValue(r.output) as { sha256: string; reversed: Buffer; fresh: Buffer };
      expect(out.reversed.length).toBe(data.length);
      expect(out.reversed[0]).toBe(data[data.length - 1]);
      expect(out.fresh.length).toBe(1024 * 1024);
      expect(out.fresh.every((b) => b === 7)).toBe(true);
      // The caller's buffer is intact (a retry sends it again).
      expect(data[1]).toBe(1);
    });

    it('reports a throwing handler as FUNCTION_FAILED with its stack, and keeps serving', async () => {
      const d = deployment(fnSpec('throws'), wf);
      await sandbox.deploy(d);
      const first = await sandbox.run(d.key, request({}));
      const err = await failure(sandbox.run(d.key, request({ mode: 'async', message: 'x' })));
      expect(err.code).toBe('FUNCTION_FAILED');
      expect(err.retryable).toBe(true);
      expect(err.message).toContain(d.key);
      expect(err.message).toMatch(/async failure: x/);
      expect((err.details as { stack: string }).stack).toMatch(/throws\.js:\d+/);
      const nonError = await failure(sandbox.run(d.key, request({ mode: 'value' })));
      expect(nonError.message).toMatch(/non-Error thrown: \{ code: 42 \}/);
      const after = await sandbox.run(d.key, request({}));
      expect(after.sandboxId).toBe(first.sandboxId);
    });

    it('fails a module that throws while loading, or exports no handler, without retries', async () => {
      for (const [name, message] of [
        ['toplevel', /top-level failure while loading/],
        ['noexport', /must export a default function/],
      ] as const) {
        const d = deployment(fnSpec(name), wf);
        await sandbox.deploy(d);
        const err = await failure(sandbox.run(d.key, request({})));
        expect(err.code).toBe('FUNCTION_FAILED');
        expect(err.retryable).toBe(false);
        expect(err.message).toMatch(message);
        expect(err.details).toMatchObject({ phase: 'init' });
      }
    });

    it('times a run out with FUNCTION_TIMEOUT, and the next run works', async () => {
      const d = deployment(fnSpec('slow'), wf);
      await sandbox.deploy(d);
      const warm = await sandbox.run(d.key, request({ ms: 1 }));
      const err = await failure(sandbox.run(d.key, request({ ms: 30_000 }, { timeoutMs: 150 })));
      expect(err.code).toBe('FUNCTION_TIMEOUT');
      expect(err.retryable).toBe(true);
      expect(err.message).toMatch(new RegExp(`${d.key} timed out after 150 ms`));
      const next = await sandbox.run(d.key, request({ ms: 1 }));
      expect(next.sandboxId).not.toBe(warm.sandboxId);
      expect(decodeValue(next.output)).toMatchObject({ sleptMs: 1 });
    });

    it('cancels a running call when its signal aborts', async () => {
      const d = deployment(fnSpec('slow'), `${wf}-cancel`);
      await sandbox.deploy(d);
      const controller = new AbortController();
      const running = sandbox.run(d.key, request({ ms: 30_000 }, { signal: controller.signal }));
      setTimeout(() => controller.abort(new Error('caller gave up')), 50);
      const err = await failure(running);
      expect(err.code).toBe('CANCELLED');
      const next = await sandbox.run(d.key, request({ ms: 1 }));
      expect(decodeValue(next.output)).toMatchObject({ sleptMs: 1 });
    });

    it('runs builtin and inline-code functions', async () => {
      const builtin = deployment(
        fnSpec('synthetic', { kind: 'builtin', builtin: { sleepMs: 0, outputBytes: 5000 } }),
        wf,
      );
      const code = deployment(
        fnSpec('inline', {
          kind: 'code',
          code: 'export default async (x, ctx) => ({ twice: x.n * 2, node: ctx.node })',
        }),
        wf,
      );
      await sandbox.deploy(builtin);
      await sandbox.deploy(code);
      const b = await sandbox.run(builtin.key, request({}));
      expect((decodeValue(b.output) as Buffer).length).toBe(5000);
      const c = await sandbox.run(code.key, request({ n: 21 }, { node: 'calc' }));
      expect(decodeValue(c.output)).toEqual({ twice: 42, node: 'calc' });
    });
  });
}
