/**
 * Harvesting's weight and safeguards on this host's real cgroups, through the process sandbox
 * (skipped, with the reason, when the host has no writable cgroups — as sandbox-cgroup.test.ts):
 * - CPU weight with the quota: a running sandbox at 0.5 core has `cpu.shares` 512 (v1) or the
 *   matching `cpu.weight` (v2) beside its 50 ms quota, and 1024 at 1 core;
 * - memory: a harvested allocation (128 MB under a 256 MB user allocation) writes the soft
 *   limit (v2 `memory.high`, v1 `memory.soft_limit_in_bytes`) at 128 MB and the hard limit at
 *   256 MB on the running child; a plain allocation lifts the soft limit again;
 * - the CPU safeguard: a spin held to 0.25 core with a safeguard at 1 core saturates its quota
 *   for a period and is raised while it runs (the quota file shows 1 core, the result says
 *   when), and its throttled time is reported; with `afterCpuMs` above the CPU time the run
 *   can use, it is never raised and its quota stays at 0.25 core.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { parseWorkerId } from '../../shared/ids.js';
import type { CgroupMode } from '../../worker/sandbox/cgroup.js';
import { cpuWeightOf } from '../../worker/sandbox/cpu-weight.js';
import { ProcessSandbox } from '../../worker/sandbox/process.js';
import { deployment, fnSpec, poll, request } from './sandbox-helpers.js';
import { invId } from '../helpers/ids.js';

const WORKER = 'harvest-safeguard-test';
const MIB = 1024 * 1024;
let sandbox: ProcessSandbox;
const extra: ProcessSandbox[] = [];

beforeAll(async () => {
  sandbox = await ProcessSandbox.create({ workerId: parseWorkerId(WORKER) });
  if (sandbox.cgroupMode.kind === 'none') {
    console.log(`harvest safeguard tests skipped: ${sandbox.cgroupMode.reason}`);
  }
});

afterAll(async () => {
  await Promise.all([sandbox?.close(), ...extra.map((s) => s.close())]);
});

/** A sandbox of its own, so the one child a test starts is the only one under its root. */
async function own(name: string): Promise<{ s: ProcessSandbox; worker: string }> {
  const worker = `${WORKER}-${name}`;
  const s = await ProcessSandbox.create({ workerId: parseWorkerId(worker) });
  extra.push(s);
  return { s, worker };
}

