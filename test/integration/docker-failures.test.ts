/**
 * Docker sandbox, failure paths, with real containers:
 * - a throwing handler gives FUNCTION_FAILED with its message and a stack naming the handler
 *   file as mounted in the container, and the same container serves the next call;
 * - a run past timeoutMs gives FUNCTION_TIMEOUT, its container is killed and removed, and the
 *   next call gets a new one;
 * - process.exit in a handler (a crash mid-run) gives FUNCTION_CRASHED with the exit code;
 * - a memory hog over its 64 MB container limit is OOM-killed: FUNCTION_OOM (retryable, so the
 *   engine's retry policy applies), and a V8 heap exhaustion is FUNCTION_OOM too;
 * - an aborted signal cancels a running call and removes its container;
 * - a handler module without a handler export fails to load, non-retryable;
 * - a container that exits before listening fails its start with its output;
 * - a container killed from outside while idle is replaced on the next call without an error.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import { parseWorkerId } from '../../shared/ids.js';
import { DockerSandbox } from '../../worker/sandbox/docker.js';
import { LABELS } from '../../worker/sandbox/docker-spec.js';
import {
  dockerCli,
  ownedContainers,
  removeOwned,
  requireDocker,
  RUNTIME_IMAGE,
} from '../helpers/docker.js';
import { deployment, fnSpec, poll, request } from './sandbox-helpers.js';

const hasDocker = await requireDocker();
const workerId = parseWorkerId(`dk-failures-${randomBytes(3).toString('hex')}`);

async function failure(run: Promise<unknown>): Promise<AppError> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the run to fail');
}

describe.skipIf(!hasDocker)('docker sandbox failures', () => {
  let sandbox: DockerSandbox;

  beforeAll(async () => {
    sandbox = await DockerSandbox.create({ workerId });
  });

  afterAll(async () => {
    await sandbox?.close();
    const left = await ownedContainers(workerId);
    await removeOwned(workerId);
    expect(left.map((c) => c.name)).toEqual([]);
  });

  it('reports a throwing handler with message and stack, then reuses the container', async () => {
    const d = deployment(fnSpec('throws'));
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request({}));
    const err = await failure(sandbox.run(d.key, request({ mode: 'sync', message: 'boom' })));
    expect(err.code).toBe('FUNCTION_FAILED');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('function wf@1/throws threw: sync failure: boom');
    expect(err.details).toMatchObject({
      name: 'TypeError',
      stack: expect.stringMatching(/\/fn\/throws\.js:\d+/),
    });
    const stray = await failure(sandbox.run(d.key, request({ mode: 'stray', message: 'late' })));
    expect(stray.message).toMatch(/stray failure: late/);
    const after = await sandbox.run(d.key, request({}));
    expect(after).toMatchObject({ cold: false, sandboxId: first.sandboxId });
  });

  it('kills and removes a container past timeoutMs with FUNCTION_TIMEOUT; the next call works', async () => {
    const d = deployment(fnSpec('slow'));
    await sandbox.deploy(d);
    const warm = await sandbox.run(d.key, request({ ms: 1 }));
    const containerId = sandbox.containers().get(warm.sandboxId)!;
    const err = await failure(sandbox.run(d.key, request({ ms: 60_000 }, { timeoutMs: 300 })));
    expect(err.code).toBe('FUNCTION_TIMEOUT');
    expect(err.message).toBe('function wf@1/slow timed out after 300 ms (its timeoutMs limit)');
    await poll('the timed-out container to be removed', async () =>
      (await ownedContainers(workerId)).every((c) => c.id !== containerId),
    );
    const next = await sandbox.run(d.key, request({ ms: 1 }));
    expect(next.cold).toBe(true);
    expect(next.sandboxId).not.toBe(warm.sandboxId);
  });

  it('reports a container that exits mid-run as FUNCTION_CRASHED with its exit code', async () => {
    const d = deployment(fnSpec('exits'));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request({ code: 7 })));
    expect(err.code).toBe('FUNCTION_CRASHED');
    expect(err.message).toMatch(/^function wf@1\/exits exited mid-run \(exit code 7/);
    expect(err.details).toMatchObject({ exitCode: 7 });
    const again = await failure(sandbox.run(d.key, request({ code: 9 })));
    expect(again.details).toMatchObject({ exitCode: 9 });
    await poll('crashed containers to be removed', async () =>
      (await ownedContainers(workerId)).every((c) => c.labels[LABELS.function] !== 'exits'),
    );
  });

  it('reports a container OOM-killed at its 64 MB limit as FUNCTION_OOM', async () => {
    const d = deployment(fnSpec('hog', undefined, { memoryMb: 64 }));
    await sandbox.deploy(d);
    const allocation = { cpu: 1, memoryMb: 64 };
    const ok = await sandbox.run(d.key, request({ mb: 8, kind: 'buffer' }, { allocation }));
    expect(ok.peakMemoryMb).toBeGreaterThanOrEqual(8);
    const containerId = sandbox.containers().get(ok.sandboxId)!;
    const err = await failure(
      sandbox.run(d.key, request({ mb: 512, kind: 'buffer' }, { allocation })),
    );
    expect(err.code).toBe('FUNCTION_OOM');
    expect(err.retryable).toBe(true);
    expect(err.message).toBe('function wf@1/hog ran out of memory (limit 64 MB)');
    await poll('the OOM-killed container to be removed', async () =>
      (await ownedContainers(workerId)).every((c) => c.id !== containerId),
    );
    const next = await sandbox.run(d.key, request({ mb: 8, kind: 'buffer' }, { allocation }));
    expect(next.cold).toBe(true);
  });

  it('reports V8 heap exhaustion, below the container limit, as FUNCTION_OOM', async () => {
    // node sizes its heap to half of a 1 GB container: the heap runs out before the cgroup does.
    const allocation = { cpu: 1, memoryMb: 1024 };
    const d = deployment(fnSpec('hog', undefined, { memoryMb: 1024 }), 'heap');
    await sandbox.deploy(d);
    const err = await failure(
      sandbox.run(d.key, request({ mb: 2048, kind: 'heap' }, { allocation })),
    );
    expect(err.code).toBe('FUNCTION_OOM');
    expect(err.message).toBe('function heap@1/hog ran out of memory (limit 1024 MB)');
    expect((err.details as { output: string }).output).toMatch(
      /heap out of memory|Reached heap limit/,
    );
  });

  it('cancels a running call when its signal aborts, removing the container', async () => {
    const d = deployment(fnSpec('slow'), 'cancel');
    await sandbox.deploy(d);
    const warm = await sandbox.run(d.key, request({ ms: 1 }));
    const containerId = sandbox.containers().get(warm.sandboxId)!;
    const controller = new AbortController();
    const running = sandbox.run(d.key, request({ ms: 60_000 }, { signal: controller.signal }));
    await poll('the call to be running', () => sandbox.stats().perFunction[d.key]?.busy === 1);
    controller.abort();
    expect((await failure(running)).code).toBe('CANCELLED');
    await poll('the cancelled container to be removed', async () =>
      (await ownedContainers(workerId)).every((c) => c.id !== containerId),
    );
  });

  it('fails to load a module without a handler export, non-retryable', async () => {
    const d = deployment(fnSpec('noexport'));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request({})));
    expect(err.code).toBe('FUNCTION_FAILED');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/must export a default function/);
  });

  it('reports a container that exits before listening, with what it printed', async () => {
    const tag = `faasflow-test-exits:${randomBytes(3).toString('hex')}`;
    const id = dockerCli(['create', RUNTIME_IMAGE]);
    try {
      dockerCli([
        'commit',
        '--change',
        'ENTRYPOINT ["/usr/local/bin/node", "-e", "console.error(\'no protocol here\'); process.exit(3)", "--"]',
        id,
        tag,
      ]);
    } finally {
      dockerCli(['rm', '-f', id]);
    }
    try {
      const d = deployment(fnSpec('broken', { kind: 'image', image: tag }));
      await sandbox.deploy(d);
      const err = await failure(sandbox.run(d.key, request({})));
      expect(err.code).toBe('SANDBOX_UNAVAILABLE');
      expect(err.message).toMatch(
        /of wf@1\/broken could not start: exited with code 3 before listening; output: no protocol here/,
      );
      await sandbox.undeploy(d.key);
    } finally {
      dockerCli(['rmi', '-f', tag]);
    }
  });

  it('replaces a container killed from outside while idle, without failing the next call', async () => {
    const d = deployment(fnSpec('ok'), 'outside');
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request({}));
    dockerCli(['kill', sandbox.containers().get(first.sandboxId)!]);
    await poll(
      'the dead container to be forgotten',
      () => !sandbox.containers().has(first.sandboxId),
    );
    const next = await sandbox.run(d.key, request({ again: true }));
    expect(next.cold).toBe(true);
    expect((decodeValue(next.output) as { echo: unknown }).echo).toEqual({ again: true });
  });
});
