import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
import { loadMasterConfig } from '../../../master/config.js';

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
