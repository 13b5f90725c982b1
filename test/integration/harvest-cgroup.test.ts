/**
 * Harvesting on this host's real cgroups, through the process sandbox and the worker engine
 * (skipped, with the reason, when the host has no writable cgroups — as sandbox-cgroup.test.ts):
 * - live resize: `resizeRun` changes the CPU quota of the child running a CPU-spinning request
 *   while it runs — the quota file (cpu.cfs_quota_us on v1, cpu.max on v2) shows 0.5 then 2
 *   cores, the kernel throttles the spin at 0.5 and stops throttling it at 2; a request still
 *   waiting for a child gets its quota when it starts; a finished request's child is never
 *   touched again;
 * - the run profiler: a one-thread spin's peakCpuCores is its 1-core quota, and at a 0.5 quota
 *   it never reads more than the one core it can use while its CPU time stays within the quota;
 *   peakMemoryMb counts memory the function holds but not the page cache of a file it wrote and
 *   read back (the kernel's own usage figure does count it); no cgroups, no peaks;
 * - memory: a smaller memory allocation is a cgroup write on the warm child; below what the child
 *   holds, a run keeps the old limit (and says so in `allocation`) and a named resize is refused;
 * - the engine: a harvested parallel stage runs with the decided allocations and its steps carry
 *   the decision, the applied allocation and the peaks; when the short sibling finishes, the long
 *   one's quota file changes while it runs; with `rebalance: false` no quota moves and the long
 *   sibling's CPU time stays within its half core; a foreach body instance (`fe[i]/body`) takes
 *   the decision of its scoped id (`fe/body`).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { encodeValue } from '../../shared/codec.js';
import { parseWorkerId } from '../../shared/ids.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { NodeAllocation, Report, StoredRef, Trigger } from '../../shared/schema/wire.js';
import { silentLogger } from '../../shared/logger.js';
import { loadWorkflow } from '../../master/workflow/index.js';
import { functionKey, indexDeployment } from '../../worker/engine/deployments.js';
import { Engine } from '../../worker/engine/engine.js';
import type { CgroupMode } from '../../worker/sandbox/cgroup.js';
import { ProcessSandbox } from '../../worker/sandbox/process.js';
import type { RunRef, Sandbox } from '../../worker/sandbox/types.js';
import { deployment, FIXTURES, fnSpec, poll, request } from './sandbox-helpers.js';
import { invId } from '../helpers/ids.js';

const WORKER = 'harvest-cgroup-test';
const MIB = 1024 * 1024;
let sandbox: ProcessSandbox;
const extra: ProcessSandbox[] = [];

beforeAll(async () => {
  sandbox = await ProcessSandbox.create({ workerId: parseWorkerId(WORKER) });
  if (sandbox.cgroupMode.kind === 'none') {
    console.log(`harvest cgroup tests skipped: ${sandbox.cgroupMode.reason}`);
  }
});

afterAll(async () => {
  await Promise.all([sandbox?.close(), ...extra.map((s) => s.close())]);
});

function needCgroups(ctx: TestContext): void {
  if (sandbox.cgroupMode.kind === 'none') ctx.skip(`no cgroups: ${sandbox.cgroupMode.reason}`);
}

async function ownSandbox(name: string, maxConcurrencyPerFunction = 8): Promise<ProcessSandbox> {
  const s = await ProcessSandbox.create({
    workerId: parseWorkerId(`${WORKER}-${name}`),
    maxConcurrencyPerFunction,
  });
  extra.push(s);
  return s;
}

const read = (file: string): string => readFileSync(file, 'utf8');
const statKey = (text: string, key: string): number =>
  Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

/** The kernel's files of one child's cgroup, as a test reads them (v1 or v2). */
function groupFiles(mode: CgroupMode, worker: string, sandboxId: string) {
  if (mode.kind === 'v2') {
    const dir = join(mode.mountPath, 'faasflow', worker, sandboxId);
    return {
      quotaUs: () => Number(read(join(dir, 'cpu.max')).split(' ')[0]),
      throttling: () => {
        const stat = read(join(dir, 'cpu.stat'));
        return { periods: statKey(stat, 'nr_periods'), throttled: statKey(stat, 'nr_throttled') };
      },
      memoryUsageBytes: () => Number(read(join(dir, 'memory.current'))),
      memoryLimitBytes: () => Number(read(join(dir, 'memory.max'))),
    };
  }
  if (mode.kind === 'v1') {
    const cpu = join(mode.cpuPath, 'faasflow', worker, sandboxId);
    const memory = join(mode.memoryPath, 'faasflow', worker, sandboxId);
    return {
      quotaUs: () => Number(read(join(cpu, 'cpu.cfs_quota_us'))),
      throttling: () => {
        const stat = read(join(cpu, 'cpu.stat'));
        return { periods: statKey(stat, 'nr_periods'), throttled: statKey(stat, 'nr_throttled') };
      },
      memoryUsageBytes: () => Number(read(join(memory, 'memory.usage_in_bytes'))),
      memoryLimitBytes: () => Number(read(join(memory, 'memory.limit_in_bytes'))),
    };
  }
  throw new Error('no cgroups');
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

describe('live resize of a running request', () => {
  it('changes the quota of the child while it spins, and the kernel enforces it', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('spin'), 'live');
    await sandbox.deploy(d);
    const { sandboxId } = await sandbox.run(d.key, request({ ms: 1 }));
    const files = groupFiles(sandbox.cgroupMode, WORKER, sandboxId);
    const ref: RunRef = { invocationId: invId('inv_live'), node: 'spin' };
    const running = sandbox.run(d.key, request({ ms: 2000 }, { ...ref, attempt: 1 }));
    await poll('the spin to run', () => sandbox.stats().perFunction[d.key]?.busy === 1);
    expect(files.quotaUs()).toBe(100_000);

    expect(await sandbox.resizeRun(ref, { cpu: 0.5 })).toBe(true);
    expect(files.quotaUs()).toBe(50_000);
    const at = files.throttling();
    // A spinning thread held to half a core is throttled in (nearly) every period.
    await poll('throttling at 0.5 cores', () => files.throttling().throttled >= at.throttled + 2);

    expect(await sandbox.resizeRun(ref, { cpu: 2 })).toBe(true);
    expect(files.quotaUs()).toBe(200_000);
    const after = files.throttling();
    await poll('three periods at 2 cores', () => files.throttling().periods >= after.periods + 3);
    // One thread never exhausts two cores: at most the period the resize landed in throttles.
    expect(files.throttling().throttled - after.throttled).toBeLessThanOrEqual(1);

    const r = await running;
    expect(r.sandboxId).toBe(sandboxId);
    expect(r.allocation).toEqual({ cpu: 1, memoryMb: 256 });
    // Over, so never touched again: its child may already serve another request.
    expect(await sandbox.resizeRun(ref, { cpu: 1 })).toBe(false);
    expect(files.quotaUs()).toBe(200_000);
  });

  it('gives a request still waiting for a child its new quota when it starts', async (ctx) => {
    needCgroups(ctx);
    const own = await ownSandbox('queued', 1);
    const d = deployment(fnSpec('spin'), 'queued');
    await own.deploy(d);
    const first = own.run(d.key, request({ ms: 300 }, { invocationId: invId('inv_q'), node: 'a' }));
    await poll('the first run', () => own.stats().perFunction[d.key]?.busy === 1);
    const queued = own.run(d.key, request({ ms: 1 }, { invocationId: invId('inv_q'), node: 'b' }));
    await poll('the second to queue', () => own.stats().perFunction[d.key]?.queued === 1);
    expect(await own.resizeRun({ invocationId: invId('inv_q'), node: 'b' }, { cpu: 0.5 })).toBe(
      true,
    );
    const [a, b] = await Promise.all([first, queued]);
    expect(b.sandboxId).toBe(a.sandboxId);
    expect(b.allocation).toEqual({ cpu: 0.5, memoryMb: 256 });
    expect(groupFiles(own.cgroupMode, `${WORKER}-queued`, b.sandboxId).quotaUs()).toBe(50_000);
    await expect(
      own.resizeRun({ invocationId: invId('inv_q'), node: 'b' }, { cpu: 0 }),
    ).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
  });
});

