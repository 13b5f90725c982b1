/**
 * `faasflow up`: a local cluster in the foreground (master + N workers as processes). With
 * `--demo` it also deploys the example workflows, runs one, and prints where to look next.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalCluster } from '../local-cluster.js';
import { deploy, invoke } from './client.js';
import { credentialsFile, saveApiKey } from './credentials.js';

export interface UpOptions {
  workers: number;
  port: number;
  redisUrl?: string;
  runtime: 'process' | 'docker';
  mode: 'worker' | 'master';
  demo: boolean;
  /** Stop after the demo instead of staying in the foreground. */
  exitAfterDemo: boolean;
  /** The master's lmdb data folder (without Redis). Default `.faasflow`. */
  dataDir?: string;
  /**
   * `on`: the master requires API keys; its admin key (`<dataDir>/admin.key`) is saved in the
   * credentials file for its URL, so the CLI finds it by itself. Default off (loopback).
   */
  auth?: 'on' | 'off';
}

export function examplesDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/deploy/cli → repo/deploy/examples; deploy/cli → deploy/examples
  for (const candidate of [
    resolve(here, '..', 'examples'),
    resolve(here, '..', '..', '..', 'deploy', 'examples'),
  ]) {
    try {
      if (readdirSync(candidate).some((f) => f.endsWith('.yaml'))) return candidate;
    } catch {
      // try the next
    }
  }
  throw new Error('example workflows not found (deploy/examples)');
}

export async function up(o: UpOptions): Promise<number> {
  const logDir = mkdtempSync(join(tmpdir(), 'faasflow-up-'));
  const adminKeyFile = resolve(o.dataDir ?? '.faasflow', 'admin.key');
  const cluster = new LocalCluster({
    workers: o.workers,
    port: o.port,
    runtime: o.runtime,
    mode: o.mode,
    logDir,
    ...(o.redisUrl ? { redisUrl: o.redisUrl } : {}),
    // The master keeps its state where a later `up` finds it again; with Redis, the journal
    // and the master's store live there (docs/durability.md).
    masterFlags: [
      '--store=auto',
      `--data-dir=${o.dataDir ?? '.faasflow'}`,
      ...(o.redisUrl ? [`--redis-url=${o.redisUrl}`] : []),
      ...(o.auth === 'on' ? ['--auth=on', `--admin-key-file=${adminKeyFile}`] : []),
    ],
  });
  const stop = async (): Promise<void> => {
    console.log('\nstopping the cluster…');
    await cluster.stop();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  const started = Date.now();
  try {
    await cluster.start();
  } catch (err) {
    console.error(`the cluster did not start: ${(err as Error).message}`);
    await cluster.stop();
    return 1;
  }
  const m = cluster.masterUrl;
  console.log(
    `faasflow: master ${m} with ${o.workers} worker${o.workers === 1 ? '' : 's'} (${o.runtime} sandboxes, ${o.redisUrl ? `Redis ${o.redisUrl}` : 'no Redis: peer data tier'}, ${o.mode === 'worker' ? 'WorkerSP' : 'MasterSP'}) up in ${Date.now() - started} ms`,
  );
  console.log(`  logs: ${logDir}`);
  if (o.auth === 'on') {
    saveApiKey(m, readFileSync(adminKeyFile, 'utf8').trim());
    console.log(
      `  auth on: the admin key is in ${adminKeyFile}; saved for ${m} in ${credentialsFile()}, where faasflow finds it`,
    );
  }
  if (o.demo) {
    try {
      await demo(m);
    } catch (err) {
      console.error(`demo failed: ${(err as Error).message}`);
      await cluster.stop();
      return 1;
    }
  }
  if (o.exitAfterDemo) {
    await cluster.stop();
    return 0;
  }
  console.log('\nRunning in the foreground; Ctrl-C stops the cluster.');
  await new Promise<never>(() => undefined);
  return 0;
}

async function demo(master: string): Promise<void> {
  const dir = examplesDir();
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  console.log('\ndeploying the examples:');
  for (const f of files) {
    const r = (await deploy(master, join(dir, f))) as {
      name: string;
      version: number;
      nodes: number;
      groups: unknown[];
    };
    console.log(
      `  ${r.name} v${r.version}: ${r.nodes} nodes in ${r.groups.length} group${r.groups.length === 1 ? '' : 's'}`,
    );
  }
  const input = { video: 'cats.mp4', segments: 6 };
  console.log(`\ninvoking video-analytics with ${JSON.stringify(input)}:`);
  const r = (await invoke(master, 'video-analytics', input, true)) as {
    invocationId: string;
    status: string;
    output: unknown;
    durationMs: number;
    error?: unknown;
  };
  console.log(`  ${r.status} in ${r.durationMs} ms → ${JSON.stringify(r.output ?? r.error)}`);
  if (r.status !== 'succeeded') throw new Error(`the demo invocation ${r.status}`);
  console.log('\nnext:');
  console.log(
    `  timeline:   curl ${master}/v1/invocations/${r.invocationId}   (or: faasflow status ${r.invocationId} --master ${master})`,
  );
  console.log(`  invoke:     faasflow invoke hello --input '{"name":"ada"}' --master ${master}`);
  console.log(`  workers:    curl ${master}/v1/workers`);
  console.log(
    `  your own:   faasflow validate my.yaml && faasflow deploy my.yaml --master ${master}`,
  );
}
