/** The master's harvest options turned into what the harvester takes. Pure. */
import {
  ALLOCATION_GRID,
  gridWith,
  THESIS_GRID,
  type AllocationGrid,
} from '../../shared/harvest/types.js';
import type { MasterConfig } from '../config.js';

type GridOptions = Pick<
  MasterConfig,
  'harvestGrid' | 'harvestCpuStep' | 'harvestCpuMin' | 'harvestMemoryStepMb' | 'harvestMemoryMinMb'
>;

/**
 * The allocation grid the options describe: `harvestGrid` picks the base (fine or the
 * thesis's), the step and minimum options override its axes.
 */
export function harvestGridOf(config: GridOptions): AllocationGrid {
  const base = config.harvestGrid === 'thesis' ? THESIS_GRID : ALLOCATION_GRID;
  return gridWith(base, {
    ...(config.harvestCpuStep === undefined ? {} : { cpuStep: config.harvestCpuStep }),
    ...(config.harvestCpuMin === undefined ? {} : { cpuMin: config.harvestCpuMin }),
    ...(config.harvestMemoryStepMb === undefined
      ? {}
      : { memoryStepMb: config.harvestMemoryStepMb }),
    ...(config.harvestMemoryMinMb === undefined ? {} : { memoryMinMb: config.harvestMemoryMinMb }),
  });
}
