/**
 * A deployed workflow version as the catalogue keeps it and the master store persists it:
 * plain JSON (the DAG and partition are plain data), so every store round-trips it unchanged.
 * Its own file so the store port can name it without importing the catalogue (no cycle).
 */
import type { CompositionSpec } from '../../shared/compose/types.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import type { PartitionResult } from '../partition/index.js';

export interface WorkflowVersion {
  name: string;
  version: number;
  dag: WorkflowDag;
  partition: PartitionResult;
  /** Handler files (base64) by relative path. */
  files: Record<string, string>;
  warnings: string[];
  createdAt: string;
  /**
   * With `choose:` steps (docs/guides/composition.md): the spec, and variants 1.. each with its
   * own DAG and partition (variant 0 is `dag` and `partition` above). Workers hold variant i as
   * the deployment `<name>~<i>` of the same version.
   */
  composition?: {
    spec: CompositionSpec;
    variants: { dag: WorkflowDag; partition: PartitionResult }[];
  };
}
