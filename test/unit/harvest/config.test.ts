import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
import { loadMasterConfig } from '../../../master/config.js';
import { harvestGridOf } from '../../../master/harvest/options.js';
import { ALLOCATION_GRID, THESIS_GRID } from '../../../shared/harvest/types.js';

describe('master harvesting options', () => {
  it('are off by default, with the documented defaults', () => {
    const c = loadMasterConfig({}, {});
    expect(c).toMatchObject({
      harvest: 'off',
      retrainEvery: 20,
      profileLimit: 10_000,
      trainLimit: 2_000,
      redisPrefix: 'ff:',
    });
    expect(c.redisUrl).toBeUndefined();
  });

  it('refuse harvest on without a Redis URL, naming both options', () => {
    let err: unknown;
    try {
      loadMasterConfig({ harvest: 'on' }, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID' });
    expect((err as AppError).message).toContain('harvest');
    expect((err as AppError).message).toContain('--redis-url');
  });

  it('read harvesting settings from the environment', () => {
    const c = loadMasterConfig(
      { retrainEvery: '5' },
      { FAASFLOW_HARVEST: 'on', FAASFLOW_REDIS_URL: 'redis://127.0.0.1:6379' },
    );
    expect(c).toMatchObject({ harvest: 'on', redisUrl: 'redis://127.0.0.1:6379', retrainEvery: 5 });
  });
});

describe('master grid, policy and measurement options', () => {
  it('default to the fine grid, work shares, live models and serial profiling', () => {
    const c = loadMasterConfig({}, {});
    expect(c).toMatchObject({
      harvestGrid: 'fine',
      harvestPolicy: 'work',
      freezeModels: false,
      profileSiblings: 'serial',
    });
    expect(harvestGridOf(c)).toEqual(ALLOCATION_GRID);
  });

  it('read the thesis grid one setting away, overrides, and the environment', () => {
    const c = loadMasterConfig(
      { harvestGrid: 'thesis', harvestPolicy: 'peak', freezeModels: 'true' },
      { FAASFLOW_PROFILE_SIBLINGS: 'parallel', FAASFLOW_HARVEST_MEMORY_STEP_MB: '256' },
    );
    expect(c).toMatchObject({
      harvestPolicy: 'peak',
      freezeModels: true,
      profileSiblings: 'parallel',
    });
    expect(harvestGridOf(c)).toEqual({
      cpu: THESIS_GRID.cpu,
      memoryMb: { min: 256, max: 8192, step: 256 },
    });
    expect(() => loadMasterConfig({ harvestPolicy: 'greedy' }, {})).toThrow(/harvestPolicy/);
  });
});