describe('run profiler', () => {
  it('reports the peak CPU of a spin as its quota', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('spin'), 'peak');
    await sandbox.deploy(d);
    const whole = await sandbox.run(
      d.key,
      request({ ms: 600 }, { allocation: { cpu: 1, memoryMb: 256 } }),
    );
    const half = await sandbox.run(
      d.key,
      request({ ms: 600 }, { allocation: { cpu: 0.5, memoryMb: 256 } }),
    );
    const mean = (r: typeof half) => r.cpuTimeMs! / r.durationMs;
    console.log(
      `spin 600 ms: peak ${whole.peakCpuCores?.toFixed(2)} cores (mean ${mean(whole).toFixed(2)}) at a 1-core quota, ${half.peakCpuCores?.toFixed(2)} (mean ${mean(half).toFixed(2)}) at 0.5`,
    );
    // Over 10 ms windows the same spin reads up to 1.3 cores (tick skew, see profiler.ts).
    expect(whole.peakCpuCores).toBeGreaterThan(0.7);
    expect(whole.peakCpuCores).toBeLessThan(1.15);
    // Held to half a core: the first window may see two periods' quota, nothing sees more than
    // the one thread, and the kernel keeps the whole run to its quota (+ one unspent period).
    expect(half.peakCpuCores).toBeGreaterThan(0.3);
    expect(half.peakCpuCores).toBeLessThan(1.15);
    expect(mean(half)).toBeLessThan(0.6);
    const short = await sandbox.run(d.key, request({ ms: 20 }));
    expect(short.peakCpuCores).toBeGreaterThan(0);
    expect(short.peakCpuCores).toBeLessThan(1.15);
  });

  it('counts memory the function holds and not the page cache of the files it touches', async (ctx) => {
    needCgroups(ctx);
    // A directory on a disk filesystem: tmpfs pages are shared memory, which stays counted.
    let base = tmpdir();
    if (statfsSync(base).type === 0x01021994) base = process.cwd();
    const dir = mkdtempSync(join(base, 'faasflow-harvest-cache-'));
    try {
      const code = `
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
export default async ({ dir, mb }) => {
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const file = join(dir, 'cache.bin');
  let fd = openSync(file, 'w');
  for (let i = 0; i < mb; i++) writeSync(fd, chunk);
  closeSync(fd);
  fd = openSync(file, 'r');
  let read = 0;
  while (readSync(fd, chunk) > 0) read++;
  closeSync(fd);
  return read;
};`;
      const cache = deployment(fnSpec('cache', { kind: 'code', code }), 'cache');
      await sandbox.deploy(cache);
      const baseline = await sandbox.run(cache.key, request({ dir, mb: 0 }));
      const cached = await sandbox.run(cache.key, request({ dir, mb: 96 }));
      expect(cached.sandboxId).toBe(baseline.sandboxId);
      const files = groupFiles(sandbox.cgroupMode, WORKER, cached.sandboxId);
      const usageMb = files.memoryUsageBytes() / MIB;
      console.log(
        `96 MB written and read: peak ${cached.peakMemoryMb?.toFixed(1)} MB (baseline ${baseline.peakMemoryMb?.toFixed(1)}), kernel usage with cache ${usageMb.toFixed(1)} MB`,
      );
      expect(cached.peakMemoryMb! - baseline.peakMemoryMb!).toBeLessThan(16);
      expect(usageMb - cached.peakMemoryMb!).toBeGreaterThan(64);

      const hog = deployment(fnSpec('hog'), 'held');
      await sandbox.deploy(hog);
      const empty = await sandbox.run(hog.key, request({ mb: 0, kind: 'buffer' }));
      const held = await sandbox.run(hog.key, request({ mb: 64, kind: 'buffer' }));
      expect(held.sandboxId).toBe(empty.sandboxId);
      expect(held.peakMemoryMb! - empty.peakMemoryMb!).toBeGreaterThan(56);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports no peaks without cgroups', async () => {
    const none = await ProcessSandbox.create({
      workerId: parseWorkerId(`${WORKER}-none`),
      cgroups: 'off',
    });
    extra.push(none);
    const d = deployment(fnSpec('spin'), 'none');
    await none.deploy(d);
    const r = await none.run(d.key, request({ ms: 5 }));
    expect(r).toMatchObject({ peakCpuCores: null, peakMemoryMb: null });
    expect(r.cpuTimeMs).toBeGreaterThan(0);
  });
});

