/** The options and defaults of `faasflow bench chains --cluster` (bench/chains-cluster.ts). */
export interface ChainsClusterOptions {
  rounds: number;
  warmup: number;
  /** The workers' sandbox idle timeout, ms. */
  idleMs: number;
  /** Mean of the exponential extra gap between rounds (on top of the idle timeout), ms. */
  meanGapMs: number;
  /** The successor starts this long after its predecessor's start, ms. */
  successorGapMs: number;
  runtime: 'process' | 'docker';
  budget: number;
  seed: number;
  /** Sandboxes each worker starts at once (absent: the worker's default, its cores; 0: no limit). */
  startConcurrency?: number;
  reportDir?: string | null;
  print: (line: string) => void;
}

export const CHAINS_CLUSTER_DEFAULTS: Omit<ChainsClusterOptions, 'print'> = {
  rounds: 30,
  warmup: 8,
  idleMs: 1_500,
  meanGapMs: 1_000,
  successorGapMs: 1_000,
  runtime: 'process',
  budget: 0.1,
  seed: 1,
};
