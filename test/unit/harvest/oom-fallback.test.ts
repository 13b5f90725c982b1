/**
 * Harvesting never fails a task the user's allocation would run: when a run on a smaller
 * harvested allocation runs out of memory (or time), the task gets one more attempt at the
 * user's allocation, whatever its retry budget, and its step says why. Other failures and runs
 * already at the user's allocation fail as before. The sandbox is a recorder standing in for the
 * process sandbox, which is not the unit under test here.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../shared/errors.js';
import type { FunctionSpec, TaskNode } from '../../../shared/dag/types.js';
import type { NodeId } from '../../../shared/ids.js';
import type { NodeAllocation } from '../../../shared/schema/wire.js';
import { executeNode, type ExecEnv } from '../../../worker/engine/execute.js';
import { Expressions } from '../../../worker/engine/expressions.js';
import { Val } from '../../../worker/engine/value.js';
import type { RunRequest, Sandbox } from '../../../worker/sandbox/types.js';
import { invId } from '../../helpers/ids.js';

const fn: FunctionSpec = {
  name: 'f',
  source: { kind: 'code', code: 'export default async (x) => x' },
  cpu: 2,
  memoryMb: 512,
  timeoutMs: 10_000,
  retries: 0,
  network: 'none',
  runtimeMs: 1,
  outputBytes: 1,
};
const node: TaskNode = {
  id: 'f' as NodeId,
  kind: 'task',
  fn: 'f',
  path: 'flow',
  input: { kind: 'input' },
};

/** Runs out of memory below `needMb`, else echoes; records every allocation it was given. */
function sandbox(needMb: number, failure: AppError['code'] = 'FUNCTION_OOM') {
  const seen: RunRequest['allocation'][] = [];
  const s = {
    run: (_key: string, req: RunRequest) => {
      seen.push(req.allocation);
      if (req.allocation.memoryMb < needMb)
        return Promise.reject(
          new AppError(failure, 'killed', { retryable: failure !== 'FUNCTION_FAILED' }),
        );
      return Promise.resolve({
        output: req.input,
        cold: false,
        queueMs: 0,
        initMs: 0,
        durationMs: 1,
        peakMemoryMb: 300,
        peakCpuCores: 1,
        cpuTimeMs: 1,
        sandboxId: 's',
        allocation: req.allocation,
      });
    },
  } as unknown as Sandbox;
  return { s, seen };
}

function env(s: Sandbox, applied: { cpu: number; memoryMb: number }): ExecEnv {
  const decision: NodeAllocation = {
    stage: 'f+g',
    user: { cpu: 2, memoryMb: 512 },
    predicted: applied,
    applied,
  };
  return {
    invocationId: invId('inv_1'),
    workflow: 'wf',
    version: 1,
    functions: { f: fn },
    workflowInput: Val.fromValue({}),
    deadline: Date.now() + 10_000,
    signal: new AbortController().signal,
    sandbox: s,
    exprs: new Expressions(),
    workerId: 'w1',
    now: () => Date.now(),
    onStep: () => undefined,
    harvest: { f: decision },
  };
}

describe('a harvested allocation that runs out', () => {
  it('gets one more attempt at the user allocation, and the step says why', async () => {
    const { s, seen } = sandbox(300);
    const out = await executeNode(node, Val.fromValue(1), env(s, { cpu: 1, memoryMb: 256 }));
    // The harvested run has memory.high at its size and memory.max at the user's.
    expect(seen).toEqual([
      { cpu: 1, memoryMb: 256, memoryMaxMb: 512 },
      { cpu: 2, memoryMb: 512 },
    ]);
    expect(out.harvest).toMatchObject({
      applied: { cpu: 2, memoryMb: 512 },
      reason: 'fallback-oom',
    });
  });

  it('falls back on a timeout too', async () => {
    const { s, seen } = sandbox(300, 'FUNCTION_TIMEOUT');
    const out = await executeNode(node, Val.fromValue(1), env(s, { cpu: 1, memoryMb: 256 }));
    expect(seen).toHaveLength(2);
    expect(out.harvest?.reason).toBe('fallback-timeout');
  });

  it('fails as before when the user allocation itself runs out, or the failure is another', async () => {
    const atUser = sandbox(1024);
    await expect(
      executeNode(node, Val.fromValue(1), env(atUser.s, { cpu: 2, memoryMb: 512 })),
    ).rejects.toMatchObject({ code: 'FUNCTION_OOM' });
    expect(atUser.seen).toHaveLength(1);
    const other = sandbox(1024, 'FUNCTION_FAILED');
    await expect(
      executeNode(node, Val.fromValue(1), env(other.s, { cpu: 1, memoryMb: 256 })),
    ).rejects.toMatchObject({ code: 'FUNCTION_FAILED' });
    expect(other.seen).toHaveLength(1);
  });
});