describe('memory allocation of a warm child', () => {
  it('lowers the limit by a cgroup write, but never below what the child holds', async (ctx) => {
    needCgroups(ctx);
    const d = deployment(fnSpec('hog'), 'shrink');
    await sandbox.deploy(d);
    const first = await sandbox.run(d.key, request({ mb: 0, kind: 'buffer' }));
    const files = groupFiles(sandbox.cgroupMode, WORKER, first.sandboxId);
    const smaller = await sandbox.run(
      d.key,
      request({ mb: 0, kind: 'buffer' }, { allocation: { cpu: 1, memoryMb: 128 } }),
    );
    expect(smaller.sandboxId).toBe(first.sandboxId);
    expect(smaller.allocation).toEqual({ cpu: 1, memoryMb: 128 });
    expect(files.memoryLimitBytes()).toBe(128 * MIB);

    await sandbox.run(d.key, request({ mb: 64, kind: 'buffer' })); // now holds 64 MB more
    const tight = await sandbox.run(
      d.key,
      request({ mb: 0, kind: 'buffer' }, { allocation: { cpu: 0.5, memoryMb: 64 } }),
    );
    expect(tight.sandboxId).toBe(first.sandboxId);
    expect(tight.allocation).toEqual({ cpu: 0.5, memoryMb: 256 });
    expect(files.memoryLimitBytes()).toBe(256 * MIB);
    expect(files.quotaUs()).toBe(50_000);
    await expect(sandbox.resize(first.sandboxId, { cpu: 1, memoryMb: 64 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    expect(files.memoryLimitBytes()).toBe(256 * MIB);
  });
});

describe('engine with harvest decisions', () => {
  const WORKFLOW = `
name: hv
functions:
  spin: { handler: spin.js, cpu: 1, memory: 256 }
flow:
  sequence:
    - parallel:
        - { task: spin, name: short, input: '{"ms": 50}' }
        - { task: spin, name: long, input: '{"ms": 1500}' }
    - foreach: { items: '[1, 2]', do: { task: spin, name: body, input: '{"ms": 5}' } }
      name: fe
`;
  const half = { cpu: 0.5, memoryMb: 128 };
  const harvest: Record<string, NodeAllocation> = {
    short: { stage: 'short+long', user: { cpu: 1, memoryMb: 256 }, predicted: half, applied: half },
    // A work share predicted above what the spin can use: the CPU safeguard (which raises a
    // starved run to its user's core; harvest-safeguards.test.ts) never arms, so the quota
    // moves only by rebalancing here.
    long: {
      stage: 'short+long',
      user: { cpu: 1, memoryMb: 256 },
      predicted: half,
      applied: half,
      workCpuMs: 10_000,
    },
    'fe/body': {
      stage: 'fe/body',
      user: { cpu: 1, memoryMb: 256 },
      predicted: null,
      applied: { cpu: 1, memoryMb: 192 },
      reason: 'no-model',
    },
  };

  function compile(): WorkflowDag {
    const { dag, issues } = loadWorkflow(WORKFLOW);
    expect(issues).toEqual([]);
    return dag!;
  }

  /** A worker engine on `sandbox` with an in-memory data plane; resizeRun calls are recorded. */
  async function engineOn(sbx: ProcessSandbox, worker: string, rebalance: boolean) {
    const dag = compile();
    const resized: { node: string; cpu: number; applied: boolean }[] = [];
    const recording: Sandbox = Object.assign(Object.create(sbx) as ProcessSandbox, {
      resizeRun: async (run: RunRef, change: { cpu: number }) => {
        const applied = await sbx.resizeRun(run, change);
        resized.push({ node: run.node, cpu: change.cpu, applied });
        return applied;
      },
    });
    const reports: Report[] = [];
    const inline = (b: Buffer): StoredRef => ({
      tier: 'inline',
      data: b.toString('base64'),
      sizeBytes: b.length,
    });
    const engine = new Engine({
      workerId: worker,
      sandbox: recording,
      store: {
        put: (_inv, _key, value) => Promise.resolve(inline(value)),
        getBuffer: (ref) =>
          Promise.resolve(Buffer.from(ref.tier === 'inline' ? ref.data : '', 'base64')),
        releaseInvocation: () => Promise.resolve(),
      },
      transport: {
        sendTriggers: () => Promise.reject(new Error('everything is local')),
        report: (_url, r) => reports.push(r),
      },
      logger: silentLogger,
      rebalance,
      maxCpu: 2,
    });
    const groupOf = Object.fromEntries(dag.nodes.map((n) => [n.id, 0]));
    engine.addDeployment(
      indexDeployment({ workflow: dag.name, version: 1, dag, groupOf, files: {} }, FIXTURES),
    );
    for (const fn of Object.values(dag.functions)) {
      await sbx.deploy({
        key: functionKey(dag.name, 1, fn.name),
        workflow: dag.name,
        version: 1,
        fn,
        baseDir: FIXTURES,
      });
    }
    const invoke = (invocationId: string): void => {
      const input = inline(encodeValue({}));
      engine.accept(
        dag.sources.map((node): Trigger => ({
          invocationId: invId(invocationId),
          workflow: dag.name,
          version: 1,
          node,
          from: null,
          ref: input,
          placement: { groups: [worker], workers: { [worker]: 'http://127.0.0.1:1' } },
          ctx: {
            tenant: 't',
            deadline: Date.now() + 30_000,
            input,
            master: 'http://127.0.0.1:1',
            mode: 'worker',
            harvest,
          },
        })),
      );
    };
    const finished = (invocationId: string) =>
      reports.some(
        (r) => r.invocationId === invocationId && (r.kind === 'sink' || r.kind === 'failed'),
      );
    const steps = (invocationId: string) =>
      Object.fromEntries(
        reports.flatMap((r) =>
          r.kind === 'step' && r.invocationId === invocationId ? [[r.step.node, r.step]] : [],
        ),
      );
    return { engine, invoke, finished, steps, reports, resized };
  }

  it('runs the decided allocations and moves a finished sibling’s CPU to the running one', async (ctx) => {
    needCgroups(ctx);
    const worker = `${WORKER}-engine`;
    const own = await ownSandbox('engine');
    const { engine, invoke, finished, steps, reports, resized } = await engineOn(own, worker, true);
    try {
      invoke('inv_harvest_on');
      // While long still runs, one child's quota file shows the 2 cores it now holds.
      await poll('a live quota of 2 cores', () =>
        childIds(own.cgroupMode, worker).some(
          (id) => groupFiles(own.cgroupMode, worker, id).quotaUs() === 200_000,
        ),
      );
      expect(finished('inv_harvest_on')).toBe(false);
      expect(resized).toEqual([{ node: 'long', cpu: 2, applied: true }]);
      await poll('the invocation to finish', () => finished('inv_harvest_on'));
      expect(reports.filter((r) => r.kind === 'failed')).toEqual([]);
      const s = steps('inv_harvest_on');
      expect(s['short']).toMatchObject({ allocation: half });
      // long starts at 0.5 cores, or at 2 when short finished while long waited for its child.
      expect([half, { cpu: 2, memoryMb: 128 }]).toContainEqual(s['long']!.allocation);
      for (const node of ['short', 'long']) {
        expect(s[node]).toMatchObject({ status: 'succeeded', harvest: harvest[node] });
        expect(s[node]!.peakCpuCores).toBeGreaterThan(0);
        expect(s[node]!.peakMemoryMb).toBeGreaterThan(0);
      }
      const long = s['long']!;
      console.log(
        `rebalanced long sibling: peak ${long.peakCpuCores?.toFixed(2)} cores, mean ${(long.cpuTimeMs! / long.runMs!).toFixed(2)} (applied 0.5)`,
      );
      for (const node of ['fe[0]/body', 'fe[1]/body']) {
        expect(s[node]).toMatchObject({
          status: 'succeeded',
          allocation: { cpu: 1, memoryMb: 192 },
          harvest: harvest['fe/body'],
        });
      }
    } finally {
      await engine.release(invId('inv_harvest_on'));
      engine.close();
    }
  });

  it('keeps every task at its decided allocation with rebalance off', async (ctx) => {
    needCgroups(ctx);
    const worker = `${WORKER}-engine-off`;
    const own = await ownSandbox('engine-off');
    const { engine, invoke, finished, steps, resized } = await engineOn(own, worker, false);
    try {
      invoke('inv_harvest_off');
      await poll('the invocation to finish', () => finished('inv_harvest_off'));
      expect(resized).toEqual([]);
      const long = steps('inv_harvest_off')['long']!;
      expect(long).toMatchObject({ status: 'succeeded', allocation: half });
      // Held to half a core from start to end (+ at most one unspent period's quota).
      expect(long.cpuTimeMs! / long.runMs!).toBeLessThan(0.6);
    } finally {
      await engine.release(invId('inv_harvest_off'));
      engine.close();
    }
  });
});
