/**
 * The partitioner: splits a compiled workflow DAG into groups, each run on one worker, so that
 * heavy edges stay in a worker's memory. Pure: plain data in, plain data out, no I/O.
 */
export { partition } from './partition.js';
export { partitionFaasflow } from './faasflow.js';
export {
  PARTITION_DEFAULTS,
  type PartitionEdge,
  type PartitionOptions,
  type PartitionResult,
  type WorkerCapacity,
} from './options.js';
