import { describe, expect, it } from 'vitest';
import { checkDag } from '../../../shared/dag/check.js';
import { loadWorkflow } from '../../../master/workflow/index.js';

const FNS = `
functions:
  ocr-fast: { code: "export default async (x) => x" }
  ocr-accurate: { code: "export default async (x) => x" }
  sum-short: { code: "export default async (x) => x" }
  sum-long: { code: "export default async (x) => x" }
  translate: { code: "export default async (x) => x" }
  audit: { code: "export default async (x) => x" }
`;

const CONTRACT = `name: ocr-pipeline
${FNS}
flow:
  sequence:
    - choose: { name: ocr, options: { fast: ocr-fast, accurate: ocr-accurate }, default: fast }
    - task: audit
learn:
  context: { bytes: '$length($.text)', lang: '$.lang' }
  reward: '-$latencyMs'
  explore: { algorithm: thompson, rate: 0.1 }
  mode: online
policies:
  - { subTenants: ['acme-*'], deny: [ocr-accurate] }
`;

function paths(yaml: string): string[] {
  return loadWorkflow(yaml).issues.map((i) => `${i.path}: ${i.message}`);
}

describe('choose: compiles every combination to an ordinary DAG', () => {
  it('compiles the contract example to two variants, the default first', () => {
    const r = loadWorkflow(CONTRACT);
    expect(r.issues).toEqual([]);
    const c = r.composition!;
    expect(c.spec.variants.map((v) => v.label)).toEqual(['ocr=fast', 'ocr=accurate']);
    expect(c.dags[0]).toBe(r.dag);
    for (const d of c.dags) expect(checkDag(d)).toEqual([]);
    expect(c.dags.map((d) => d.nodes.map((n) => n.id).sort())).toEqual([
      ['audit', 'ocr-fast'],
      ['audit', 'ocr-accurate'],
    ]);
    expect(c.spec.variants[1]!.graph).toEqual({
      nodes: ['ocr-accurate', 'audit'],
      edges: [[0, 1]],
    });
    expect(c.spec.learn).toMatchObject({
      context: { bytes: '$length($.text)', lang: '$.lang' },
      reward: '-$latencyMs',
      explore: { algorithm: 'thompson', rate: 0.1 },
      mode: 'online',
    });
    expect(c.spec.policies).toEqual([{ subTenants: ['acme-*'], deny: ['ocr-accurate'] }]);
    // Unused-function warnings look at every variant.
    expect(r.warnings.filter((w) => w.includes('ocr-'))).toEqual([]);
  });

  it('multiplies independent choices and nests a choice inside a sub-flow option', () => {
    const r = loadWorkflow(`name: n
${FNS}
flow:
  sequence:
    - choose: { name: ocr, options: { fast: ocr-fast, accurate: ocr-accurate }, default: accurate }
    - choose:
        name: summary
        options:
          short: sum-short
          long: { sequence: [ translate, { choose: { name: len, options: { a: sum-long, b: sum-short } } } ] }
    - audit
`);
    expect(r.issues).toEqual([]);
    const labels = r.composition!.spec.variants.map((v) => v.label);
    expect(labels[0]).toBe('ocr=accurate,summary=short');
    expect(labels.sort()).toEqual([
      'ocr=accurate,summary=long,len=a',
      'ocr=accurate,summary=long,len=b',
      'ocr=accurate,summary=short',
      'ocr=fast,summary=long,len=a',
      'ocr=fast,summary=long,len=b',
      'ocr=fast,summary=short',
    ]);
    const long = r.composition!.spec.variants.find(
      (v) => v.label === 'ocr=fast,summary=long,len=a',
    )!;
    expect(long.graph.nodes).toEqual(['ocr-fast', 'translate', 'sum-long', 'audit']);
    expect(long.graph.edges).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
  });

  it('a workflow without choices has no composition', () => {
    const r = loadWorkflow(`name: p\n${FNS}\nflow: { sequence: [audit] }`);
    expect(r.issues).toEqual([]);
    expect(r.composition).toBeUndefined();
  });

  it('reports a problem inside a non-default option with its path', () => {
    expect(
      paths(`name: p
${FNS}
flow:
  sequence:
    - choose: { name: ocr, options: { fast: ocr-fast, broken: nope }, default: fast }
    - audit
`),
    ).toEqual([
      'flow.sequence[0].choose.options.broken: function "nope" is not defined under functions (defined: ocr-fast, ocr-accurate, sum-short, sum-long, translate, audit)',
    ]);
  });
});

