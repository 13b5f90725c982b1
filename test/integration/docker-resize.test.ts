/**
 * Docker sandbox, live resize (the mechanism harvesting uses), with real containers:
 * - a resize through the container's cgroup is in force at once: the host's view of the cgroup,
 *   the container's own view (/sys/fs/cgroup inside it) and, once settled, the engine's record
 *   (`docker inspect`) all show the new CPU quota and memory limit, growing and shrinking;
 * - back-to-back resizes leave the newest value in every view;
 * - a run with a different allocation is resized before its handler starts;
 * - with cgroups off the engine's update API does the resize, visible inside the container;
 * - bad resizes are refused: an unknown sandbox (NOT_FOUND), an invalid allocation and a memory
 *   limit below what the function holds (BAD_REQUEST), and the container keeps serving.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { AppError } from '../../shared/errors.js';
import { parseWorkerId, type WorkerId } from '../../shared/ids.js';
import { DockerSandbox } from '../../worker/sandbox/docker.js';
import { ownedContainers, removeOwned, requireDocker } from '../helpers/docker.js';
import { deployment, fnSpec, request } from './sandbox-helpers.js';

const hasDocker = await requireDocker();
const MIB = 1024 * 1024;
const workerIds: WorkerId[] = [];

function newWorkerId(name: string): WorkerId {
  const id = parseWorkerId(`dk-${name}-${randomBytes(3).toString('hex')}`);
  workerIds.push(id);
  return id;
}

/** The limits as the function inside the container sees them (cgroup v1 or v2 files). */
const LIMITS_PROBE = `
import { readFileSync } from 'node:fs';
const read = (...paths) => { for (const p of paths) { try { return readFileSync(p, 'utf8').trim(); } catch {} } return null; };
export default async () => {
  const v2 = read('/sys/fs/cgroup/cpu.max');
  return {
    memoryBytes: Number(read('/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory.max')),
    cpuQuotaUs: Number(v2 === null ? read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us') : v2.split(' ')[0]),
  };
};`;

const HOLDER = `
const held = [];
export default async (input) => {
  for (let i = 0; i < input.mb; i++) held.push(Buffer.alloc(1024 * 1024, 1));
  return held.length;
};`;

async function inside(sandbox: DockerSandbox, key: string, allocation = { cpu: 1, memoryMb: 256 }) {
  const r = await sandbox.run(key, request({}, { allocation }));
  return {
    sandboxId: r.sandboxId,
    ...(decodeValue(r.output) as { memoryBytes: number; cpuQuotaUs: number }),
  };
}

