/**
 * Several hosts on one machine: network namespaces joined by veth pairs and a bridge, addresses
 * in 198.18.0.0/15, traffic only inside them and on the root namespace's one uplink (root,
 * iproute2 and redis-server needed; under CI=true their absence fails the suite). Scenarios:
 * - hosts reach each other and nothing else; a bandwidth cap puts a tbf on both directions of
 *   each link; latency is applied with netem, or refused with the reason when the kernel lacks
 *   it, leaving nothing behind;
 * - destroy() stops the processes inside the hosts and removes every namespace and link; an
 *   owner that crashes removes them on exit; one killed outright is swept by the next owner;
 * - a FaaSFlow benchmark (Genome) runs across 3 worker hosts capped at 100 mbit, with Redis and
 *   the master on a 4th: the output is as declared, every node ran once, each partition group
 *   ran on one worker, every worker is a namespace host, every cross-host edge went through
 *   Redis, the bytes did cross the producers' links, and the triggers between the hosts and
 *   the reports to the master travelled on channels (docs/design.md §4);
 * - faasflow-hosts (ssh_command = ip netns exec {dest}) installs, starts, reports, upgrades and
 *   stops a cluster on the namespace hosts; install and start run twice change nothing; a
 *   configuration change is rolled out by upgrade; the installed cluster runs a workflow.
 * Everything created is removed in afterAll, also when a test fails.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { distRoot } from '../../deploy/local-cluster.js';
import {
  createHosts,
  netnsSupport,
  startNetnsCluster,
  startRedis,
  sweepStaleHosts,
  type HostSet,
  type NetnsCluster,
} from '../../deploy/netns/index.js';
import { run } from '../../deploy/netns/run.js';
import { client, eventually } from '../helpers/cluster.js';
import { faasflowBenchmarks, repoRoot } from '../../bench/paths.js';

const support = await netnsSupport().then(async (s) => {
  if (!s.ok) return s;
  return run(['redis-server', '--version']).then(
    () => s,
    (err: Error) => ({ ok: false as const, reason: `redis-server is missing: ${err.message}` }),
  );
});
if (!support.ok) {
  if (process.env['CI'] === 'true')
    throw new Error(`multi-host e2e needs root, iproute2 and redis-server: ${support.reason}`);
  console.warn(`skipping multi-host e2e: ${support.reason}`);
}

const TOKEN = 'multihost-e2e-token-01';
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse())
    await c().catch((err: Error) => console.error(`cleanup failed: ${err.message}`));
});

async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list']);
  return out.stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${prefix}-`));
}

describe.skipIf(!support.ok)('namespace hosts', () => {
  let set: HostSet;
  beforeAll(async () => {
    set = await createHosts({ count: 2, bandwidth: '50mbit' });
    cleanups.push(() => set.destroy());
  });

  it('reach each other over eth0, and have no route anywhere else', async () => {
    const [a, b] = set.hosts as [(typeof set.hosts)[0], (typeof set.hosts)[0]];
    expect((await set.exec(a, ['ip', 'route', 'get', b.address])).stdout).toMatch(/dev eth0/);
    await expect(set.exec(a, ['ip', 'route', 'get', '192.0.2.1'])).rejects.toThrow(/unreachable/i);
    expect((await run(['ip', 'route', 'get', a.address])).stdout).toMatch(
      new RegExp(`dev ${set.prefix}-up`),
    );
  });

  it('cap both directions of each link with a token bucket', async () => {
    const qdisc = JSON.parse(
      (await set.exec(set.hosts[0]!, ['tc', '-j', 'qdisc', 'show', 'dev', 'eth0'])).stdout,
    ) as { kind: string; options?: { rate?: number } }[];
    expect(qdisc).toContainEqual(
      expect.objectContaining({
        kind: 'tbf',
        options: expect.objectContaining({ rate: 50_000_000 / 8 }),
      }),
    );
    const port = (await run(['tc', '-n', `${set.prefix}-sw`, 'qdisc', 'show', 'dev', 'p0'])).stdout;
    expect(port).toMatch(/tbf .*rate 50Mbit/);
  });

  it('apply latency with netem, or refuse it with the reason and leave nothing behind', async () => {
    let delayed: HostSet | null = null;
    try {
      delayed = await createHosts({ count: 1, latencyMs: 3, prefix: 'fflat' });
      expect(
        (await delayed.exec(delayed.hosts[0]!, ['tc', 'qdisc', 'show', 'dev', 'eth0'])).stdout,
      ).toMatch(/netem .*delay 3ms/);
    } catch (err) {
      expect((err as Error).message).toMatch(
        /latencyMs needs the netem qdisc, which this kernel lacks/,
      );
    } finally {
      await delayed?.destroy();
    }
    expect(await namespacesWithPrefix('fflat')).toEqual([]);
  });

  it('destroy stops what runs inside and removes every namespace and link', async () => {
    const temp = await createHosts({ count: 2 });
    const sleeper = temp.spawn(temp.hosts[1]!, ['sleep', '600'], { stdio: 'ignore' });
    const exited = new Promise((r) => sleeper.once('exit', r));
    await temp.destroy();
    await exited;
    expect(await namespacesWithPrefix(temp.prefix)).toEqual([]);
    await expect(run(['ip', 'link', 'show', `${temp.prefix}-up`])).rejects.toThrow(
      /does not exist/,
    );
  });

  it('are removed when their owner crashes, or by the next owner when it was killed outright', async () => {
    const module = join(distRoot(), 'deploy', 'netns', 'index.js');
    const owner = (then: string) =>
      spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { createHosts } = await import(${JSON.stringify(module)}); const s = await createHosts({ count: 1 }); console.log(s.prefix); ${then}`,
        ],
        { stdio: ['ignore', 'pipe', 'ignore'] },
      );
    const prefixOf = (child: ReturnType<typeof owner>) =>
      new Promise<string>((resolve) =>
        child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim())),
      );

    const crashing = owner('throw new Error("test crash");');
    const crashed = await prefixOf(crashing);
    await new Promise((r) => crashing.once('exit', r));
    expect(await namespacesWithPrefix(crashed)).toEqual([]);

    const killed = owner('setInterval(() => {}, 1000);');
    const orphaned = await prefixOf(killed);
    expect(await namespacesWithPrefix(orphaned)).toHaveLength(2);
    const gone = new Promise((r) => killed.once('exit', r));
    killed.kill('SIGKILL');
    await gone;
    expect(await sweepStaleHosts()).toContain(orphaned);
    expect(await namespacesWithPrefix(orphaned)).toEqual([]);
  });
});

describe.skipIf(!support.ok)('a FaaSFlow benchmark across 3 hosts capped at 100 mbit', () => {
  let c: NetnsCluster;
  beforeAll(async () => {
    c = await startNetnsCluster({
      workers: 3,
      bandwidth: '100mbit',
      token: TOKEN,
      logDir: mkdtempSync(join(tmpdir(), 'faasflow-multihost-')),
      workerFlags: () => ['--cpu=2', '--inline-max-bytes=1024'],
    });
    cleanups.push(() => c.stop());
    await client(c.masterUrl).deploy(join(faasflowBenchmarks(), 'genome', 'flat_workflow.yaml'), {
      name: 'genome',
      runtimeScale: 0.01,
      sizeScale: 0.05,
    });
  });

  it('runs Genome: declared output, each node once, groups kept together, cross-host data through Redis', async () => {
    const api = client(c.masterUrl);
    const workers = (await api.request('GET', '/v1/workers')).body.workers as {
      id: string;
      url: string;
    }[];
    const hostOf = new Map(workers.map((w) => [w.id, new URL(w.url).hostname]));
    expect([...hostOf.values()].sort()).toEqual(c.workerHosts.map((h) => h.address).sort());
    const before = await Promise.all(c.workerHosts.map((h) => c.hosts.linkStats(h)));

    const r = await api.invoke('genome', {}, { timeoutMs: 60_000 });
    expect(r.error ?? null).toBeNull();
    expect(r).toMatchObject({ status: 'succeeded', output: { sinks: expect.any(Array) } });
    const steps = (
      (await api.invocation(r.invocationId)).steps as {
        node: string;
        worker: string;
        status: string;
        tier: string;
        outputBytes: number;
      }[]
    ).filter((s) => !s.node.includes('['));
    const declared = (
      parse(readFileSync(join(faasflowBenchmarks(), 'genome', 'flat_workflow.yaml'), 'utf8')) as {
        functions: { name: string }[];
      }
    ).functions.map((f) => f.name);
    expect(steps.map((s) => s.node).sort()).toEqual(declared.sort());
    expect(steps.every((s) => s.status === 'succeeded')).toBe(true);

    const step = new Map(steps.map((s) => [s.node, s]));
    const wf = (await api.request('GET', '/v1/workflows/genome')).body as {
      groups: string[][];
      dag: { edges: { from: string; to: string }[] };
    };
    for (const group of wf.groups)
      expect(new Set(group.map((n) => step.get(n)!.worker)).size).toBe(1);
    expect(new Set(steps.map((s) => s.worker)).size).toBeGreaterThan(1);

    const crossing = wf.dag.edges.filter(
      (e) => step.get(e.from)!.worker !== step.get(e.to)!.worker,
    );
    const stored = crossing.filter((e) => step.get(e.from)!.tier !== 'inline');
    expect(stored.length).toBeGreaterThan(0);
    for (const e of stored)
      expect({ edge: `${e.from}->${e.to}`, tier: step.get(e.from)!.tier }).toEqual({
        edge: `${e.from}->${e.to}`,
        tier: 'redis',
      });

    // Triggers crossed the hosts on the workers' channels, reports on the master's.
    const channelOps = async (url: string, who: string): Promise<Record<string, number>> => {
      const text = await (await fetch(`${url}/metrics`)).text();
      const re = new RegExp(
        `^faasflow_${who}_channel_requests_total\\{op="([^"]+)"\\} (\\d+)$`,
        'gm',
      );
      return Object.fromEntries([...text.matchAll(re)].map((m) => [m[1]!, Number(m[2])]));
    };
    const served = await Promise.all(workers.map((w) => channelOps(w.url, 'worker')));
    expect(served.reduce((n, s) => n + (s['triggers'] ?? 0), 0)).toBeGreaterThan(1);
    expect((await channelOps(c.masterUrl, 'master'))['reports'] ?? 0).toBeGreaterThan(0);

    const after = await Promise.all(c.workerHosts.map((h) => c.hosts.linkStats(h)));
    c.workerHosts.forEach((h, i) => {
      const worker = workers.find((w) => hostOf.get(w.id) === h.address)!.id;
      const putBytes = steps
        .filter((s) => s.worker === worker && s.tier === 'redis')
        .reduce((sum, s) => sum + s.outputBytes, 0);
      expect(after[i]!.txBytes - before[i]!.txBytes).toBeGreaterThanOrEqual(putBytes);
    });
  });
});

describe.skipIf(!support.ok)('faasflow-hosts on namespace hosts', () => {
  let set: HostSet;
  let dir: string;
  let inventory: string;
  const cli = (...args: string[]) =>
    new Promise<{ code: number; out: string }>((resolve) => {
      execFile(
        process.execPath,
        [
          join(distRoot(), 'deploy', 'hosts', 'main.js'),
          `--inventory=${inventory}`,
          '--wait-s=30',
          ...args,
        ],
        { timeout: 110_000 },
        (err, stdout, stderr) =>
          resolve({
            code: err ? Number((err as { code?: number }).code ?? 1) : 0,
            out: `${stdout}${stderr}`,
          }),
      );
    });
  const writeInventory = (logLevel: string): void => {
    const [h0, ...workers] = set.hosts;
    writeFileSync(
      inventory,
      [
        '[cluster]',
        `token = ${TOKEN}`,
        `redis_url = redis://${h0!.address}:6379`,
        `install_dir = ${dir}/opt`,
        'service_user = root',
        'ssh_command = ip netns exec {dest}',
        `node = ${process.execPath}`,
        'init = none',
        `log_level = ${logLevel}`,
        '[master]',
        `m address=${h0!.address} ssh=${h0!.namespace}`,
        '[workers]',
        ...workers.map(
          (h, i) => `w${i + 1} address=${h.address} ssh=${h.namespace} cpu=2 memory_mb=2048`,
        ),
        '',
      ].join('\n'),
    );
  };
  const pids = async (): Promise<string[]> =>
    (await cli('status')).out
      .split('\n')
      .filter((l) => / running /.test(l))
      .map((l) => l.split(/\s+/)[4]!);

  beforeAll(async () => {
    set = await createHosts({ count: 4 });
    cleanups.push(() => set.destroy());
    dir = mkdtempSync(join(tmpdir(), 'faasflow-hosts-e2e-'));
    cleanups.push(() => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    });
    inventory = join(dir, 'inventory');
    await startRedis(set, set.hosts[0]!);
    writeInventory('info');
  });

  it('refuses a bad inventory with its line before contacting any host', async () => {
    writeFileSync(join(dir, 'bad'), '[cluster]\ntoken = short\n');
    const r = await cli('status', `--inventory=${join(dir, 'bad')}`);
    expect(r.code, r.out).toBe(2);
    expect(r.out).toMatch(/bad:2: token "short" is not valid/);
  });

  it('installs, and a second install changes nothing', async () => {
    const first = await cli('install');
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/\+ release .* unpacked/);
    expect(first.out.match(/\+ config of (master|worker) \w+ written/g)).toHaveLength(4);
    const second = await cli('install');
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/done: nothing changed/);
  });

  it('starts the master and the workers, and a second start changes nothing', async () => {
    const first = await cli('start');
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/master sees 3 ready workers/);
    expect((await cli('start')).out).toMatch(/done: nothing changed/);
    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.out.match(/ running .* ok/g)).toHaveLength(4);
    expect(status.out).toMatch(/3\/3/);
  });

  it('runs a workflow on the installed cluster, on the namespace hosts', async () => {
    const api = client(`http://${set.hosts[0]!.address}:8080`);
    await api.deploy(join(repoRoot(), 'deploy', 'examples', 'hello.yaml'));
    const r = await api.invoke('hello', { name: 'ada' });
    expect(r).toMatchObject({ status: 'succeeded', output: { greeting: 'Hello, ADA!' } });
    const workers = (await api.request('GET', '/v1/workers')).body.workers as { url: string }[];
    expect(workers.map((w) => new URL(w.url).hostname).sort()).toEqual(
      set.hosts
        .slice(1)
        .map((h) => h.address)
        .sort(),
    );
  });

  it('rolls a configuration change out with upgrade, then upgrade changes nothing', async () => {
    const before = await pids();
    writeInventory('debug');
    expect((await cli('install')).out.match(/\+ config of \w+ \w+ written/g)).toHaveLength(4);
    expect((await cli('status')).out.match(/new-config: run upgrade/g)).toHaveLength(4);
    const upgrade = await cli('upgrade');
    expect(upgrade.code, upgrade.out).toBe(0);
    expect(upgrade.out.match(/\+ restarting \w+ \w+ \(new-config\)/g)).toHaveLength(4);
    const after = await pids();
    expect(after).toHaveLength(4);
    expect(after.filter((p) => before.includes(p))).toEqual([]);
    expect((await cli('upgrade')).out).toMatch(/done: nothing changed/);
    expect((await cli('status')).code).toBe(0);
  });

  it('stops every component; status then reports them stopped', async () => {
    expect((await cli('stop')).code).toBe(0);
    const status = await cli('status');
    expect(status.code).toBe(3);
    expect(status.out.match(/ stopped /g)).toHaveLength(4);
    await eventually(async () => {
      const left = await Promise.all(
        set.hosts.slice(1).map((h) => run(['ip', 'netns', 'pids', h.namespace])),
      );
      return left.every((l) => l.stdout.trim() === '');
    });
  });
});
