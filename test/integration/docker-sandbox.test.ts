/**
 * Docker sandbox with a real engine and the runtime image:
 * - handler (from the read-only deployment folder), inline code and builtin functions run, and a
 *   second call reuses the same container;
 * - containers carry names and labels naming worker, workflow, version and function;
 * - isolation: no network interface but loopback (NetworkMode none), read-only root with a
 *   writable /tmp, non-root user, clean environment, pids/CPU/memory limits from the allocation;
 *   `network: host` gets the host's network;
 * - the warm pool: concurrency cap with a FIFO queue, idle eviction, prewarm on deploy;
 * - `image:` functions run their own image; a missing image (theirs or the runtime's) and an
 *   unreachable engine fail with errors saying what to do;
 * - leftovers of an earlier instance with the same worker id are removed on create; undeploy
 *   and close remove every container, so none is left after the suite.
 */
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import { parseWorkerId, type WorkerId } from '../../shared/ids.js';
import { DockerSandbox } from '../../worker/sandbox/docker.js';
import { LABELS } from '../../worker/sandbox/docker-spec.js';
import { LISTENING_LINE } from '../../worker/sandbox/runtime/protocol.js';
import {
  dockerCli,
  imageWithHandler,
  ownedContainers,
  removeOwned,
  requireDocker,
  RUNTIME_IMAGE,
} from '../helpers/docker.js';
import { deployment, FIXTURES, fnSpec, poll, request } from './sandbox-helpers.js';

const hasDocker = await requireDocker();
const workerIds: WorkerId[] = [];

/** A worker id unique to this run: the engine is shared with any other suite running now. */
function newWorkerId(name: string): WorkerId {
  const id = parseWorkerId(`dk-${name}-${randomBytes(3).toString('hex')}`);
  workerIds.push(id);
  return id;
}

/** Reports what the container lets a function see and do. */
const PROBE = `
import { networkInterfaces } from 'node:os';
import { readFileSync, readlinkSync, writeFileSync } from 'node:fs';
const attempt = (path) => { try { writeFileSync(path, 'x'); return 'ok'; } catch (e) { return e.code; } };
const read = (...paths) => { for (const p of paths) { try { return readFileSync(p, 'utf8').trim(); } catch {} } return null; };
export default async () => ({
  uid: process.getuid(),
  gid: process.getgid(),
  interfaces: Object.keys(networkInterfaces()).sort(),
  netns: readlinkSync('/proc/self/ns/net'),
  envKeys: Object.keys(process.env).sort(),
  writeRoot: attempt('/probe'),
  writeTmp: attempt('/tmp/probe'),
  writeFn: attempt('/fn/probe'),
  memoryLimit: read('/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max'),
  cpuQuota: read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu.max'),
  pidsMax: read('/sys/fs/cgroup/pids/pids.max', '/sys/fs/cgroup/pids.max'),
});`;

function inspectField(containerId: string, format: string): string {
  return dockerCli(['inspect', '--format', format, containerId]);
}