/** The ids of a sandbox's live children, from its cgroup root. */
function childIds(mode: CgroupMode, worker: string): string[] {
  const base = mode.kind === 'v1' ? mode.cpuPath : mode.kind === 'v2' ? mode.mountPath : '';
  const root = join(base, 'faasflow', worker);
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

function needCgroups(ctx: TestContext): void {
  if (sandbox.cgroupMode.kind === 'none') ctx.skip(`no cgroups: ${sandbox.cgroupMode.reason}`);
}

const nonEmpty = <T>(xs: T[]): T[] | undefined => (xs.length > 0 ? xs : undefined);
const read = (file: string): string => readFileSync(file, 'utf8').trim();

/** The kernel's files of one child's cgroup, as the test reads them (v1 or v2). */
function files(mode: CgroupMode, worker: string, sandboxId: string) {
  if (mode.kind === 'v2') {
    const dir = join(mode.mountPath, 'faasflow', worker, sandboxId);
    const bytes = (f: string): number | null =>
      read(join(dir, f)) === 'max' ? null : Number(read(join(dir, f)));
    return {
      quotaUs: () => Number(read(join(dir, 'cpu.max')).split(' ')[0]),
      weight: () => Number(read(join(dir, 'cpu.weight'))),
      weightOf: (cores: number) => cpuWeightOf(cores),
      softBytes: () => bytes('memory.high'),
      hardBytes: () => bytes('memory.max'),
    };
  }
  if (mode.kind === 'v1') {
    const cpu = join(mode.cpuPath, 'faasflow', worker, sandboxId);
    const memory = join(mode.memoryPath, 'faasflow', worker, sandboxId);
    const soft = (): number | null => {
      const v = Number(read(join(memory, 'memory.soft_limit_in_bytes')));
      return v >= 2 ** 62 ? null : v;
    };
    return {
      quotaUs: () => Number(read(join(cpu, 'cpu.cfs_quota_us'))),
      weight: () => Number(read(join(cpu, 'cpu.shares'))),
      weightOf: (cores: number) => Math.round(cores * 1024),
      softBytes: soft,
      hardBytes: () => Number(read(join(memory, 'memory.limit_in_bytes'))),
    };
  }
  throw new Error('no cgroups');
}

describe('CPU weight and memory limits of a harvested run', () => {
  it('writes the weight with the quota, and memory.high under memory.max, on the running child', async (ctx) => {
    needCgroups(ctx);
    const { s: sandbox, worker } = await own('weights');
    const d = deployment(fnSpec('spin'), 'weights');
    await sandbox.deploy(d);
    const harvested = { cpu: 0.5, memoryMb: 128, memoryMaxMb: 256 };
    const running = sandbox.run(
      d.key,
      request({ ms: 600 }, { invocationId: invId('inv_w'), node: 'a', allocation: harvested }),
    );
    // The run's limits are written once it has its child (a fresh one starts at the declared).
    const [id] = await poll('the child', () => nonEmpty(childIds(sandbox.cgroupMode, worker)));
    const f = files(sandbox.cgroupMode, worker, id!);
    await poll('the run to get its limits', () => f.softBytes() === 128 * MIB);
    expect(f.quotaUs()).toBe(50_000);
    expect(f.weight()).toBe(f.weightOf(0.5));
    expect(f.softBytes()).toBe(128 * MIB);
    expect(f.hardBytes()).toBe(256 * MIB);
    const r = await running;
    expect(r.sandboxId).toBe(id);
    expect(r.allocation).toEqual(harvested);

    // The same child, a plain allocation: full weight, no soft limit.
    const plain = await sandbox.run(
      d.key,
      request({ ms: 1 }, { allocation: { cpu: 1, memoryMb: 256 } }),
    );
    expect(plain.sandboxId).toBe(id);
    expect(f.weight()).toBe(f.weightOf(1));
    expect(f.softBytes()).toBeNull();
    expect(f.hardBytes()).toBe(256 * MIB);
  });
});

describe('the CPU safeguard', () => {
  it('raises a run that saturates its reduced quota to the user allocation while it runs', async (ctx) => {
    needCgroups(ctx);
    const { s: sandbox, worker } = await own('starved');
    const d = deployment(fnSpec('spin'), 'starved');
    await sandbox.deploy(d);
    const ref = { invocationId: invId('inv_s'), node: 'starved' };
    const running = sandbox.run(
      d.key,
      request(
        { ms: 1500 },
        {
          ...ref,
          allocation: { cpu: 0.25, memoryMb: 256 },
          safeguard: { cpu: 1, afterCpuMs: null },
        },
      ),
    );
    const [id] = await poll('the child', () => nonEmpty(childIds(sandbox.cgroupMode, worker)));
    const f = files(sandbox.cgroupMode, worker, id!);
    // Raised while the run lasts: the quota file moves from 25 ms to 100 ms per period.
    await poll('the safeguard to raise the quota', () => f.quotaUs() === 100_000);
    const r = await running;
    expect(r.allocation.cpu).toBe(0.25); // what it started with
    expect(r.safeguardAtMs).not.toBeNull();
    expect(r.safeguardAtMs!).toBeGreaterThan(0);
    expect(r.throttledMs).not.toBeNull();
    expect(r.throttledMs!).toBeGreaterThan(0);
  });

  it('leaves a work-sized share alone while the run has not used more than its predicted work', async (ctx) => {
    needCgroups(ctx);
    const { s: sandbox, worker } = await own('work-share');
    const d = deployment(fnSpec('spin'), 'work-share');
    await sandbox.deploy(d);
    const r = await sandbox.run(
      d.key,
      request(
        { ms: 600 },
        {
          invocationId: invId('inv_ws'),
          node: 'short',
          allocation: { cpu: 0.25, memoryMb: 256 },
          // The spin can use at most ~600 ms of CPU: never more than its predicted 10 s.
          safeguard: { cpu: 1, afterCpuMs: 10_000 },
        },
      ),
    );
    expect(r.safeguardAtMs).toBeNull();
    expect(files(sandbox.cgroupMode, worker, r.sandboxId).quotaUs()).toBe(25_000);
    // It was held to its quota all along (its CPU time is about a quarter of its wall time).
    expect(r.throttledMs!).toBeGreaterThan(0);
  });
});
