/**
 * A faasflow cluster spread over namespace hosts: host h0 runs Redis and the master, hosts
 * h1..hN one worker each (worker `w<i>` on `h<i>`), every process bound to its host's address,
 * so worker-to-worker triggers and Redis traffic cross the (optionally shaped) test network.
 * `stop()` stops the processes and removes the hosts, whatever state start() reached.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster } from '../local-cluster.js';
import { createHosts, type HostSet, type NetnsHost } from './hosts.js';
import { startRedis, type NetnsRedis } from './redis.js';

export interface NetnsClusterOptions {
  /** Worker hosts; one more host (h0) runs Redis and the master. */
  workers: number;
  /** Rate cap per host link and direction, e.g. `25mbit`. */
  bandwidth?: string | number;
  /** One-way delay per packet a host sends, ms (needs netem). */
  latencyMs?: number;
  /** Where every process's log goes. */
  logDir: string;
  /** Cluster token shared by master and workers. */
  token?: string;
  /** Start Redis on h0 and give its URL to the workers. Default true. */
  redis?: boolean;
  redisPort?: number;
  mode?: 'worker' | 'master';
  placement?: 'greedy-jsq' | 'composition-jsq' | 'jsq' | 'round-robin' | 'hash';
  /** Extra flags of the master; a function is given its host (e.g. for a certificate of its address). */
  masterFlags?: string[] | ((control: NetnsHost) => string[]);
  /** Extra flags per worker index (1-based), with the worker's host. */
  workerFlags?: (index: number, host: NetnsHost) => string[];
  logLevel?: string;
  readyTimeoutMs?: number;
}

export interface NetnsCluster {
  hosts: HostSet;
  /** h0: Redis and the master. */
  control: NetnsHost;
  /** Worker `w<i>` runs on `workerHosts[i - 1]`. */
  workerHosts: NetnsHost[];
  masterUrl: string;
  redisUrl: string | null;
  local: LocalCluster;
  stop(): Promise<void>;
}

export async function startNetnsCluster(o: NetnsClusterOptions): Promise<NetnsCluster> {
  mkdirSync(o.logDir, { recursive: true });
  const hosts = await createHosts({
    count: o.workers + 1,
    ...(o.bandwidth === undefined ? {} : { bandwidth: o.bandwidth }),
    ...(o.latencyMs === undefined ? {} : { latencyMs: o.latencyMs }),
  });
  const [control, ...workerHosts] = hosts.hosts as [NetnsHost, ...NetnsHost[]];
  let redis: NetnsRedis | null = null;
  let local: LocalCluster | null = null;
  const stop = async (): Promise<void> => {
    try {
      await local?.stop();
      await redis?.stop();
    } finally {
      await hosts.destroy();
    }
  };
  try {
    let redisUrl: string | null = null;
    if (o.redis ?? true) {
      redis = await startRedis(hosts, control, {
        ...(o.redisPort === undefined ? {} : { port: o.redisPort }),
        logFile: join(o.logDir, 'redis.log'),
      });
      redisUrl = redis.url;
    }
    const masterFlags =
      typeof o.masterFlags === 'function' ? o.masterFlags(control) : (o.masterFlags ?? []);
    local = new LocalCluster({
      workers: o.workers,
      logDir: o.logDir,
      ...(o.logLevel === undefined ? {} : { logLevel: o.logLevel }),
      ...(redisUrl === null ? {} : { redisUrl }),
      ...(o.mode === undefined ? {} : { mode: o.mode }),
      ...(o.placement === undefined ? {} : { placement: o.placement }),
      ...(o.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: o.readyTimeoutMs }),
      env: o.token === undefined ? {} : { FAASFLOW_TOKEN: o.token },
      // A test cluster on private namespace hosts: auth stays off unless the caller turns it on
      // (a non-loopback master must be told either way).
      masterFlags: [
        `--host=${control.address}`,
        ...(masterFlags.some((f) => f.startsWith('--auth')) ? [] : ['--auth=off']),
        ...masterFlags,
      ],
      // Workers on namespace hosts are not loopback: without a cluster token they must be
      // told to run open.
      workerFlags: (i) => {
        const host = workerHosts[i - 1]!;
        return [
          `--host=${host.address}`,
          ...(o.token === undefined ? ['--insecure'] : []),
          ...(o.workerFlags?.(i, host) ?? []),
        ];
      },
      launcher: (name) =>
        hosts.launcher(name === 'master' ? control : workerHost(workerHosts, name)),
    });
    await local.start();
    return { hosts, control, workerHosts, masterUrl: local.masterUrl, redisUrl, local, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function workerHost(workerHosts: NetnsHost[], name: string): NetnsHost {
  const index = Number(/^worker-(\d+)$/.exec(name)?.[1]);
  const host = workerHosts[index - 1];
  if (!host) throw new Error(`no namespace host for process ${name}`);
  return host;
}
