/**
 * `prewarm:` per workflow and `preload:` per function (master/workflow/prewarm.ts): carried on
 * the DAG when valid; every mistake reported with its path and what would be valid.
 */
import { describe, expect, it } from 'vitest';
import { loadWorkflow } from '../../master/workflow/index.js';

const doc = (extra: string, fnExtra = ''): string =>
  `name: w\nfunctions:\n  f: { code: "export default async (x) => x"${fnExtra} }\nflow: { task: f }\n${extra}`;

describe('prewarm and preload in the YAML', () => {
  it('carries prewarm (fraction or percentage) and preload on the DAG', () => {
    const a = loadWorkflow(
      doc('prewarm: { mode: predictive, budget: 0.05 }', ', preload: [models/m.bin, data/x.json]'),
    );
    expect(a.issues).toEqual([]);
    expect(a.dag!.prewarm).toEqual({ mode: 'predictive', budget: 0.05 });
    expect(a.dag!.functions['f']!.preload).toEqual(['models/m.bin', 'data/x.json']);
    const b = loadWorkflow(doc('prewarm: { mode: eager, budget: "12.5%" }'));
    expect(b.dag!.prewarm).toEqual({ mode: 'eager', budget: 0.125 });
    const c = loadWorkflow(doc('prewarm: { mode: off }'));
    expect(c.dag!.prewarm).toEqual({ mode: 'off', budget: 0.1 });
    const none = loadWorkflow(doc(''));
    expect(none.dag!.prewarm).toBeUndefined();
    expect(none.dag!.functions['f']!.preload).toBeUndefined();
  });

  it('reports every mistake with its path and what would be valid', () => {
    const r = loadWorkflow(
      doc(
        'prewarm: { mode: sometimes, budget: 1.5, extra: 1 }',
        ', preload: [/etc/passwd, ../up.js, ok.js, ok.js]',
      ),
    );
    expect(r.dag).toBeNull();
    const byPath = Object.fromEntries(r.issues.map((i) => [i.path, i.message]));
    expect(byPath['prewarm.mode']).toMatch(
      /must be one of off, eager, predictive, got the string "sometimes"/,
    );
    expect(byPath['prewarm.budget']).toMatch(/from 0 to 1 \(e\.g\. 0\.1\) or a percentage/);
    expect(byPath['prewarm.extra']).toMatch(/unknown key "extra"; valid keys here: mode, budget/);
    expect(byPath['functions.f.preload[0]']).toMatch(/relative path inside the workflow folder/);
    expect(byPath['functions.f.preload[1]']).toMatch(/no \.\./);
    expect(byPath['functions.f.preload[3]']).toMatch(/"ok.js" is listed twice/);
  });

  it('requires a mode and a mapping', () => {
    expect(loadWorkflow(doc('prewarm: { budget: 0.1 }')).issues[0]).toMatchObject({
      path: 'prewarm.mode',
      message: expect.stringMatching(/is required: one of off, eager, predictive/),
    });
    expect(loadWorkflow(doc('prewarm: eager')).issues[0]).toMatchObject({
      path: 'prewarm',
      message: expect.stringMatching(/must be a mapping \{ mode/),
    });
    expect(loadWorkflow(doc('', ', preload: models/m.bin')).issues[0]).toMatchObject({
      path: 'functions.f.preload',
      message: expect.stringMatching(/must be a list of files/),
    });
  });
});
