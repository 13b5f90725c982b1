/**
 * `faasflow bench chains --near` (docs/guides/chains.md#placement-near-what-a-chain-uses): placement
 * near what a chain uses, on network-namespace hosts with capped links. A "database" (an HTTP
 * server holding a `--blob-kb` object) runs on worker host h1, whose worker carries the label
 * `near=db`; the other workers carry none. The same workflow — a `query` step that reads the
 * object from the database, then a `report` step — is deployed twice: with `uses: [near=db]` on
 * the query, and without. Invocations alternate between the two; measured per variant is where
 * the query ran, how long its run took (the read), and the end-to-end latency.
 *
 * Needs root (it makes the namespaces and the capped links); it says so without. Traffic stays
 * on the namespace hosts this run creates.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepRecord } from '../shared/schema/wire.js';
import { BenchClient } from './overhead-load.js';
import { formatTable, median, publishReport } from './report.js';

export interface ChainsNearOptions {
  hosts: number;
  bandwidth: string;
  /** Size of the object the query reads, KB. */
  blobKb: number;
  warmup: number;
  repetitions: number;
  reportDir?: string | null;
  print: (line: string) => void;
}

export interface NearRow {
  variant: 'uses near=db' | 'no uses';
  invocations: number;
  /** Share of the queries that ran on the labelled worker. */
  onLabelled: number;
  /** Medians, ms. */
  queryRunMs: number;
  e2eMs: number;
}

const DB_PORT = 7070;

/** The database: serves `bytes` bytes at /blob on `address`. */
function dbServer(address: string, bytes: number): string {
  return `const http = require('node:http');
const blob = Buffer.alloc(${bytes}, 7);
http.createServer((req, res) => {
  res.setHeader('content-length', blob.length);
  res.end(blob);
}).listen(${DB_PORT}, ${JSON.stringify(address)});`;
}

function workflow(name: string, dbUrl: string, uses: boolean): string {
  const query = `export default async (x) => { const r = await fetch(${JSON.stringify(dbUrl)}); const b = Buffer.from(await r.arrayBuffer()); return { n: x.n, bytes: b.length }; }`;
  return `name: ${name}
functions:
  query: { code: ${JSON.stringify(query)}, network: host, memory: 384${uses ? ', uses: [near=db]' : ''} }
  report: { code: "export default async (x) => ({ n: x.n, bytes: x.bytes })", memory: 384 }
flow:
  sequence: [query, report]
`;
}

export async function runChainsNear(o: ChainsNearOptions): Promise<NearRow[]> {
  const { print } = o;
  if (process.getuid?.() !== 0)
    throw new Error('bench chains --near needs root: it makes network namespaces and caps links');
  const startedAt = new Date();
  print(
    `chains (near): ${o.hosts} namespace worker hosts at ${o.bandwidth}, the database and the near=db label on h1, a ${o.blobKb} KB read per query, ${o.warmup} warm-up + ${o.repetitions} measured per variant, alternating`,
  );
  const { startNetnsCluster } = await import('../deploy/netns/index.js');
  const cluster = await startNetnsCluster({
    workers: o.hosts,
    logDir: mkdtempSync(join(tmpdir(), 'faasflow-bench-chains-near-')),
    mode: 'worker',
    token: 'bench-chains-near-token',
    bandwidth: o.bandwidth,
    // Round robin: without a preference, the query's group goes to each worker in turn.
    placement: 'round-robin',
    workerFlags: (i) => (i === 1 ? ['--labels', 'near=db'] : []),
  });
  const dbHost = cluster.workerHosts[0]!;
  const db = cluster.hosts.spawn(dbHost, [
    process.execPath,
    '-e',
    dbServer(dbHost.address, o.blobKb * 1024),
  ]);
  const client = new BenchClient(cluster.masterUrl, 4);
  try {
    const dbUrl = `http://${dbHost.address}:${DB_PORT}/blob`;
    const variants = [
      { variant: 'uses near=db' as const, name: 'near-labelled', uses: true },
      { variant: 'no uses' as const, name: 'near-plain', uses: false },
    ];
    for (const v of variants) await client.deploy(workflow(v.name, dbUrl, v.uses));
    const labelled = (await client.get('/v1/workers')) as {
      workers: { id: string; labels?: Record<string, string> }[];
    };
    const near = new Set(labelled.workers.filter((w) => w.labels?.near === 'db').map((w) => w.id));
    const samples = new Map(
      variants.map((v) => [v.variant, { on: 0, run: [] as number[], e2e: [] as number[] }]),
    );
    for (let i = 0; i < o.warmup + o.repetitions; i++) {
      for (const v of variants) {
        const r = await invokeReady(client, v.name, { n: i });
        if (i < o.warmup) continue;
        const s = samples.get(v.variant)!;
        s.e2e.push(r.durationMs);
        const inv = (await eventuallySteps(client, r.invocationId)) as {
          steps: StepRecord[];
          output?: { bytes?: number };
        };
        const q = inv.steps.find((x) => x.node.includes('query'))!;
        if (inv.output?.bytes !== o.blobKb * 1024)
          throw new Error(
            `${v.name}: the query read ${JSON.stringify(inv.output)}, not the object`,
          );
        s.run.push(q.runMs ?? q.finishedAt - q.startedAt);
        if (near.has(q.worker)) s.on++;
      }
    }
    const rows = variants.map((v): NearRow => {
      const s = samples.get(v.variant)!;
      return {
        variant: v.variant,
        invocations: s.e2e.length,
        onLabelled: s.on / Math.max(1, s.e2e.length),
        queryRunMs: median(s.run),
        e2eMs: median(s.e2e),
      };
    });
    const plain = rows[1]!;
    for (const line of formatTable(
      ['variant', 'invocations', 'query on h1', 'query run p50', 'e2e p50', 'e2e vs no uses'],
      rows.map((r) => [
        r.variant,
        String(r.invocations),
        `${(r.onLabelled * 100).toFixed(0)} %`,
        `${r.queryRunMs.toFixed(1)} ms`,
        `${r.e2eMs.toFixed(0)} ms`,
        `${(r.e2eMs / plain.e2eMs).toFixed(2)}×`,
      ]),
      ['left'],
    ))
      print(line);
    if (o.reportDir !== null) {
      const { print: _p, ...options } = o;
      publishReport(
        'chains-near',
        startedAt,
        { options, rows },
        { print, ...(o.reportDir !== undefined ? { reportDir: o.reportDir } : {}) },
      );
    }
    return rows;
  } finally {
    db.kill('SIGTERM');
    await client.close();
    await cluster.stop();
  }
}

/** Invokes, retrying while a worker does not hold the new workflow yet (503 NO_WORKERS). */
async function invokeReady(
  client: BenchClient,
  name: string,
  input: unknown,
): Promise<{ invocationId: string; durationMs: number }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await client.invoke(name, input);
      if (r.status !== 'succeeded') throw new Error(`${name}: ${r.status} ${r.error ?? ''}`);
      return r;
    } catch (err) {
      if (attempt >= 20 || !/NO_WORKERS/.test(String(err))) throw err;
      await sleep(250);
    }
  }
}

/** The invocation once the master holds its two steps. */
async function eventuallySteps(client: BenchClient, id: string): Promise<unknown> {
  for (let i = 0; ; i++) {
    const inv = (await client.invocation(id)) as { steps?: unknown[] };
    if ((inv.steps?.length ?? 0) >= 2 || i >= 50) return inv;
    await sleep(100);
  }
}
