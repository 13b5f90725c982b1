import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../bench/paths.js';
import { WorkflowLearner } from '../../../master/compose/learner.js';
import { CompositionService } from '../../../master/compose/service.js';
import type { InvocationRecord } from '../../../master/invocations/record.js';
import { MemoryMasterStore } from '../../../master/store/memory.js';
import { loadWorkflow } from '../../../master/workflow/index.js';
import type { WorkflowVersion } from '../../../master/workflow/version.js';
import { createLogger } from '../../../shared/logger.js';
import { mulberry32 } from '../../../shared/random.js';
import type { CompositionSpec } from '../../../shared/compose/types.js';

const yaml = readFileSync(join(repoRoot(), 'test/fixtures/workflows/compose-ocr.yaml'), 'utf8');

function version(mode?: string): WorkflowVersion {
  const text = mode ? yaml.replace('mode: online', `mode: ${mode}`) : yaml;
  const r = loadWorkflow(text);
  expect(r.issues).toEqual([]);
  return {
    name: r.dag!.name,
    version: 1,
    dag: r.dag!,
    partition: { groups: [], groupOf: {}, localBytes: 0, totalBytes: 0 } as never,
    files: {},
    warnings: [],
    createdAt: new Date(0).toISOString(),
    composition: { spec: r.composition!.spec, variants: [] },
  };
}

const spec = (mode?: string): CompositionSpec => version(mode).composition!.spec;

function ended(id: string, startedAt: number, latencyMs: number): InvocationRecord {
  return {
    id,
    status: 'succeeded',
    startedAt,
    finishedAt: startedAt + latencyMs,
    steps: [],
  } as unknown as InvocationRecord;
}

describe('learner modes', () => {
  it('shadow runs the default, logs what the model would run and its probability of the default', () => {
    const l = WorkflowLearner.fresh(spec('shadow'), mulberry32(1));
    for (let i = 0; i < 50; i++) {
      const { composition, pending } = l.decide({ lang: 'de' }, 'beta');
      expect(composition.index).toBe(0);
      expect(composition.propensity).toBe(1);
      expect(composition.explored).toBe(false);
      expect(typeof composition.wouldRun).toBe('string');
      expect(pending.target).toBeGreaterThan(0);
    }
  });

  it('shadow does not promote itself while the learned policy is no better than the default', () => {
    const l = WorkflowLearner.fresh(spec('shadow'), mulberry32(1));
    for (let round = 0; round < 30 && l.mode === 'shadow'; round++) {
      for (let i = 0; i < 20; i++) {
        const { pending } = l.decide({ lang: 'de' }, 'beta');
        l.enqueue({ id: `${round}-${i}`, decision: pending, reward: -120, functions: [], at: i });
      }
      l.train();
    }
    // All rewards equal: the learned policy can never beat the default by its lower bound.
    expect(l.mode).toBe('shadow');
    expect(l.promotable()).toBe(false);
  });

  it('frozen runs the greedy pick and learns nothing', () => {
    const l = WorkflowLearner.fresh(spec('frozen'), mulberry32(1));
    const { composition, pending } = l.decide({ lang: 'en' }, 'beta');
    expect(composition.explored).toBe(false);
    expect(composition.propensity).toBe(1);
    l.enqueue({ id: 'a', decision: pending, reward: 1, functions: [], at: 0 });
    expect(l.train()).toBe(false);
    expect(l.version).toBe(0);
    expect(l.log).toHaveLength(1);
  });

  it('refuses a sub-tenant the policies leave nothing for', () => {
    const s = spec();
    const l = WorkflowLearner.fresh(
      { ...s, policies: [{ subTenants: ['x'], deny: ['ocr-fast', 'ocr-accurate'] }] },
      mulberry32(1),
    );
    expect(() => l.decide({}, 'x')).toThrow(/no graph for sub-tenant "x"/);
  });
});

describe('composition service', () => {
  let service: CompositionService | undefined;
  afterEach(async () => {
    await service?.close();
  });

  it('rewards after the feedback window with the default feedback, stores a versioned model', async () => {
    let now = 1_000;
    const store = new MemoryMasterStore();
    service = new CompositionService({
      store,
      logger: createLogger({}, 'silent'),
      now: () => now,
      trainIntervalMs: 60_000,
      seed: 1,
    });
    const v = version();
    const c = await service.decide(v, { lang: 'en' }, 'beta', 'inv_1');
    expect(c.modelVersion).toBe(0);
    service.finished(ended('inv_1', now, 30), v);
    await service.flush();
    expect((await service.learner(v)).version).toBe(0); // the window (200 ms) is still open
    now += 250;
    await service.flush();
    const l = await service.learner(v);
    expect(l.version).toBe(1);
    expect(l.log[0]).toMatchObject({ id: 'inv_1', reward: -30 });
    const held = (await store.getValue('compose:e2e-compose')) as { state: { version: number } };
    expect(held.state.version).toBe(1);
    await expect(service.feedback('inv_1', 1)).rejects.toThrow(/window .* closed/);
  });

  it('takes feedback once, into the reward, and a restarted service continues the model', async () => {
    const store = new MemoryMasterStore();
    const logger = createLogger({}, 'silent');
    service = new CompositionService({ store, logger, trainIntervalMs: 60_000, seed: 1 });
    const v = version();
    await service.decide(v, { lang: 'en' }, 'beta', 'inv_2');
    expect(await service.feedback('inv_2', 2)).toEqual({ reward: null });
    service.finished(ended('inv_2', Date.now(), 10), v);
    await service.flush();
    const l = await service.learner(v);
    expect(l.log.at(-1)).toMatchObject({ id: 'inv_2', reward: -10 + 20 * 2 });
    await expect(service.feedback('inv_2', 3)).rejects.toThrow(/feedback already/);
    await expect(service.feedback('inv_unknown', 3)).rejects.toThrow(/takes no feedback/);
    await service.close();
    service = new CompositionService({ store, logger, trainIntervalMs: 60_000, seed: 1 });
    expect((await service.learner(v)).version).toBe(1);
  });
});
