/**
 * Harvesting in the Docker sandbox, with a real engine, the runtime image and the containers'
 * own cgroups (a missing engine or image fails under CI=true and skips elsewhere, as the other
 * Docker suites; without writable cgroups the cgroup checks skip with the reason):
 * - the run profiler samples a container's cgroup: a one-thread spin at a 1-core quota reports
 *   ≈ 1 core, memory held by the function shows in peakMemoryMb, and without cgroups (engine-only
 *   resizes) the peaks are null;
 * - live resize: `resizeRun` changes the CPU quota of the container running a spin while it runs
 *   (the container's cgroup, as the host sees it, and then the engine's record), and a finished
 *   request's container is left alone.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parseWorkerId, type WorkerId } from '../../shared/ids.js';
import { DockerSandbox } from '../../worker/sandbox/docker.js';
import { ownedContainers, removeOwned, requireDocker } from '../helpers/docker.js';
import { deployment, fnSpec, poll, request } from './sandbox-helpers.js';
import { invId } from '../helpers/ids.js';

const hasDocker = await requireDocker();
const workerIds: WorkerId[] = [];

function newWorkerId(name: string): WorkerId {
  const id = parseWorkerId(`dk-hv-${name}-${randomBytes(3).toString('hex')}`);
  workerIds.push(id);
  return id;
}

const SPIN = `
export default async ({ ms }) => {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x = (x * 31 + 1) | 0;
  return x;
};`;

const HOLDER = `
const held = [];
export default async ({ mb }) => {
  for (let i = 0; i < mb; i++) held.push(Buffer.alloc(1024 * 1024, 1));
  return held.length;
};`;

describe.skipIf(!hasDocker)('docker sandbox harvesting', () => {
  let sandbox: DockerSandbox;

  beforeAll(async () => {
    sandbox = await DockerSandbox.create({ workerId: newWorkerId('run') });
  });

  afterAll(async () => {
    await sandbox?.close();
    for (const id of workerIds) {
      const left = await ownedContainers(id);
      await removeOwned(id);
      expect(left.map((c) => c.name)).toEqual([]);
    }
  });

  function needCgroups(ctx: TestContext): void {
    if (sandbox.cgroupMode.kind === 'none')
      ctx.skip(`no writable cgroups: ${sandbox.cgroupMode.reason}`);
  }

  it("samples the container's cgroup for peak CPU and memory", async (ctx) => {
    needCgroups(ctx);
    const spin = deployment(fnSpec('spin', { kind: 'code', code: SPIN }), 'hv-peak');
    await sandbox.deploy(spin);
    const r = await sandbox.run(spin.key, request({ ms: 600 }));
    console.log(
      `container spin 600 ms at 1 core: peak ${r.peakCpuCores?.toFixed(2)} cores, ${r.peakMemoryMb?.toFixed(1)} MB`,
    );
    expect(r.peakCpuCores).toBeGreaterThan(0.7);
    expect(r.peakCpuCores).toBeLessThan(1.15);
    expect(r.peakMemoryMb).toBeGreaterThan(0);

    const hold = deployment(fnSpec('holder', { kind: 'code', code: HOLDER }), 'hv-mem');
    await sandbox.deploy(hold);
    const before = await sandbox.run(hold.key, request({ mb: 0 }));
    const after = await sandbox.run(hold.key, request({ mb: 64 }));
    expect(after.sandboxId).toBe(before.sandboxId);
    expect(after.peakMemoryMb! - before.peakMemoryMb!).toBeGreaterThan(56);
  });

  it('resizes the container running a request while it runs', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('spin', { kind: 'code', code: SPIN }), 'hv-live');
    await sandbox.deploy(d);
    const { sandboxId } = await sandbox.run(d.key, request({ ms: 1 }));
    const ref = { invocationId: invId('inv_docker_live'), node: 'spin' };
    const running = sandbox.run(d.key, request({ ms: 1500 }, ref));
    await poll('the spin to run', () => sandbox.stats().perFunction[d.key]?.busy === 1);
    expect(await sandbox.resizeRun(ref, { cpu: 0.5 })).toBe(true);
    expect(sandbox.limitsOf(sandboxId)).toMatchObject({ cpuQuotaUs: 50_000 });
    expect(await sandbox.resizeRun(ref, { cpu: 2 })).toBe(true);
    expect(sandbox.limitsOf(sandboxId)).toMatchObject({ cpuQuotaUs: 200_000 });
    expect(await sandbox.engineLimitsOf(sandboxId)).toMatchObject({ cpuQuotaUs: 200_000 });
    const r = await running;
    expect(r.sandboxId).toBe(sandboxId);
    expect(await sandbox.resizeRun(ref, { cpu: 1 })).toBe(false);
    expect(sandbox.limitsOf(sandboxId)).toMatchObject({ cpuQuotaUs: 200_000 });
  });

  it('reports no peaks when it cannot reach the cgroups', async () => {
    const engineOnly = await DockerSandbox.create({
      workerId: newWorkerId('nocg'),
      cgroups: 'off',
    });
    try {
      const d = deployment(fnSpec('spin', { kind: 'code', code: SPIN }), 'hv-nocg');
      await engineOnly.deploy(d);
      const r = await engineOnly.run(d.key, request({ ms: 5 }));
      expect(r).toMatchObject({ peakCpuCores: null, peakMemoryMb: null });
      expect(r.cpuTimeMs).toBeGreaterThan(0);
    } finally {
      await engineOnly.close();
    }
  });
});
