import { Type } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../shared/errors.js';
import { envFor, loadConfig } from '../../shared/config.js';
import { loadMasterConfig, MasterConfigSchema } from '../../master/config.js';
import { storeKind } from '../../master/store/types.js';
import { loadWorkerConfig, WorkerConfigSchema } from '../../worker/config.js';

function configError(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error('expected a CONFIG_INVALID error, nothing was thrown');
}

function problems(err: AppError): string[] {
  return (err.details as { problems: string[] }).problems;
}

const Small = Type.Object({
  verbose: Type.Boolean({ default: false }),
  ratio: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
  name: Type.String({ default: 'x' }),
});

describe('envFor', () => {
  it('maps FAASFLOW_SNAKE_CASE variables to camelCase schema keys', () => {
    const raw = envFor(WorkerConfigSchema, {
      FAASFLOW_MASTER_URL: 'http://127.0.0.1:9000',
      FAASFLOW_MEMORY_QUOTA_MB: '64',
      FAASFLOW_MAX_CONCURRENCY_PER_FUNCTION: '2',
      FAASFLOW_PORT: '7001',
    });
    expect(raw).toEqual({
      masterUrl: 'http://127.0.0.1:9000',
      memoryQuotaMb: '64',
      maxConcurrencyPerFunction: '2',
      port: '7001',
    });
  });

  it('ignores unprefixed, unknown and empty variables', () => {
    const raw = envFor(MasterConfigSchema, {
      PORT: '1',
      FAASFLOW_NOT_AN_OPTION: 'x',
      FAASFLOW_HOST: '',
      FAASFLOW_MODE: 'master',
    });
    expect(raw).toEqual({ mode: 'master' });
  });

  it('honours a custom prefix', () => {
    expect(envFor(MasterConfigSchema, { APP_PORT: '81', FAASFLOW_PORT: '82' }, 'APP_')).toEqual({
      port: '81',
    });
  });
});

describe('loadConfig', () => {
  it('fills every default when nothing is set', () => {
    const c = loadMasterConfig({}, {});
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      mode: 'worker',
      placement: 'greedy-jsq',
      workerTimeoutMs: 5000,
    });
    expect(c.token).toBeUndefined();
    const w = loadWorkerConfig({}, {});
    expect(w).toMatchObject({
      masterUrl: 'http://127.0.0.1:8080',
      runtime: 'process',
      redisPrefix: 'ff:',
      port: 0,
    });
    expect(w.cpu).toBeGreaterThan(0);
  });

  it('reads options from FAASFLOW_* environment variables', () => {
    const w = loadWorkerConfig(
      {},
      { FAASFLOW_MASTER_URL: 'http://127.0.0.1:9999', FAASFLOW_RUNTIME: 'docker' },
    );
    expect(w.masterUrl).toBe('http://127.0.0.1:9999');
    expect(w.runtime).toBe('docker');
  });

  it('lets flags override the environment', () => {
    const c = loadMasterConfig(
      { port: '9100', placement: 'hash' },
      { FAASFLOW_PORT: '9000', FAASFLOW_PLACEMENT: 'jsq', FAASFLOW_MODE: 'master' },
    );
    expect(c.port).toBe(9100);
    expect(c.placement).toBe('hash');
    expect(c.mode).toBe('master');
  });

  it('coerces numbers from strings', () => {
    const c = loadMasterConfig(
      { bandwidthBytesPerSec: '1250000.5' },
      { FAASFLOW_WORKER_TIMEOUT_MS: '750' },
    );
    expect(c.workerTimeoutMs).toBe(750);
    expect(c.bandwidthBytesPerSec).toBe(1250000.5);
  });

  it.each([
    ['true', true],
    ['1', true],
    ['YES', true],
    ['on', true],
    ['false', false],
    ['0', false],
    ['No', false],
    ['off', false],
  ])('coerces the boolean string %s to %s', (raw, expected) => {
    expect(loadConfig(Small, { verbose: raw }).verbose).toBe(expected);
  });

  it('accepts a bare flag (true) for a boolean option', () => {
    expect(loadConfig(Small, {}, { verbose: true }).verbose).toBe(true);
  });

  it('rejects a string that is not a boolean or a number', () => {
    const err = configError(() => loadConfig(Small, { verbose: 'maybe', ratio: 'half' }));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(problems(err)).toHaveLength(2);
    expect(err.message).toContain('verbose');
    expect(err.message).toContain('"maybe"');
    expect(err.message).toContain('ratio');
  });

  it('rejects an empty string for a number rather than reading it as 0', () => {
    const err = configError(() => loadConfig(Small, { ratio: '' }));
    expect(problems(err)).toEqual([expect.stringContaining('ratio')]);
  });

  it('reports every problem at once in one CONFIG_INVALID error', () => {
    const err = configError(() =>
      loadMasterConfig(
        { port: 'abc', placement: 'nope' },
        { FAASFLOW_WORKER_TIMEOUT_MS: '5', FAASFLOW_ADVERTISE_URL: 'ftp://x' },
      ),
    );
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.retryable).toBe(false);
    const list = problems(err);
    expect(list).toHaveLength(4);
    expect(list.find((p) => p.startsWith('port:'))).toContain('from 0 to 65535');
    expect(list.find((p) => p.startsWith('placement:'))).toContain(
      '"greedy-jsq", "jsq", "round-robin", "hash"',
    );
    expect(list.find((p) => p.startsWith('workerTimeoutMs:'))).toContain('got 5');
    expect(list.find((p) => p.startsWith('advertiseUrl:'))).toContain('"ftp://x"');
    for (const p of list) expect(err.message).toContain(p);
  });

  it('rejects an unknown option and lists the valid ones', () => {
    const err = configError(() => loadMasterConfig({ prot: '80' }, {}));
    expect(err.code).toBe('CONFIG_INVALID');
    const [only] = problems(err);
    expect(only).toContain('unknown option prot');
    for (const key of Object.keys(MasterConfigSchema.properties)) expect(only).toContain(key);
  });

  it('returns a frozen object', () => {
    const c = loadWorkerConfig({}, {});
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('does not modify the sources it reads', () => {
    const flags = { port: '81' };
    loadMasterConfig(flags, {});
    expect(flags).toEqual({ port: '81' });
  });
});

