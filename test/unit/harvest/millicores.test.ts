import { describe, expect, it } from 'vitest';
import {
  allocationAtLeast,
  milliAtLeast,
  milliAtMost,
  milliAxis,
  stepsIn,
} from '../../../shared/harvest/grid.js';
import { harvestGridOf } from '../../../master/harvest/options.js';
import { loadWorkflow } from '../../../master/workflow/index.js';
import {
  ALLOCATION_GRID,
  THESIS_GRID,
  coresOf,
  gridWith,
  millicores,
} from '../../../shared/harvest/types.js';

const fn = (cpu: string): string => `
name: w
functions:
  f: { code: "export default async (x) => x", cpu: ${cpu} }
flow: { task: f }
`;

describe('cpu in a workflow', () => {
  it('takes cores or Kubernetes millicores, from 0.05 core, kept to whole millicores', () => {
    const cpuOf = (v: string): number | undefined => loadWorkflow(fn(v)).dag?.functions['f']?.cpu;
    expect(cpuOf('0.25')).toBe(0.25);
    expect(cpuOf('"250m"')).toBe(0.25);
    expect(cpuOf('"1500m"')).toBe(1.5);
    expect(cpuOf('2')).toBe(2);
    expect(cpuOf('0.05')).toBe(0.05);
    expect(cpuOf('"50m"')).toBe(0.05);
  });

  it('rejects less than 0.05 core, more than 8, fractions of a millicore and other text', () => {
    for (const bad of ['0.04', '"49m"', '8.001', '"9000m"', '0.0005', '"half"', '"0.5m"']) {
      const r = loadWorkflow(fn(bad));
      expect(r.dag ?? null, bad).toBeNull();
      expect(JSON.stringify(r), bad).toContain('cpu');
    }
  });
});

describe('the millicore grid', () => {
  it('defaults to 0.05-core and 64 MB steps; the thesis grid is whole cores and 128 MB', () => {
    expect(ALLOCATION_GRID.cpu).toEqual({ min: 0.05, max: 8, step: 0.05 });
    expect(ALLOCATION_GRID.memoryMb).toEqual({ min: 64, max: 8192, step: 64 });
    expect(THESIS_GRID.cpu).toEqual({ min: 1, max: 8, step: 1 });
    expect(harvestGridOf({ harvestGrid: 'thesis' })).toEqual(THESIS_GRID);
    expect(harvestGridOf({ harvestGrid: 'fine' })).toEqual(ALLOCATION_GRID);
  });

  it('rounds a minimum up to a multiple of the step and follows step overrides', () => {
    expect(gridWith(ALLOCATION_GRID, { cpuStep: 0.1 }).cpu).toEqual({
      min: 0.1,
      max: 8,
      step: 0.1,
    });
    expect(gridWith(ALLOCATION_GRID, { cpuStep: 0.25, cpuMin: 0.3 }).cpu).toEqual({
      min: 0.5,
      max: 8,
      step: 0.25,
    });
    expect(
      harvestGridOf({ harvestGrid: 'fine', harvestMemoryStepMb: 128, harvestCpuMin: 0.5 }),
    ).toEqual({
      cpu: { min: 0.5, max: 8, step: 0.05 },
      memoryMb: { min: 128, max: 8192, step: 128 },
    });
  });

  it('works in integer millicores: sums are exact and A(P) is the next 50 m', () => {
    expect(millicores(0.1 + 0.2)).toBe(300);
    expect([0.5, 0.5, 0.5].reduce((s, c) => s + millicores(c), 0)).toBe(1500);
    expect(coresOf(250)).toBe(0.25);
    const a = milliAxis(ALLOCATION_GRID.cpu);
    expect(a).toEqual({ min: 50, max: 8000, step: 50 });
    expect(milliAtLeast(1234, a)).toBe(1250);
    expect(milliAtLeast(1250.0000001, a)).toBe(1250);
    expect(milliAtLeast(10, a)).toBe(50);
    expect(milliAtLeast(8001, a)).toBeNull();
    expect(milliAtMost(1499, a)).toBe(1450);
    expect(allocationAtLeast(2.78, ALLOCATION_GRID.cpu)).toBe(2.8);
    expect(allocationAtLeast(2.78, THESIS_GRID.cpu)).toBe(3);
    // A 1.5-core budget is 30 steps of 50 m, or 1 whole core on the thesis's grid.
    expect(stepsIn(1.5, ALLOCATION_GRID.cpu)).toBe(30);
    expect(stepsIn(1.5, THESIS_GRID.cpu)).toBe(1);
  });
});
