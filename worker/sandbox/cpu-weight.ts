/**
 * CPU weight in proportion to an allocation, as Kubernetes sets it beside the quota: the quota
 * caps a sandbox, the weight makes its allocation count when the cores are contended (CFS shares
 * the CPU among runnable groups by weight). Pure; cgroup.ts writes v1 `cpu.shares` and v2
 * `cpu.weight`, docker-spec.ts Docker's `CpuShares`.
 */

/** Kubernetes' CPU shares of an allocation: millicores × 1024 / 1000, from 2 to 262144. */
export function cpuSharesOf(cores: number): number {
  const mc = Math.round(cores * 1000);
  return Math.max(2, Math.min(262_144, Math.round((mc * 1024) / 1000)));
}

/** cgroup v2 `cpu.weight` (1..10000) of an allocation, from its shares as Kubernetes converts. */
export function cpuWeightOf(cores: number): number {
  const w = 1 + Math.floor(((cpuSharesOf(cores) - 2) * 9999) / 262_142);
  return Math.max(1, Math.min(10_000, w));
}