async function failure(run: Promise<unknown>): Promise<AppError> {
  try {
    await run;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected a failure');
}

describe.skipIf(!hasDocker)('docker sandbox', () => {
  let sandbox: DockerSandbox;
  let workerId: WorkerId;

  beforeAll(async () => {
    workerId = newWorkerId('main');
    sandbox = await DockerSandbox.create({ workerId });
  });

  afterAll(async () => {
    await sandbox?.close();
    for (const id of workerIds) {
      const left = await ownedContainers(id);
      await removeOwned(id);
      expect(left.map((c) => c.name)).toEqual([]);
    }
  });

  it('runs a handler from the deployment folder and reuses its container', async () => {
    const d = deployment(fnSpec('ok'));
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request({ a: 1 }, { node: 'n1', attempt: 2 }));
    expect(first.cold).toBe(true);
    const out = decodeValue(first.output) as {
      echo: unknown;
      ctx: { node: string; attempt: number };
      pid: number;
    };
    expect(out.echo).toEqual({ a: 1 });
    expect(out.ctx).toMatchObject({ node: 'n1', attempt: 2 });
    expect(out.pid).toBe(1); // the runtime server is the container's first process
    const second = await sandbox.run(d.key, request({ a: 2 }));
    expect(second).toMatchObject({ cold: false, sandboxId: first.sandboxId, initMs: 0 });
    expect(second.peakMemoryMb).toBeGreaterThan(0);
  });

  it('runs inline code and builtin functions', async () => {
    const code = deployment(
      fnSpec('double', { kind: 'code', code: 'export default async (x) => x * 2' }),
    );
    await sandbox.deploy(code);
    expect(decodeValue((await sandbox.run(code.key, request(21))).output)).toBe(42);
    const builtin = deployment(
      fnSpec('synthetic', { kind: 'builtin', builtin: { sleepMs: 1, outputBytes: 3 } }),
    );
    await sandbox.deploy(builtin);
    expect(decodeValue((await sandbox.run(builtin.key, request({}))).output)).toEqual(
      Buffer.alloc(3),
    );
  });

  it('names and labels containers after the worker, workflow, version and function', async () => {
    const d = deployment(fnSpec('ok'), 'labelled', 3);
    await sandbox.deploy(d);
    const { sandboxId } = await sandbox.run(d.key, request({}));
    const [c] = (await ownedContainers(workerId)).filter((x) => x.name === sandboxId);
    expect(c?.name).toMatch(new RegExp(`^ff-${workerId}-labelled-v3-ok-`));
    expect(c?.labels).toMatchObject({
      [LABELS.worker]: workerId,
      [LABELS.workflow]: 'labelled',
      [LABELS.version]: '3',
      [LABELS.function]: 'ok',
      [LABELS.key]: 'labelled@3/ok',
      [LABELS.sandbox]: sandboxId,
    });
  });

  it('isolates a function: loopback only, read-only root, non-root, clean env, limits', async () => {
    const d = deployment(
      fnSpec('probe', { kind: 'code', code: PROBE }, { cpu: 1.5, memoryMb: 192 }),
    );
    await sandbox.deploy(d);
    const r = await sandbox.run(d.key, request({}, { allocation: { cpu: 1.5, memoryMb: 192 } }));
    const seen = decodeValue(r.output) as { netns: string };
    expect(seen).toEqual({
      uid: 10001,
      gid: 10001,
      interfaces: ['lo'],
      netns: expect.stringMatching(/^net:\[\d+\]$/) as unknown,
      envKeys: ['HOME', 'HOSTNAME', 'PATH'],
      writeRoot: 'EROFS',
      writeTmp: 'ok',
      writeFn: 'EROFS',
      memoryLimit: String(192 * 1024 * 1024),
      cpuQuota: expect.stringMatching(/^150000( 100000)?$/) as unknown,
      pidsMax: '64',
    });
    expect(seen.netns).not.toBe(readlinkSync('/proc/self/ns/net'));
    const containerId = sandbox.containers().get(r.sandboxId)!;
    expect(
      inspectField(
        containerId,
        '{{.HostConfig.NetworkMode}} {{.HostConfig.ReadonlyRootfs}} {{.Config.User}}',
      ),
    ).toBe('none true 10001:10001');
  });

  it('gives the host network only to a function that asks for it', async () => {
    const d = deployment(fnSpec('netprobe', { kind: 'code', code: PROBE }, { network: 'host' }));
    await sandbox.deploy(d);
    const r = await sandbox.run(d.key, request({}));
    expect((decodeValue(r.output) as { netns: string }).netns).toBe(
      readlinkSync('/proc/self/ns/net'),
    );
    expect(
      inspectField(sandbox.containers().get(r.sandboxId)!, '{{.HostConfig.NetworkMode}}'),
    ).toBe('host');
  });

  it('caps containers per function and queues the rest in order', async () => {
    const id = newWorkerId('cap');
    const capped = await DockerSandbox.create({ workerId: id, maxConcurrencyPerFunction: 2 });
    try {
      const d = deployment(fnSpec('slow'));
      await capped.deploy(d);
      const runs = [0, 1, 2, 3].map(() => capped.run(d.key, request({ ms: 300 })));
      await poll('two runs queued', () => capped.stats().perFunction[d.key]?.queued === 2);
      const results = await Promise.all(runs);
      expect(new Set(results.map((r) => r.sandboxId)).size).toBe(2);
      expect(results.filter((r) => r.queueMs > 0)).toHaveLength(2);
      expect((await ownedContainers(id)).length).toBe(2);
    } finally {
      await capped.close();
    }
  });

  it('removes containers idle for idleMs', async () => {
    const id = newWorkerId('idle');
    const idle = await DockerSandbox.create({ workerId: id, idleMs: 200 });
    try {
      const d = deployment(fnSpec('ok'));
      await idle.deploy(d);
      await idle.run(d.key, request({}));
      await poll(
        'the idle container to be removed',
        async () => (await ownedContainers(id)).length === 0,
      );
      expect(idle.stats().sandboxes).toBe(0);
    } finally {
      await idle.close();
    }
  });

  it('prewarms containers on deploy so the first run is warm', async () => {
    const d = deployment(fnSpec('ok'), 'prewarmed');
    await sandbox.deploy(d, { prewarm: 2 });
    expect(sandbox.stats().perFunction[d.key]).toMatchObject({ warm: 2, busy: 0 });
    const r = await sandbox.run(d.key, request({}));
    expect(r.cold).toBe(false);
  });

  it('prewarms the configured number of containers when deploy does not say', async () => {
    const id = newWorkerId('prewarm');
    const configured = await DockerSandbox.create({ workerId: id, prewarm: 1 });
    try {
      const d = deployment(fnSpec('ok'));
      await configured.deploy(d);
      expect(await ownedContainers(id)).toHaveLength(1);
      expect((await configured.run(d.key, request({}))).cold).toBe(false);
    } finally {
      await configured.close();
    }
  });

  it('runs a runtime server that stops cleanly on SIGTERM as the container’s first process', async () => {
    // Without a SIGTERM handler node as PID 1 ignores the signal, and `docker stop` would
    // SIGKILL it after the grace period (exit code 137). The signal is sent once the server
    // listens: before its handler is installed, PID 1 drops it like any init process.
    const id = dockerCli([
      'run',
      '-d',
      '--network',
      'none',
      '--read-only',
      '--tmpfs',
      '/tmp',
      '--label',
      `${LABELS.worker}=${workerId}`,
      RUNTIME_IMAGE,
      '--socket',
      '/tmp/runtime.sock',
    ]);
    await poll('the runtime server to listen', () =>
      dockerCli(['logs', id]).includes(LISTENING_LINE),
    );
    dockerCli(['stop', '--time', '60', id]);
    expect(dockerCli(['inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', id])).toBe(
      '0 false',
    );
    dockerCli(['rm', id]);
  });

  it('runs an image: function in its own image', async () => {
    const tag = `faasflow-test-image:${randomBytes(3).toString('hex')}`;
    imageWithHandler(join(FIXTURES, 'ok.js'), tag);
    try {
      const d = deployment(fnSpec('own', { kind: 'image', image: tag }));
      await sandbox.deploy(d);
      const r = await sandbox.run(d.key, request({ from: 'image' }));
      expect((decodeValue(r.output) as { echo: unknown }).echo).toEqual({ from: 'image' });
      await sandbox.undeploy(d.key);
    } finally {
      dockerCli(['rmi', '-f', tag]);
    }
  });

  it('fails to load an image: function whose image holds no /fn/index.js, non-retryable', async () => {
    const d = deployment(fnSpec('bare', { kind: 'image', image: RUNTIME_IMAGE }));
    await sandbox.deploy(d);
    const err = await failure(sandbox.run(d.key, request({})));
    expect(err).toMatchObject({ code: 'FUNCTION_FAILED', retryable: false });
    expect(err.message).toMatch(/loading function wf@1\/bare failed: .*\/fn\/index\.js/);
  });

  it('rejects an image: function whose image is not on the engine, saying images are not pulled', async () => {
    const d = deployment(fnSpec('ghost', { kind: 'image', image: 'faasflow-no-such-image:1' }));
    const err = await failure(sandbox.deploy(d));
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(
      /image faasflow-no-such-image:1 of function wf@1\/ghost is not on the Docker engine/,
    );
    expect(err.message).toMatch(/never pulled/);
  });

  it('refuses to start without the runtime image, naming the build command', async () => {
    const err = await failure(
      DockerSandbox.create({
        workerId: newWorkerId('noimage'),
        runtimeImage: 'faasflow-runtime:missing',
      }),
    );
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    expect(err.message).toMatch(
      /runtime image faasflow-runtime:missing is not on the Docker engine/,
    );
    expect(err.message).toContain('bash deploy/runtime-image/build.sh');
  });

  it('reports an unreachable engine, naming its socket', async () => {
    const socketPath = '/tmp/faasflow-no-docker-here.sock';
    const err = await failure(
      DockerSandbox.create({ workerId: newWorkerId('noengine'), socketPath }),
    );
    expect(err.code).toBe('SANDBOX_UNAVAILABLE');
    expect(err.message).toContain(`Docker engine unreachable at ${socketPath}`);
    expect(await DockerSandbox.probe(socketPath, 500)).toMatchObject({ ok: false });
  });

  it('removes the containers an earlier instance with the same worker id left behind', async () => {
    const id = newWorkerId('sweep');
    const crashed = await DockerSandbox.create({ workerId: id });
    const d = deployment(fnSpec('ok'));
    await crashed.deploy(d, { prewarm: 1 });
    expect(await ownedContainers(id)).toHaveLength(1);
    const next = await DockerSandbox.create({ workerId: id });
    expect(await ownedContainers(id)).toEqual([]);
    await poll('the first instance to notice', () => crashed.stats().sandboxes === 0);
    await Promise.all([crashed.close(), next.close()]);
  });

  it('removes a function’s containers on undeploy and every container on close', async () => {
    const id = newWorkerId('close');
    const closing = await DockerSandbox.create({ workerId: id });
    const a = deployment(fnSpec('ok'), 'a');
    const b = deployment(fnSpec('ok'), 'b');
    await closing.deploy(a, { prewarm: 2 });
    await closing.deploy(b, { prewarm: 1 });
    expect(await ownedContainers(id)).toHaveLength(3);
    await closing.undeploy(a.key);
    expect((await ownedContainers(id)).map((c) => c.labels[LABELS.workflow])).toEqual(['b']);
    // A run racing close either finishes or fails as unavailable; it never hangs.
    const running = closing.run(b.key, request({})).then(
      () => null,
      (err: unknown) => err,
    );
    await closing.close();
    const raced = await running;
    if (raced !== null) expect(raced).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    expect(await ownedContainers(id)).toEqual([]);
    await expect(closing.close()).resolves.toBeUndefined();
  });
});
