/**
 * A deployed workflow version as the catalogue keeps it and the master store persists it:
 * plain JSON (the DAG and partition are plain data), so every store round-trips it unchanged.
 * Its own file so the store port can name it without importing the catalogue (no cycle).
 */
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
}
