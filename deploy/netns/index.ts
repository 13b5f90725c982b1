/**
 * Namespace test hosts: the one import path for tests and benchmarks.
 *
 * `createHosts({count, bandwidth?, latencyMs?})` → `{hosts: [{name, address}], exec(host, cmd),
 * destroy()}`; `startNetnsCluster(...)` runs Redis, a master and one worker per host on them.
 */
export { createHosts, sweepStaleHosts } from './hosts.js';
export type { HostSet, HostsOptions, LinkStats, NetnsHost } from './hosts.js';
export { startNetnsCluster } from './cluster.js';
export type { NetnsCluster, NetnsClusterOptions } from './cluster.js';
export { startRedis } from './redis.js';
export type { NetnsRedis } from './redis.js';
export { parseBandwidth } from './shape.js';
export { netnsSupport } from './support.js';
