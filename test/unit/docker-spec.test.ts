import { describe, expect, it } from 'vitest';
import type { FunctionSpec } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import {
  containerName,
  functionContainerSpec,
  IMAGE_HANDLER_PATH,
  LABELS,
  limitsFor,
  namePart,
  planContainer,
} from '../../worker/sandbox/docker-spec.js';
import type { FunctionDeployment } from '../../worker/sandbox/types.js';

function fn(overrides: Partial<FunctionSpec> = {}): FunctionSpec {
  return {
    name: 'resize',
    source: { kind: 'code', code: 'export default (x) => x' },
    cpu: 1,
    memoryMb: 256,
    timeoutMs: 1000,
    retries: 0,
    network: 'none',
    runtimeMs: 1,
    outputBytes: 1,
    ...overrides,
  };
}

function dep(f: FunctionSpec = fn(), workflow = 'video', version = 2): FunctionDeployment {
  return {
    key: `${workflow}@${version}/${f.name}`,
    workflow,
    version,
    fn: f,
    baseDir: '/data/video/2',
  };
}

const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

describe('container names', () => {
  it('name worker, workflow, version and function, with a unique suffix', () => {
    expect(containerName('w1', dep(), 'a1b2c30')).toBe('ff-w1-video-v2-resize-a1b2c30');
  });

  it('replace characters Docker refuses and bound every part', () => {
    const name = containerName(
      'w1',
      dep(fn({ name: 'Ünïcode step/with spaces' + 'x'.repeat(80) })),
      's0',
    );
    expect(name).toMatch(DOCKER_NAME);
    expect(name.length).toBeLessThanOrEqual(3 + 3 + 6 + 3 + 41 + 3);
    expect(namePart('--leading')).toBe('leading');
    expect(namePart('***')).toBe('x');
  });
});

describe('container plans', () => {
  it('run code and builtin functions in the runtime image with nothing mounted', () => {
    expect(planContainer(dep(), 'rt:1')).toEqual({
      image: 'rt:1',
      ownImage: false,
      source: { kind: 'code', code: 'export default (x) => x' },
      handlerDir: null,
    });
    const builtin = planContainer(
      dep(fn({ source: { kind: 'builtin', builtin: { sleepMs: 1 } } })),
      'rt:1',
    );
    expect(builtin).toMatchObject({
      image: 'rt:1',
      source: { kind: 'builtin', builtin: { sleepMs: 1 } },
      handlerDir: null,
    });
  });

  it('run an image: function in its own image, told to load /fn/index.js', () => {
    expect(
      planContainer(dep(fn({ source: { kind: 'image', image: 'acme/resize:3' } })), 'rt:1'),
    ).toEqual({
      image: 'acme/resize:3',
      ownImage: true,
      source: { kind: 'handler', path: IMAGE_HANDLER_PATH },
      handlerDir: null,
    });
  });

  it('refuse a handler outside the deployment folder, which is all that is mounted', () => {
    for (const path of ['../other/x.js', '/etc/passwd']) {
      const d = dep(fn({ source: { kind: 'handler', path } }));
      expect(() => planContainer(d, 'rt:1')).toThrow(AppError);
      expect(() => planContainer(d, 'rt:1')).toThrow(
        /lies outside its deployment folder \/data\/video\/2/,
      );
    }
  });
});

describe('function container specs', () => {
  const base = {
    workerId: 'w1',
    sandboxId: 'ff-w1-video-v2-resize-s0',
    deployment: dep(),
    allocation: { cpu: 1.5, memoryMb: 192 },
    socketHostDir: '/tmp/faasflow-dkr-x/ff-w1-video-v2-resize-s0',
    networkMode: 'none' as const,
    acceptTimeoutMs: 5000,
    pidsLimit: 64,
    tmpfsMb: 32,
  };

  it('isolate: given network mode, read-only root, small tmpfs, non-root, no capabilities, limits', () => {
    const spec = functionContainerSpec({ ...base, plan: planContainer(dep(), 'rt:1') });
    expect(spec).toMatchObject({
      name: base.sandboxId,
      image: 'rt:1',
      cmd: ['--socket', '/run/faasflow/runtime.sock', '--accept-timeout-ms', '5000'],
      env: ['HOME=/tmp'],
      user: '10001:10001',
      workingDir: '/tmp',
      host: {
        networkMode: 'none',
        binds: [`${base.socketHostDir}:/run/faasflow:rw`],
        tmpfs: { '/tmp': 'rw,nosuid,nodev,size=32m,mode=1777' },
        readonlyRootfs: true,
        memoryBytes: 192 * 1024 * 1024,
        cpuQuotaUs: 150_000,
        cpuPeriodUs: 100_000,
        pidsLimit: 64,
        capDrop: ['ALL'],
        securityOpt: ['no-new-privileges'],
      },
    });
    expect(spec.labels).toEqual({
      [LABELS.worker]: 'w1',
      [LABELS.workflow]: 'video',
      [LABELS.version]: '2',
      [LABELS.function]: 'resize',
      [LABELS.key]: 'video@2/resize',
      [LABELS.sandbox]: base.sandboxId,
    });
  });

  it('mount the deployment folder read-only at /fn for handler functions', () => {
    const plan = {
      image: 'rt:1',
      ownImage: false,
      source: { kind: 'handler', path: '/fn/a.js' } as const,
      handlerDir: '/data/video/2',
    };
    const spec = functionContainerSpec({ ...base, plan });
    expect(spec.host.binds).toEqual([
      `${base.socketHostDir}:/run/faasflow:rw`,
      '/data/video/2:/fn:ro',
    ]);
    expect(spec.workingDir).toBe('/fn');
  });
});

describe('limits', () => {
  it('turn an allocation into CFS quota and memory bytes, with Docker’s minimum quota', () => {
    expect(limitsFor({ cpu: 0.5, memoryMb: 128 })).toEqual({
      memoryBytes: 128 * 1024 * 1024,
      memoryReservationBytes: 0,
      cpuQuotaUs: 50_000,
      cpuPeriodUs: 100_000,
      cpuShares: 512,
    });
    expect(limitsFor({ cpu: 0.001, memoryMb: 64 }).cpuQuotaUs).toBe(1000);
  });
});