describe.skipIf(!hasDocker)('docker sandbox live resize', () => {
  let sandbox: DockerSandbox;

  beforeAll(async () => {
    sandbox = await DockerSandbox.create({ workerId: newWorkerId('resize') });
  });

  afterAll(async () => {
    await sandbox?.close();
    for (const id of workerIds) {
      const left = await ownedContainers(id);
      await removeOwned(id);
      expect(left.map((c) => c.name)).toEqual([]);
    }
  });

  it('shows a cgroup resize at once inside the container, on the host and then in the engine', async (ctx) => {
    if (sandbox.cgroupMode.kind === 'none')
      ctx.skip(`no writable cgroups: ${sandbox.cgroupMode.reason}`);
    // Started at 512 MB (its V8 heap limit), so runs at up to 512 MB may reuse it.
    const d = deployment(fnSpec('limits', { kind: 'code', code: LIMITS_PROBE }, { memoryMb: 512 }));
    await sandbox.deploy(d);
    const before = await inside(sandbox, d.key, { cpu: 1, memoryMb: 512 });
    expect(before).toMatchObject({ memoryBytes: 512 * MIB, cpuQuotaUs: 100_000 });
    for (const target of [
      { cpu: 0.25, memoryMb: 96 },
      { cpu: 2, memoryMb: 448 },
    ]) {
      await sandbox.resize(before.sandboxId, target);
      expect(sandbox.limitsOf(before.sandboxId)).toMatchObject({
        cpuQuotaUs: target.cpu * 100_000,
        memoryLimitBytes: target.memoryMb * MIB,
      });
      const seen = await inside(sandbox, d.key, target);
      expect(seen).toEqual({
        sandboxId: before.sandboxId,
        memoryBytes: target.memoryMb * MIB,
        cpuQuotaUs: target.cpu * 100_000,
      });
      expect(await sandbox.engineLimitsOf(before.sandboxId)).toMatchObject({
        memoryBytes: target.memoryMb * MIB,
        cpuQuotaUs: target.cpu * 100_000,
        cpuPeriodUs: 100_000,
      });
    }
  });

  it('leaves the newest of back-to-back resizes in every view', async () => {
    const d = deployment(fnSpec('limits', { kind: 'code', code: LIMITS_PROBE }), 'burst');
    await sandbox.deploy(d);
    const { sandboxId } = await inside(sandbox, d.key);
    const steps = [300, 200, 400, 160].map((memoryMb, i) => ({ cpu: 0.5 + i * 0.25, memoryMb }));
    for (const step of steps) await sandbox.resize(sandboxId, step);
    const last = steps[steps.length - 1]!;
    const engine = await sandbox.engineLimitsOf(sandboxId);
    expect(engine).toMatchObject({
      memoryBytes: last.memoryMb * MIB,
      cpuQuotaUs: last.cpu * 100_000,
    });
    expect(await inside(sandbox, d.key, last)).toMatchObject({
      sandboxId,
      memoryBytes: last.memoryMb * MIB,
      cpuQuotaUs: last.cpu * 100_000,
    });
  });

  it('resizes a warm container to the allocation of the run before its handler starts', async () => {
    const d = deployment(fnSpec('limits', { kind: 'code', code: LIMITS_PROBE }), 'per-run');
    await sandbox.deploy(d);
    const first = await inside(sandbox, d.key, { cpu: 1, memoryMb: 256 });
    const second = await inside(sandbox, d.key, { cpu: 1.5, memoryMb: 192 });
    expect(second).toEqual({
      sandboxId: first.sandboxId,
      memoryBytes: 192 * MIB,
      cpuQuotaUs: 150_000,
    });
  });

  it('resizes through the engine API when cgroups are off', async () => {
    const engineOnly = await DockerSandbox.create({
      workerId: newWorkerId('resize-api'),
      cgroups: 'off',
    });
    try {
      const d = deployment(
        fnSpec('limits', { kind: 'code', code: LIMITS_PROBE }, { memoryMb: 512 }),
      );
      await engineOnly.deploy(d);
      const { sandboxId } = await inside(engineOnly, d.key, { cpu: 1, memoryMb: 512 });
      expect(engineOnly.limitsOf(sandboxId)).toBeNull();
      await engineOnly.resize(sandboxId, { cpu: 0.5, memoryMb: 384 });
      expect(await inside(engineOnly, d.key, { cpu: 0.5, memoryMb: 384 })).toEqual({
        sandboxId,
        memoryBytes: 384 * MIB,
        cpuQuotaUs: 50_000,
      });
      expect(await engineOnly.engineLimitsOf(sandboxId)).toMatchObject({
        memoryBytes: 384 * MIB,
        cpuQuotaUs: 50_000,
      });
    } finally {
      await engineOnly.close();
    }
  });

  it('refuses bad resizes and keeps serving', async () => {
    await expect(
      sandbox.resize('ff-no-such-sandbox', { cpu: 1, memoryMb: 256 }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const d = deployment(fnSpec('holder', { kind: 'code', code: HOLDER }));
    await sandbox.deploy(d);
    const r = await sandbox.run(d.key, request({ mb: 100 }));
    await expect(sandbox.resize(r.sandboxId, { cpu: 0, memoryMb: 256 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(
        /allocation\.cpu must be a positive number of cores, got 0/,
      ) as unknown,
    });
    if (sandbox.cgroupMode.kind !== 'none') {
      const err: unknown = await sandbox
        .resize(r.sandboxId, { cpu: 1, memoryMb: 48 })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AppError);
      expect(err).toMatchObject({ code: 'BAD_REQUEST' });
      expect((err as AppError).message).toMatch(
        /the kernel refused to resize sandbox .* to 1 cores and 48 MB/,
      );
    }
    const after = await sandbox.run(d.key, request({ mb: 1 }));
    expect(after.sandboxId).toBe(r.sandboxId);
    expect(decodeValue(after.output)).toBe(101);
  });
});
