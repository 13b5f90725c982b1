/**
 * The sandbox floor for `faasflow bench overhead`: the same no-op function run in this process
 * through the worker's own process sandbox (warm child, unix socket, cgroups when the host has
 * them), timed around `sandbox.run()` exactly as the engine awaits it. Timelines hold a node's
 * exec time (sandbox call + storing the output) but not the call alone; subtracting this floor
 * from them estimates the engine's own share.
 *
 * Runs on the bench host, before the cluster starts, so nothing else competes for the cores.
 */
import { encodeValue } from '../shared/codec.js';
import { NOOP } from './sandbox.js';
import { newInvocationId, parseWorkerId } from '../shared/ids.js';
import { ProcessSandbox } from '../worker/sandbox/process.js';
import { tmpdir } from 'node:os';

export interface SandboxFloor {
  /** `sandbox.run()` as the engine sees it: lease, request, answer, release. */
  callMs: number[];
  /** The sandbox's own figure: request sent → result received. */
  runMs: number[];
}

/** `warmup` unmeasured then `iterations` measured calls of a no-op through one warm sandbox. */
export async function measureSandboxFloor(o: {
  warmup: number;
  iterations: number;
  input: unknown;
}): Promise<SandboxFloor> {
  const sandbox = await ProcessSandbox.create({
    workerId: parseWorkerId(`bench-overhead-${process.pid}`),
  });
  try {
    const key = 'bench-overhead@1/noop';
    await sandbox.deploy(
      { key, workflow: 'bench-overhead', version: 1, fn: NOOP, baseDir: tmpdir() },
      { prewarm: 1 },
    );
    const input = encodeValue(o.input);
    const floor: SandboxFloor = { callMs: [], runMs: [] };
    for (let i = 0; i < o.warmup + o.iterations; i++) {
      const start = performance.now();
      const r = await sandbox.run(key, {
        invocationId: newInvocationId(),
        node: 'noop',
        attempt: 1,
        input,
        timeoutMs: 10_000,
        allocation: { cpu: NOOP.cpu, memoryMb: NOOP.memoryMb },
      });
      const callMs = performance.now() - start;
      if (i < o.warmup) continue;
      floor.callMs.push(callMs);
      floor.runMs.push(r.durationMs);
    }
    return floor;
  } finally {
    await sandbox.close();
  }
}
