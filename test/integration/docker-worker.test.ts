/**
 * The runtime issue's end-to-end scenarios again with `--runtime docker`: a master and two
 * workers as real processes (from dist/) whose functions run in containers. Scenarios: each
 * worker says it chose the docker sandbox and why; a sequence; a fan-out 8 + join; a foreach of
 * 100; a switch with a join; a DAG join; a 20 MB payload between workers (handler files from
 * the deployment folder); a function failing twice then succeeding on retry; a timeout; a
 * failing function; a container OOM-killed on every attempt (FUNCTION_OOM, retried per policy); containers named and labelled after their worker; on SIGTERM the workers
 * remove every container they own. Then a worker configured for docker whose engine socket is
 * missing falls back to the process sandbox, says why, and still runs workflows.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { LABELS } from '../../worker/sandbox/docker-spec.js';
import { startCluster, type Api } from '../helpers/cluster.js';
import { ownedContainers, removeOwned, requireDocker } from '../helpers/docker.js';
import { repoRoot } from '../../bench/paths.js';

const hasDocker = await requireDocker();
const fixtures = join(repoRoot(), 'test/fixtures/workflows');
const run = randomBytes(3).toString('hex');
const workerId = (i: number): string => `dkw-${run}-${i}`;

interface LogLine {
  msg?: string;
  sandbox?: string;
  reason?: string;
  configured?: string;
}

function logLines(cluster: LocalCluster, name: string): LogLine[] {
  const p = cluster.processes.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no process ${name}`);
  return readFileSync(p.logFile, 'utf8')
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

describe.skipIf(!hasDocker)('workflows end to end with --runtime docker', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 2,
      runtime: 'docker',
      workerFlags: (i) => [`--worker-id=${workerId(i)}`, '--memory-mb=3072', '--cpu=2'],
    }));
    for (const f of [
      'sequence',
      'fanout',
      'foreach',
      'switch-join',
      'dag-join',
      'big-payload',
      'retry-timeout',
      'timeout',
      'failing',
    ]) {
      await api.deploy(join(fixtures, `${f}.yaml`));
    }
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
    for (const i of [1, 2]) await removeOwned(workerId(i));
  });

  it('has every worker say it chose the docker sandbox, and why', () => {
    for (const name of ['worker-1', 'worker-2']) {
      const chosen = logLines(cluster, name).find((l) => l.msg === 'sandbox chosen');
      expect(chosen).toMatchObject({ sandbox: 'docker' });
      expect(chosen?.reason).toMatch(
        /configured \(runtime: docker\) and the engine at .* answered/,
      );
    }
  });

  it('runs a sequence, a fan-out with join, a foreach, a switch and a DAG join', async () => {
    expect(await api.invoke('e2e-sequence', { n: 1 })).toMatchObject({
      status: 'succeeded',
      output: 10,
    });
    expect((await api.invoke('e2e-fanout', { base: 100 })).output).toEqual({
      total: 8 * 100 + 36,
      count: 8,
    });
    expect((await api.invoke('e2e-foreach', { count: 100 })).output).toEqual({
      n: 100,
      sum: 328350,
      first: [0, 1, 4, 9],
    });
    expect((await api.invoke('e2e-switch-join', { text: 'a bad day' })).output).toEqual({
      published: 'a *** day',
      via: 'mosaic',
    });
    expect((await api.invoke('e2e-dag-join', { v: 3 })).output).toEqual({
      keys: ['left', 'right', 'src'],
      sum: 37,
    });
  }, 60_000);

  it('moves a 20 MB payload between containers on different workers', async () => {
    const bytes = 20 * 1024 * 1024;
    const r = await api.invoke('e2e-big', { bytes });
    expect(r.status).toBe('succeeded');
    expect(r.output.bytes).toBe(bytes);
    const inv = await api.invocation(r.invocationId);
    const workers = new Set(inv.steps.map((s: { worker: string }) => s.worker));
    expect(workers.size).toBe(2);
  }, 60_000);

  it('retries, times out and fails functions as with processes', async () => {
    expect(await api.invoke('e2e-faults', null)).toMatchObject({
      status: 'succeeded',
      output: { ok: true, attempt: 3 },
    });
    const timedOut = await api.invoke('e2e-timeout', null);
    expect(timedOut).toMatchObject({ status: 'failed', error: { code: 'FUNCTION_TIMEOUT' } });
    expect(timedOut.error.message).toContain('slow');
    const failed = await api.invoke('e2e-failing', { a: 1 });
    expect(failed.error).toMatchObject({ code: 'FUNCTION_FAILED' });
    expect(failed.error.message).toMatch(/boom.*bad data/);
  }, 60_000);

  it('reports an OOM-killed container as FUNCTION_OOM after the retries its policy allows', async () => {
    const yaml = [
      'name: dk-oom',
      'functions:',
      '  hog: { code: "export default async () => { const a = []; for (;;) a.push(Buffer.alloc(8 << 20, 1)); }", memory: 128, retries: 1 }',
      'flow: hog',
    ].join('\n');
    expect((await api.request('POST', '/v1/workflows', { yaml })).status).toBe(201);
    const r = await api.invoke('dk-oom', null);
    expect(r).toMatchObject({ status: 'failed', error: { code: 'FUNCTION_OOM' } });
    // One retry (retries: 1): the engine's policy retried the retryable FUNCTION_OOM once.
    expect(r.error.message).toMatch(
      /failed after 2 attempts: .*ran out of memory \(limit 128 MB\)/,
    );
  }, 60_000);

  it('names and labels the containers after their worker, and removes them all on SIGTERM', async () => {
    const before = [
      ...(await ownedContainers(workerId(1))),
      ...(await ownedContainers(workerId(2))),
    ];
    expect(before.length).toBeGreaterThan(0);
    for (const c of before) {
      expect(c.name).toMatch(new RegExp(`^ff-dkw-${run}-[12]-`));
      expect(c.labels[LABELS.workflow]).toMatch(/^(e2e-|dk-oom$)/);
    }
    await cluster.stop();
    expect(
      cluster.processes.filter((p) => p.name.startsWith('worker')).map((p) => p.child.signalCode),
    ).toEqual([null, null]);
    expect([
      ...(await ownedContainers(workerId(1))),
      ...(await ownedContainers(workerId(2))),
    ]).toEqual([]);
  }, 60_000);
});

describe.skipIf(!hasDocker)('--runtime docker without a reachable engine', () => {
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    ({ cluster, api } = await startCluster({
      workers: 1,
      runtime: 'docker',
      workerFlags: () => [
        `--worker-id=dkw-${run}-fallback`,
        '--docker-socket=/tmp/faasflow-no-engine.sock',
      ],
    }));
    await api.deploy(join(fixtures, 'sequence.yaml'));
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('falls back to the process sandbox, says why, and runs workflows', async () => {
    const chosen = logLines(cluster, 'worker-1').find((l) => l.msg === 'sandbox chosen');
    expect(chosen).toMatchObject({ sandbox: 'process', configured: 'docker' });
    expect(chosen?.reason).toMatch(/no Docker engine answered: .*\/tmp\/faasflow-no-engine\.sock/);
    expect(await api.invoke('e2e-sequence', { n: 1 })).toMatchObject({
      status: 'succeeded',
      output: 10,
    });
    const workers = await api.request('GET', '/v1/workers');
    expect(JSON.stringify(workers.body)).toContain('"runtime":"process"');
  });
});
