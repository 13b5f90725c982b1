/**
 * Every sandbox tier through the same contract (sandbox-tier.contract.ts), with real child
 * processes, real worker threads, the trusted tier on this process's loop and (when the engine
 * and the runtime image are there) real containers; then what only the
 * isolating tiers can do:
 * - a thread whose handler calls process.exit gives FUNCTION_CRASHED, and the next run works on
 *   a new thread (the worker survives);
 * - a thread that outgrows its heap (memoryMb 128 → resourceLimits) gives FUNCTION_OOM, and the
 *   next run works;
 * - a thread's env is clean (PATH, HOME) like a process child's;
 * - the trusted tier runs in this process (its pid) and loads a module once;
 * - the router sends each function to its `isolation:` tier, and the base takes the rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { parseWorkerId } from '../../shared/ids.js';
import { silentLogger } from '../../shared/logger.js';
import { DockerSandbox } from '../../worker/sandbox/docker.js';
import { openSandbox } from '../../worker/sandbox/docker-select.js';
import { ProcessSandbox } from '../../worker/sandbox/process.js';
import { ThreadSandbox } from '../../worker/sandbox/thread.js';
import { TrustedSandbox } from '../../worker/sandbox/trusted.js';
import type { TieredSandbox } from '../../worker/sandbox/tiered.js';
import { removeOwned, requireDocker } from '../helpers/docker.js';
import { deployment, fnSpec, request } from '../integration/sandbox-helpers.js';
import { failure, sandboxTierContract } from './sandbox-tier.contract.js';

const workerId = parseWorkerId(`sbx-tiers-${process.pid}`);
const hasDocker = await requireDocker();

sandboxTierContract({
  name: 'process',
  open: () => ProcessSandbox.create({ workerId, cgroups: 'off' }),
  measuresCpu: true,
});
sandboxTierContract({
  name: 'thread',
  open: () => Promise.resolve(ThreadSandbox.create({ workerId })),
  measuresCpu: true,
});
sandboxTierContract({
  name: 'trusted',
  open: () => Promise.resolve(TrustedSandbox.create({ workerId })),
  measuresCpu: false,
});

if (hasDocker) {
  sandboxTierContract({
    name: 'docker',
    open: () => DockerSandbox.create({ workerId }),
    cleanup: async () => {
      await removeOwned(workerId);
    },
    measuresCpu: true,
  });
}

describe('thread tier: crashes and memory are contained', () => {
  let sandbox: ThreadSandbox;
  beforeAll(() => {
    sandbox = ThreadSandbox.create({ workerId });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('reports process.exit in a handler as FUNCTION_CRASHED, and the next run works', async () => {
    const exits = deployment(fnSpec('exits'));
    const ok = deployment(fnSpec('ok'));
    await sandbox.deploy(exits);
    await sandbox.deploy(ok);
    const err = await failure(sandbox.run(exits.key, request({ code: 7 })));
    expect(err.code).toBe('FUNCTION_CRASHED');
    expect(err.retryable).toBe(true);
    expect(err.message).toMatch(/exit code 7/);
    const again = await failure(sandbox.run(exits.key, request({ code: 8 })));
    expect(again.message).toMatch(/exit code 8/);
    const r = await sandbox.run(ok.key, request({ still: 'here' }));
    expect((decodeValue(r.output) as { pid: number }).pid).toBe(process.pid);
  });

  it('reports a heap over memoryMb as FUNCTION_OOM, and the next run works', async () => {
    const d = deployment(fnSpec('hog', undefined, { memoryMb: 128 }));
    await sandbox.deploy(d);
    const alloc = { allocation: { cpu: 1, memoryMb: 128 } };
    const err = await failure(sandbox.run(d.key, request({ mb: 1024, kind: 'heap' }, alloc)));
    expect(err.code).toBe('FUNCTION_OOM');
    expect(err.message).toMatch(/heap limit 128 MB/);
    const small = await sandbox.run(d.key, request({ mb: 16, kind: 'heap' }, alloc));
    expect(decodeValue(small.output)).toMatchObject({ heldMb: 16 });
    expect(small.cold).toBe(true);
  });

  it('gives a thread a clean environment', async () => {
    const d = deployment(fnSpec('ok'), 'env');
    await sandbox.deploy(d);
    const r = await sandbox.run(d.key, request({}));
    expect((decodeValue(r.output) as { envKeys: string[] }).envKeys).toEqual(['HOME', 'PATH']);
  });
});

describe('trusted tier', () => {
  it('runs on the worker loop and loads a module once for all its slots', async () => {
    const sandbox = TrustedSandbox.create({ workerId, maxConcurrencyPerFunction: 2 });
    try {
      const d = deployment(
        fnSpec('counter', {
          kind: 'code',
          code: 'let loads = 0; loads++; export default async () => { await new Promise((r) => setTimeout(r, 20)); return { loads, pid: process.pid }; };',
        }),
      );
      await sandbox.deploy(d);
      const [a, b] = await Promise.all([
        sandbox.run(d.key, request({})),
        sandbox.run(d.key, request({}, { node: 'other' })),
      ]);
      expect(a.sandboxId).not.toBe(b.sandboxId);
      for (const r of [a, b]) expect(decodeValue(r.output)).toEqual({ loads: 1, pid: process.pid });
    } finally {
      await sandbox.close();
    }
  });
});

describe('tier router', () => {
  let sandbox: TieredSandbox;
  beforeAll(async () => {
    sandbox = await openSandbox({
      runtime: 'process',
      workerId,
      logger: silentLogger,
      maxConcurrencyPerFunction: 2,
      idleMs: 60_000,
    });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('sends each function to its isolation tier, the rest to the base', async () => {
    const ok = (isolation?: 'process' | 'thread' | 'trusted') =>
      deployment(
        fnSpec(
          `ok-${isolation ?? 'base'}`,
          { kind: 'handler', path: 'ok.js' },
          {
            ...(isolation === undefined ? {} : { isolation }),
          },
        ),
        'router',
      );
    const pids: Record<string, number> = {};
    for (const d of [ok(), ok('process'), ok('thread'), ok('trusted')]) {
      await sandbox.deploy(d);
      const r = await sandbox.run(d.key, request({ x: 1 }));
      const out = decodeValue(r.output) as { echo: unknown; pid: number };
      expect(out.echo).toEqual({ x: 1 });
      pids[d.fn.name] = out.pid;
    }
    expect(pids['ok-base']).not.toBe(process.pid);
    expect(pids['ok-process']).not.toBe(process.pid);
    expect(pids['ok-thread']).toBe(process.pid);
    expect(pids['ok-trusted']).toBe(process.pid);
    expect(sandbox.kind).toBe('process');
    expect(await sandbox.opened()).toEqual({
      process: 'process',
      thread: 'thread',
      trusted: 'trusted',
    });
    const stats = sandbox.stats();
    expect(Object.keys(stats.perFunction).sort()).toEqual([
      'router@1/ok-base',
      'router@1/ok-process',
      'router@1/ok-thread',
      'router@1/ok-trusted',
    ]);
    await sandbox.undeploy('router@1/ok-thread');
    const gone = await failure(sandbox.run('router@1/ok-thread', request({})));
    expect(gone.code).toBe('NOT_FOUND');
  });
});
