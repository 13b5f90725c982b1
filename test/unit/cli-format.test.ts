/** What the client commands print without --json: summaries and tables from the master's answers. */
import { describe, expect, it } from 'vitest';
import { deployLines, invokeLines, statusLines, workersLines } from '../../deploy/cli/format.js';

describe('human output', () => {
  it('invoke: the status line, then the output; an error instead when it failed', () => {
    expect(
      invokeLines({
        invocationId: 'inv_1',
        status: 'succeeded',
        output: { a: 1 },
        durationMs: 12.4,
      }),
    ).toEqual(['succeeded in 12 ms  (inv_1)', '{\n  "a": 1\n}']);
    expect(
      invokeLines({
        invocationId: 'inv_2',
        status: 'failed',
        error: { code: 'FUNCTION_FAILED', message: 'boom' },
        durationMs: 3,
      }),
    ).toEqual(['failed in 3 ms  (inv_2)', 'error FUNCTION_FAILED: boom']);
    expect(invokeLines({ invocationId: 'inv_3' })[0]).toBe('invocation inv_3 accepted');
  });

  it('status: a timeline with times from the start of the invocation', () => {
    const t0 = Date.parse('2026-01-01T00:00:00.000Z');
    const lines = statusLines({
      invocationId: 'inv_1',
      workflow: 'hello',
      version: 2,
      status: 'succeeded',
      startedAt: new Date(t0).toISOString(),
      durationMs: 40,
      output: 'hi',
      steps: [
        {
          node: 'upper',
          worker: 'w1',
          status: 'succeeded',
          readyAt: t0 + 1,
          startedAt: t0 + 2,
          finishedAt: t0 + 20,
          queueMs: 1,
          runMs: 15,
          cold: true,
          outputBytes: 2048,
          tier: 'inline',
        },
        {
          node: 'greet',
          worker: 'w2',
          status: 'failed',
          readyAt: t0 + 21,
          startedAt: t0 + 22,
          finishedAt: t0 + 39,
          queueMs: 0,
          cold: false,
          outputBytes: 0,
          tier: 'none',
          error: { code: 'FUNCTION_FAILED', message: 'no' },
        },
      ],
    });
    expect(lines[0]).toBe('inv_1: hello v2, succeeded in 40 ms (started 2026-01-01T00:00:00.000Z)');
    const upper = lines.find((l) => l.trimStart().startsWith('upper'))!;
    expect(upper.split(/\s+/).filter(Boolean)).toEqual([
      'upper',
      'w1',
      'succeeded',
      '+1',
      '+2',
      '+20',
      '1',
      'ms',
      '15',
      'ms',
      'cold',
      '2.0',
      'KB',
      'inline',
    ]);
    expect(lines).toContain('  greet: FUNCTION_FAILED: no');
    expect(lines.slice(-2)).toEqual(['output:', '"hi"']);
  });

  it('status: the harvest section, per node, when harvesting is on', () => {
    const lines = statusLines({
      invocationId: 'inv_h',
      status: 'running',
      startedAt: '2026-01-01T00:00:00.000Z',
      harvest: {
        mode: 'harvest',
        modelVersion: 5,
        max: { cpu: 2, memoryMb: 8192 },
        nodes: [
          {
            node: 'split',
            user: { cpu: 2, memoryMb: 512 },
            predicted: null,
            applied: { cpu: 2, memoryMb: 512 },
            reason: { code: 'not-parallel' },
            measured: { cpuCores: 0.35, memoryMb: 13.39 },
          },
          {
            node: 'encrypt-1',
            user: { cpu: 2, memoryMb: 512 },
            predicted: { cpu: 1, memoryMb: 128 },
            applied: { cpu: 1, memoryMb: 128 },
            measured: null,
          },
        ],
      },
    });
    expect(lines).toContain('harvest: mode harvest, model set v5, max 2 cpu / 8192 MB');
    const split = lines.find((l) => l.trimStart().startsWith('split'))!;
    expect(split).toMatch(
      /split\s+2 cpu \/ 512 MB\s+-\s+2 cpu \/ 512 MB\s+0\.35 cpu \/ 13\.4 MB\s+not-parallel$/,
    );
    const enc = lines.find((l) => l.trimStart().startsWith('encrypt-1'))!;
    expect(enc).toMatch(/encrypt-1\s+2 cpu \/ 512 MB\s+1 cpu \/ 128 MB\s+1 cpu \/ 128 MB\s+-$/);
  });

  it('deploy and workers: a summary and a table', () => {
    expect(
      deployLines({
        name: 'hello',
        version: 1,
        nodes: 2,
        edges: 1,
        groups: [['a', 'b']],
        warnings: ['w'],
      }),
    ).toEqual(['hello v1 deployed: 2 nodes, 1 edges in 1 group', '  [0] a, b', '  warning: w']);
    const rows = workersLines({
      workers: [
        {
          id: 'w1',
          status: 'ready',
          runtime: 'process',
          capacity: { cpu: 2, memoryMb: 512 },
          load: { running: 1, queued: 0 },
          url: 'http://127.0.0.1:1',
          lastSeenAt: 'now',
        },
        {
          id: 'w2',
          status: 'ready',
          hot: true,
          runtime: 'process',
          capacity: { cpu: 0.5, memoryMb: 512 },
          load: { running: 1, queued: 0, utilization: 1.984 },
          url: 'http://127.0.0.1:2',
          lastSeenAt: 'now',
        },
      ],
    });
    expect(rows).toHaveLength(3);
    expect(rows[2]!.split(/\s+/).slice(0, 5)).toEqual([
      'w2',
      'ready,hot',
      'process',
      '0.5',
      '198%',
    ]);
    expect(rows[1]!.split(/\s+/)).toEqual([
      'w1',
      'ready',
      'process',
      '2',
      '—',
      '512',
      '1',
      '0',
      'http://127.0.0.1:1',
      'now',
    ]);
    expect(workersLines({ workers: [] })).toEqual(['no workers registered']);
  });
});