describe('master store options', () => {
  it('defaults to store auto in .faasflow with commit durability', () => {
    expect(loadMasterConfig({}, {})).toMatchObject({
      store: 'auto',
      dataDir: '.faasflow',
      dataDirSync: 'commit',
    });
  });

  it('reads --store, --data-dir and --data-dir-sync from flags and FAASFLOW_* variables', () => {
    expect(
      loadMasterConfig(
        { store: 'lmdb', dataDir: '/var/lib/faasflow' },
        { FAASFLOW_DATA_DIR_SYNC: 'flush' },
      ),
    ).toMatchObject({ store: 'lmdb', dataDir: '/var/lib/faasflow', dataDirSync: 'flush' });
  });

  it('picks redis for auto when a redisUrl is set and lmdb otherwise', () => {
    expect(storeKind(loadMasterConfig({}, {}))).toBe('lmdb');
    expect(storeKind(loadMasterConfig({ redisUrl: 'redis://127.0.0.1:6379' }, {}))).toBe('redis');
    expect(storeKind(loadMasterConfig({ store: 'memory', redisUrl: 'redis://h:1' }, {}))).toBe(
      'memory',
    );
  });

  it('rejects an unknown store, sync mode or an empty data dir, listing what is valid', () => {
    const list = problems(
      configError(() =>
        loadMasterConfig({ store: 'sqlite', dataDirSync: 'never', dataDir: '' }, {}),
      ),
    );
    expect(list).toHaveLength(3);
    expect(list.find((p) => p.startsWith('store:'))).toContain('"auto", "redis", "lmdb", "memory"');
    expect(list.find((p) => p.startsWith('dataDirSync:'))).toContain('"commit", "flush"');
    expect(list.find((p) => p.startsWith('dataDir:'))).toContain('got ""');
  });

  it('rejects store redis without a redisUrl, saying which flag to add', () => {
    const err = configError(() => loadMasterConfig({ store: 'redis' }, {}));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('--redis-url');
    expect(problems(err)).toEqual([expect.stringContaining('store: "redis" needs redisUrl')]);
  });
});
