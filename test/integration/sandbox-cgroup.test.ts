/**
 * Cgroups of the process sandbox. On this host's real cgroups (skipped, with the reason, when the
 * host has none):
 * - each child gets its own group holding its pid, with CPU quota = cpu × period and the memory
 *   limit of its allocation; a run's allocation is applied before it runs;
 * - resize during a run is visible in the cgroup files at once; an unknown sandbox is NOT_FOUND;
 * - a run reports peak memory and CPU time from the cgroup;
 * - close() leaves no child process and no cgroup, is idempotent, and refuses later runs;
 * - empty groups left under our root by a crashed earlier worker are swept at create.
 * On fake cgroup trees in a temp dir: v2, v1 (separate cpuacct) and none are detected, with the
 * reason, and a root that cannot be created degrades to none.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { parseWorkerId } from '../../shared/ids.js';
import { Cgroups, detectCgroupMode } from '../../worker/sandbox/cgroup.js';
import { ProcessSandbox } from '../../worker/sandbox/process.js';
import { cgroupDirs, deployment, fnSpec, poll, processAlive, request } from './sandbox-helpers.js';

const WORKER = 'sbx-cgroup-test';
let sandbox: ProcessSandbox;

beforeAll(async () => {
  sandbox = await ProcessSandbox.create({ workerId: parseWorkerId(WORKER) });
  if (sandbox.cgroupMode.kind === 'none') {
    console.log(`real-cgroup tests skipped: ${sandbox.cgroupMode.reason}`);
  }
});

afterAll(async () => {
  await sandbox?.close();
});

function needCgroups(ctx: TestContext): void {
  if (sandbox.cgroupMode.kind === 'none') ctx.skip(`no cgroups: ${sandbox.cgroupMode.reason}`);
}

/** The files holding a child's limits, for v1 or v2. */
function limitFiles(sandboxId: string): {
  cpu: () => number;
  memoryBytes: () => number;
  procs: () => string;
} {
  const mode = sandbox.cgroupMode;
  const read = (file: string) => readFileSync(file, 'utf8').trim();
  if (mode.kind === 'v2') {
    const dir = join(mode.mountPath, 'faasflow', WORKER, sandboxId);
    return {
      cpu: () => Number(read(join(dir, 'cpu.max')).split(' ')[0]),
      memoryBytes: () => Number(read(join(dir, 'memory.max'))),
      procs: () => read(join(dir, 'cgroup.procs')),
    };
  }
  if (mode.kind === 'v1') {
    const cpuDir = join(mode.cpuPath, 'faasflow', WORKER, sandboxId);
    const memDir = join(mode.memoryPath, 'faasflow', WORKER, sandboxId);
    return {
      cpu: () => Number(read(join(cpuDir, 'cpu.cfs_quota_us'))),
      memoryBytes: () => Number(read(join(memDir, 'memory.limit_in_bytes'))),
      procs: () => read(join(memDir, 'cgroup.procs')),
    };
  }
  throw new Error('no cgroups');
}

const MIB = 1024 * 1024;

