/**
 * Compositions (docs/guides/composition.md): for one composed workflow and one context (a
 * sub-tenant and, optionally, an invocation input the context features are read from), the
 * admissible graphs ranked by the model with their expected reward, uncertainty and how many
 * logged decisions of that sub-tenant ran each, and the offline estimates of the learned policy
 * against the default. Everything shown is GET /v1/workflows/:name/composition's answer.
 */
import { get, query } from '../api.js';
import { h, link, table } from '../dom.js';
import { round } from '../lib/format.js';
import type { CompositionRanking, WorkflowList } from '../lib/types.js';
import type { View } from '../view.js';

const TOP = 32;

type Estimate = CompositionRanking['estimate']['learned'];

export const compositionView: View = async (ctx) => {
  ctx.title('Compositions');
  const { workflows } = await get<WorkflowList>('/v1/workflows', ctx.signal);
  const composed = workflows.filter((w) => (w.variants ?? 0) > 0);
  const section = h('section', { id: 'view-composition' }, h('h1', {}, 'Compositions'));
  if (composed.length === 0) {
    section.append(
      h(
        'p',
        {},
        'No composed workflow is deployed (a workflow with choose: steps; docs/guides/composition.md).',
      ),
    );
    return section;
  }
  const workflow = ctx.params.get('workflow') ?? composed[0]!.name;
  const subTenant = ctx.params.get('subTenant') ?? '';
  const input = ctx.params.get('input') ?? '';
  section.append(form(composed, workflow, subTenant, input));

  const r = await get<CompositionRanking>(
    `/v1/workflows/${encodeURIComponent(workflow)}/composition${query({
      subTenant,
      input,
      top: TOP,
    })}`,
    ctx.signal,
  );
  section.dataset['workflow'] = r.workflow;
  section.dataset['subTenant'] = r.subTenant;
  section.append(
    h(
      'dl',
      { class: 'facts', id: 'composition-summary' },
      h('dt', {}, 'Workflow'),
      h(
        'dd',
        {},
        link(r.workflow, `#/workflows/${encodeURIComponent(r.workflow)}`),
        ` v${r.version}`,
      ),
      h('dt', {}, 'Mode'),
      h('dd', {}, h('code', {}, r.mode), ` · model v${r.modelVersion}`),
      h('dt', {}, 'Exploration'),
      h('dd', {}, `${r.explore.algorithm}, rate ${r.explore.rate}`),
      h('dt', {}, 'Graphs'),
      h('dd', {}, `${r.admissible} of ${r.variants} admissible for sub-tenant ${r.subTenant}`),
      h('dt', {}, 'Decisions logged'),
      h('dd', { id: 'composition-decisions' }, `${r.decisions} (all sub-tenants)`),
    ),
    h('h2', {}, 'Context'),
    Object.keys(r.context).length === 0
      ? h('p', {}, 'The model reads no context features.')
      : table(
          null,
          ['Feature', 'Value'],
          Object.entries(r.context).map(([k, v]) => [k, h('code', {}, JSON.stringify(v))]),
          { class: 'list', id: 'composition-context' },
        ),
    h('h2', {}, 'Graphs, best first'),
    graphTable(r),
    h('h2', {}, 'Offline estimate'),
    estimateTable(r),
    h(
      'p',
      { id: 'composition-promote' },
      r.estimate.promote
        ? 'The learned policy beats the default with confidence: shadow mode promotes itself to online.'
        : 'The learned policy does not (yet) beat the default with confidence.',
    ),
  );
  return section;
};

function form(
  composed: WorkflowList['workflows'],
  workflow: string,
  subTenant: string,
  input: string,
): HTMLElement {
  const picker = h(
    'select',
    { id: 'composition-workflow', 'aria-label': 'Workflow' },
    ...composed.map((w) => h('option', { value: w.name, selected: w.name === workflow }, w.name)),
  );
  const sub = h('input', {
    id: 'composition-subtenant',
    type: 'text',
    value: subTenant,
    placeholder: 'default',
    'aria-label': 'Sub-tenant',
  });
  const inp = h('textarea', {
    id: 'composition-input',
    placeholder: '{"lang": "de"} (the features are read from it)',
    'aria-label': 'Invocation input (JSON)',
  });
  inp.value = input;
  const apply = (): void => {
    location.hash = `#/composition${query({
      workflow: picker.value,
      subTenant: sub.value.trim(),
      input: inp.value.trim(),
    })}`;
  };
  picker.addEventListener('change', apply);
  const f = h(
    'form',
    { class: 'composition-form', id: 'composition-form' },
    h('label', {}, 'Workflow ', picker),
    h('label', {}, 'Sub-tenant ', sub),
    h('label', {}, 'Input ', inp),
    h('button', { type: 'submit', class: 'key', id: 'composition-apply' }, 'Rank'),
  );
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    apply();
  });
  return f;
}

function graphTable(r: CompositionRanking): HTMLElement {
  const head = [
    'Rank',
    'Options',
    'Functions',
    'Expected reward',
    '± uncertainty',
    `Decisions (${r.subTenant})`,
  ];
  return h(
    'table',
    { class: 'list', id: 'composition-graphs' },
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      ...r.graphs.map((g) =>
        h(
          'tr',
          { 'data-variant': g.variant, 'data-decisions': g.decisions, class: `rank-${g.rank}` },
          h('th', { scope: 'row' }, g.rank),
          h('td', {}, h('code', {}, g.variant)),
          h('td', { class: 'graph-path' }, g.graph.join(' → ')),
          h('td', { class: 'num' }, round(g.expectedReward, 2)),
          h('td', { class: 'num' }, round(g.uncertainty, 2)),
          h('td', { class: 'num' }, g.decisions),
        ),
      ),
    ),
  );
}

function estimateTable(r: CompositionRanking): HTMLElement {
  const row = (label: string, e: Estimate): (string | number)[] =>
    e === null
      ? [label, '—', '—', '—', 0]
      : [
          label,
          round(e.value, 2),
          `${round(e.lower, 2)} … ${round(e.upper, 2)}`,
          round(e.effective, 1),
          e.n,
        ];
  return table(
    null,
    ['Policy', 'Estimated reward', '95 % interval', 'Effective samples', 'Logged'],
    [row('learned', r.estimate.learned), row('default', r.estimate.default)],
    { class: 'list', id: 'composition-estimate' },
  );
}
