/**
 * Shared pieces of the sandbox integration tests: function specs for the fixture handlers,
 * deployments, run requests, polling with a deadline, and probes of processes and cgroup dirs.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodeValue } from '../../shared/codec.js';
import type { FunctionSource, FunctionSpec } from '../../shared/dag/types.js';
import type { FunctionDeployment, RunRequest } from '../../worker/sandbox/types.js';
import { invId } from '../helpers/ids.js';

export const FIXTURES = resolve(import.meta.dirname, '..', 'fixtures', 'functions');

export function fnSpec(
  name: string,
  source: FunctionSource = { kind: 'handler', path: `${name}.js` },
  overrides: Partial<FunctionSpec> = {},
): FunctionSpec {
  return {
    name,
    source,
    cpu: 1,
    memoryMb: 256,
    timeoutMs: 10_000,
    retries: 0,
    network: 'none',
    runtimeMs: 10,
    outputBytes: 100,
    ...overrides,
  };
}

export function deployment(fn: FunctionSpec, workflow = 'wf', version = 1): FunctionDeployment {
  return { key: `${workflow}@${version}/${fn.name}`, workflow, version, fn, baseDir: FIXTURES };
}

export function request(input: unknown, overrides: Partial<RunRequest> = {}): RunRequest {
  return {
    invocationId: invId('inv_0000000000test'),
    node: 'step',
    attempt: 0,
    input: encodeValue(input),
    timeoutMs: 10_000,
    allocation: { cpu: 1, memoryMb: 256 },
    ...overrides,
  };
}

/** Polls `check` until it returns something other than undefined/false, or fails at the deadline. */
export async function poll<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const CGROUP_MOUNT = '/sys/fs/cgroup';

/** Every directory under our cgroup root for `workerId`, across hierarchies (v1) or v2. */
export function cgroupDirs(workerId: string): string[] {
  const bases = existsSync(join(CGROUP_MOUNT, 'cgroup.controllers'))
    ? [CGROUP_MOUNT]
    : ['cpu', 'cpuacct', 'memory'].map((h) => join(CGROUP_MOUNT, h));
  const dirs: string[] = [];
  for (const base of bases) {
    const root = join(base, 'faasflow', workerId);
    if (!existsSync(root)) continue;
    dirs.push(root);
    for (const e of readdirSync(root, { withFileTypes: true })) {
      if (e.isDirectory()) dirs.push(join(root, e.name));
    }
  }
  return dirs;
}
