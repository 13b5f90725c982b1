/**
 * The ingress's copy of the master's harvesting models (worker/ingress/harvest.ts): fetched when
 * the placement view lists a version it lacks, one fetch at a time, replaced by a newer one,
 * dropped when no longer listed, and every "why not" an invocation would carry meanwhile.
 */
import { describe, expect, it } from 'vitest';
import { modelSetToJson, type ModelSet } from '../../shared/harvest/model-set.js';
import { silentLogger } from '../../shared/logger.js';
import type { PlacementView } from '../../shared/schema/wire.js';
import { IngressModels } from '../../worker/ingress/harvest.js';

const set = (version: number): ModelSet => ({
  version,
  trainedAt: 1,
  seed: 1,
  trees: 1,
  maxDepth: 1,
  minLeafSamples: 1,
  minRecords: 10,
  holdoutFraction: 0,
  recordCount: 0,
  trainRecordCount: 0,
  testRecordCount: 0,
  ml1: new Map(),
  ml2: new Map(),
  skipped: [],
  evaluation: null,
});

const view = (models: Record<string, number> | undefined, harvest = true): PlacementView =>
  ({ master: 'http://m', harvest, ...(models ? { models } : {}) }) as PlacementView;

/** A fetcher whose answers the test releases one by one. */
function gate() {
  const calls: { workflow: string; answer: (v: unknown) => void; fail: (e: Error) => void }[] = [];
  const fetch = (_master: string, workflow: string) =>
    new Promise<unknown>((answer, fail) => calls.push({ workflow, answer, fail }));
  return { calls, fetch };
}

const settle = () => new Promise((r) => setImmediate(r));

describe('IngressModels', () => {
  it('fetches a listed set once, uses it, replaces it with a newer one and drops an unlisted one', async () => {
    const g = gate();
    const m = new IngressModels(g.fetch, silentLogger);
    const v1 = view({ 'wf-a': 1 });
    m.onView(v1);
    m.onView(v1); // in flight: not fetched twice
    expect(g.calls.map((c) => c.workflow)).toEqual(['wf-a']);
    expect(m.get('wf-a', v1)).toMatchObject({
      set: null,
      why: expect.stringMatching(/still loading on this worker/),
    });
    g.calls[0]!.answer(modelSetToJson(set(1)));
    await settle();
    expect(m.versions()).toEqual({ 'wf-a': 1 });
    expect(m.get('wf-a', v1).set?.version).toBe(1);
    m.onView(v1); // held: nothing to fetch
    expect(g.calls).toHaveLength(1);
    const v2 = view({ 'wf-a': 2 });
    m.onView(v2);
    expect(g.calls).toHaveLength(2);
    expect(m.get('wf-a', v2).set?.version).toBe(1); // the older set serves until the new one lands
    g.calls[1]!.answer(modelSetToJson(set(2)));
    await settle();
    expect(m.versions()).toEqual({ 'wf-a': 2 });
    m.onView(view({}));
    expect(m.versions()).toEqual({});
    expect(m.get('wf-a', view({}))).toMatchObject({
      why: expect.stringMatching(/no model set for wf-a yet/),
    });
  });

  it('says why after a failed fetch and tries again on the next view', async () => {
    const g = gate();
    const m = new IngressModels(g.fetch, silentLogger);
    const v = view({ 'wf-b': 3 });
    m.onView(v);
    g.calls[0]!.fail(new Error('connection refused'));
    await settle();
    expect(m.get('wf-b', v)).toMatchObject({
      why: expect.stringMatching(/could not be fetched from the master: connection refused/),
    });
    m.onView(v);
    expect(g.calls).toHaveLength(2);
    g.calls[1]!.answer({ not: 'a model set' });
    await settle();
    expect(m.versions()).toEqual({});
    expect(m.get('wf-b', v).set).toBeNull();
  });

  it('holds nothing while harvesting is off at the master', () => {
    const g = gate();
    const m = new IngressModels(g.fetch, silentLogger);
    m.onView(view({ 'wf-c': 1 }, false));
    expect(g.calls).toHaveLength(0);
  });
});