describe('process sandbox on real cgroups', () => {
  it('puts each child in its own group with the quota and limit of its allocation', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('ok'), 'limits');
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request(1, { allocation: { cpu: 1, memoryMb: 256 } }));
    const files = limitFiles(first.sandboxId);
    const { pid } = decodeValue(first.output) as { pid: number };
    expect(files.procs().split('\n')).toContain(String(pid));
    expect(files.cpu()).toBe(100_000);
    expect(files.memoryBytes()).toBe(256 * MIB);
    const second = await sandbox.run(d.key, request(1, { allocation: { cpu: 2, memoryMb: 128 } }));
    expect(second.sandboxId).toBe(first.sandboxId);
    expect(files.cpu()).toBe(200_000);
    expect(files.memoryBytes()).toBe(128 * MIB);
  });

  it('applies resize to a running child at once, and rejects unknown sandboxes', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('slow'), 'resize');
    await sandbox.deploy(d);
    const { sandboxId } = await sandbox.run(d.key, request({ ms: 1 }));
    const running = sandbox.run(d.key, request({ ms: 300 }));
    await poll('the run to start', () => sandbox.stats().perFunction[d.key]?.busy === 1);
    await sandbox.resize(sandboxId, { cpu: 0.5, memoryMb: 512 });
    const files = limitFiles(sandboxId);
    expect(files.cpu()).toBe(50_000);
    expect(files.memoryBytes()).toBe(512 * MIB);
    expect(sandbox.limitsOf(sandboxId)).toMatchObject({
      cpuQuotaUs: 50_000,
      memoryLimitBytes: 512 * MIB,
    });
    expect((await running).sandboxId).toBe(sandboxId);
    await expect(sandbox.resize('nope', { cpu: 1, memoryMb: 128 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('reports peak memory and CPU time from the cgroup', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('spin'), 'usage');
    await sandbox.deploy(d);
    const result = await sandbox.run(d.key, request({ ms: 30 }));
    expect(result.peakMemoryMb).toBeGreaterThan(0);
    expect(result.cpuTimeMs).toBeGreaterThan(0);
  });

  it('sweeps empty groups left under its root by an earlier worker', async (ctx) => {
    needCgroups(ctx);
    const worker = 'sbx-cgroup-stale';
    const mode = sandbox.cgroupMode;
    const base = mode.kind === 'v1' ? mode.memoryPath : mode.kind === 'v2' ? mode.mountPath : '';
    const stale = join(base, 'faasflow', worker, 'leftover-1');
    mkdirSync(stale, { recursive: true });
    const next = await ProcessSandbox.create({ workerId: parseWorkerId(worker) });
    try {
      expect(cgroupDirs(worker).some((dir) => dir.endsWith('leftover-1'))).toBe(false);
    } finally {
      await next.close();
    }
    expect(cgroupDirs(worker)).toEqual([]);
  });

  it('leaves no child and no cgroup after close, and refuses runs afterwards', async (ctx) => {
    needCgroups(ctx);
    const worker = 'sbx-cgroup-close';
    const own = await ProcessSandbox.create({ workerId: parseWorkerId(worker) });
    const a = deployment(fnSpec('ok'), 'close-a');
    const b = deployment(fnSpec('slow'), 'close-b');
    await own.deploy(a, { prewarm: 2 });
    await own.deploy(b);
    const busy = own.run(b.key, request({ ms: 60_000 })).then(
      () => null,
      (err: unknown) => err,
    );
    const pids = await poll('three live children', () => own.pids().length === 3 && own.pids());
    expect(cgroupDirs(worker).length).toBeGreaterThan(0);
    await own.close();
    await own.close();
    const busyError = await busy;
    expect(busyError).toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    expect(String(busyError)).toMatch(/stopped mid-run: sandbox closed/);
    expect(pids.filter(processAlive)).toEqual([]);
    expect(cgroupDirs(worker)).toEqual([]);
    await expect(own.run(a.key, request(1))).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
  });
});

describe('cgroup mode detection on fake cgroup trees', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'faasflow-cgtest-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function tree(name: string, files: Record<string, string>): string {
    const root = join(dir, name);
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(join(root, file, '..'), { recursive: true });
      writeFileSync(join(root, file), text);
    }
    return root;
  }

  it('detects cgroup v2 with the cpu and memory controllers', () => {
    const mount = tree('v2', { 'cgroup.controllers': 'cpuset cpu io memory pids\n' });
    expect(detectCgroupMode(mount)).toEqual({ kind: 'v2', mountPath: mount });
  });

  it('reports v2 without the memory controller as none, listing what it has', () => {
    const mount = tree('v2-partial', { 'cgroup.controllers': 'cpu pids\n' });
    const mode = detectCgroupMode(mount);
    expect(mode).toMatchObject({ kind: 'none' });
    expect(mode.kind === 'none' && mode.reason).toMatch(
      /lacks the cpu and memory controllers \(has: cpu pids\)/,
    );
  });

  it('detects cgroup v1 with a separate cpuacct hierarchy', () => {
    const mount = tree('v1', {
      'cpu/cpu.cfs_quota_us': '-1',
      'cpuacct/cpuacct.usage': '0',
      'memory/memory.limit_in_bytes': '9223372036854771712',
    });
    expect(detectCgroupMode(mount)).toEqual({
      kind: 'v1',
      cpuPath: join(mount, 'cpu'),
      cpuacctPath: join(mount, 'cpuacct'),
      memoryPath: join(mount, 'memory'),
    });
  });

  it('reports a host without cgroups as none, saying where it looked', () => {
    const mount = tree('empty', { README: '' });
    const mode = detectCgroupMode(mount);
    expect(mode.kind === 'none' && mode.reason).toMatch(/neither cgroup v2 .* nor cgroup v1/);
  });

  it('degrades to none when its root cannot be created', () => {
    const mount = tree('v1-blocked', {
      'cpu/cpu.cfs_quota_us': '-1',
      'memory/memory.limit_in_bytes': '1',
      'memory/faasflow': 'a file where the root directory should be',
    });
    const cgroups = Cgroups.create(detectCgroupMode(mount), 'faasflow/w1');
    expect(cgroups.mode.kind).toBe('none');
    expect(cgroups.mode.kind === 'none' && cgroups.mode.reason).toMatch(/creating faasflow\/w1/);
    cgroups.close();
  });
});