describe('choose, learn and policies: clear errors', () => {
  it.each([
    ['choose: 3', 'flow.sequence[0].choose: must be { name, options'],
    ['choose: { options: { a: audit } }', 'flow.sequence[0].choose.name: is required'],
    ['choose: { name: x, options: {} }', 'flow.sequence[0].choose.options: is empty'],
    [
      'choose: { name: x, options: { a: audit }, default: b }',
      'flow.sequence[0].choose.default: "b" is not one of the options (a)',
    ],
    [
      'choose: { name: x, options: { a: audit }, extra: 1 }',
      'flow.sequence[0].choose.extra: unknown key',
    ],
  ])('%s', (step, expected) => {
    const found = paths(`name: p\n${FNS}\nflow: { sequence: [ { ${step} } ] }`);
    expect(
      found.some((f) => f.startsWith(expected)),
      found.join('\n'),
    ).toBe(true);
  });

  it('rejects a duplicate choice name with both paths', () => {
    const found = paths(`name: p
${FNS}
flow:
  sequence:
    - choose: { name: x, options: { a: ocr-fast } }
    - choose: { name: x, options: { a: ocr-accurate } }
`);
    expect(found[0]).toMatch(
      /^flow.sequence\[1\].choose.name: duplicate choice name "x" \(also at flow.sequence\[0\].choose\)/,
    );
  });

  it.each([
    [
      'learn: { mode: sometimes }',
      'learn.mode: is "sometimes"; it must be shadow, online or frozen',
    ],
    [
      'learn: { explore: { algorithm: ucb } }',
      'learn.explore.algorithm: is "ucb"; it must be thompson or epsilon-greedy',
    ],
    [
      'learn: { explore: { rate: 2 } }',
      'learn.explore.rate: must be a number from 0 to 1, got number 2',
    ],
    ["learn: { reward: '-$latencyMs +' }", 'learn.reward: invalid JSONata expression'],
    [
      "learn: { context: { 'bad name': '$.x' } }",
      'learn.context."bad name": feature name "bad name" is not valid',
    ],
    ['learn: { feedback: { windowMs: -1 } }', 'learn.feedback.windowMs: must be a number from 0'],
    ['policies: { deny: [audit] }', 'policies: must be a list'],
    [
      'policies: [ { subTenants: [], deny: [audit] } ]',
      'policies[0].subTenants: must be a non-empty list',
    ],
    [
      "policies: [ { subTenants: ['a b'], deny: [audit] } ]",
      'policies[0].subTenants[0]: the string "a b" is not valid',
    ],
    ['policies: [ { subTenants: [acme] } ]', 'policies[0]: has neither deny nor maxExplore'],
    [
      'policies: [ { subTenants: [acme], deny: [nothing] } ]',
      'policies[0].deny[0]: "nothing" names no function',
    ],
    [
      'policies: [ { subTenants: [acme], deny: [audit], maxExplore: 1.5 } ]',
      'policies[0].maxExplore: must be a number from 0 to 1',
    ],
  ])('%s', (extra, expected) => {
    const found = paths(`name: p
${FNS}
flow:
  sequence:
    - choose: { name: ocr, options: { fast: ocr-fast, accurate: ocr-accurate } }
    - audit
${extra}
`);
    expect(
      found.some((f) => f.startsWith(expected)),
      found.join('\n'),
    ).toBe(true);
  });

  it('fails validation when policies leave no graph for a sub-tenant pattern, naming it', () => {
    const found = paths(`name: p
${FNS}
flow:
  sequence:
    - choose: { name: ocr, options: { fast: ocr-fast, accurate: ocr-accurate } }
    - audit
policies:
  - { subTenants: ['acme-*'], deny: [ocr-accurate] }
  - { subTenants: ['acme-eu', 'beta'], deny: [ocr.fast] }
`);
    expect(found).toEqual([
      'policies[1].subTenants[0]: leaves no graph for sub-tenants matching "acme-eu": every one of the 2 variants runs something the policies that apply to them deny',
    ]);
  });

  it('learn without a choose step is an error', () => {
    expect(paths(`name: p\n${FNS}\nflow: { sequence: [audit] }\nlearn: { mode: online }`)).toEqual([
      'learn: needs at least one choose: step in the flow (the choices it learns or constrains)',
    ]);
  });
});
