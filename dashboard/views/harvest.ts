/**
 * Harvesting: for one workflow, its model set (version, records, held-out accuracy, training
 * state) and the decision table of one of its recent invocations (the newest by default).
 */
import { ApiError, get, query } from '../api.js';
import { h, link, table } from '../dom.js';
import { ms, bytes, round, time } from '../lib/format.js';
import type { InvocationDetail, InvocationPage, ModelsView, WorkflowList } from '../lib/types.js';
import type { View } from '../view.js';
import { decisionTable } from './decisions.js';

const RECENT = 20;

export const harvestView: View = async (ctx) => {
  ctx.title('Harvesting');
  const { workflows } = await get<WorkflowList>('/v1/workflows', ctx.signal);
  const workflow = ctx.params.get('workflow') ?? workflows[0]?.name ?? '';
  const section = h('section', { id: 'view-harvest' }, h('h1', {}, 'Harvesting'));
  if (ctx.cluster && !ctx.cluster.harvest)
    section.append(
      h(
        'p',
        { class: 'notice' },
        'Harvesting is off on this master (start it with --harvest on --redis-url …); invocations carry no decisions.',
      ),
    );
  if (workflow === '') {
    section.append(h('p', {}, 'No workflows deployed yet.'));
    return section;
  }
  const picker = h(
    'select',
    { id: 'harvest-workflow', 'aria-label': 'Workflow' },
    ...workflows.map((w) => h('option', { value: w.name, selected: w.name === workflow }, w.name)),
  );
  picker.addEventListener('change', () => {
    location.hash = `#/harvest${query({ workflow: picker.value })}`;
  });
  section.append(h('p', {}, h('label', {}, 'Workflow ', picker)));

  const [models, recent] = await Promise.all([
    get<ModelsView>(`/v1/workflows/${encodeURIComponent(workflow)}/models`, ctx.signal).catch(
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 409) return null;
        throw err;
      },
    ),
    get<InvocationPage>(`/v1/invocations${query({ workflow, limit: RECENT })}`, ctx.signal),
  ]);
  section.append(
    h('h2', {}, 'Model set'),
    models ? modelSummary(models) : h('p', {}, 'No model set: harvesting is off.'),
  );

  section.append(h('h2', {}, 'Decisions'));
  if (recent.invocations.length === 0) {
    section.append(h('p', {}, 'No invocations of this workflow yet.'));
    return section;
  }
  const chosen = ctx.params.get('invocation') ?? recent.invocations[0]!.invocationId;
  const invPicker = h(
    'select',
    { id: 'harvest-invocation', 'aria-label': 'Invocation' },
    ...recent.invocations.map((r) =>
      h(
        'option',
        { value: r.invocationId, selected: r.invocationId === chosen },
        `${r.invocationId} · ${r.status} · ${time(r.startedAt)}`,
      ),
    ),
  );
  invPicker.addEventListener('change', () => {
    location.hash = `#/harvest${query({ workflow, invocation: invPicker.value })}`;
  });
  section.append(
    h(
      'p',
      {},
      h('label', {}, 'Invocation ', invPicker),
      ' ',
      link('timeline', `#/invocations/${encodeURIComponent(chosen)}`),
    ),
  );
  const inv = await get<InvocationDetail>(
    `/v1/invocations/${encodeURIComponent(chosen)}`,
    ctx.signal,
  );
  section.append(
    inv.harvest
      ? decisionTable(inv.harvest)
      : h('p', {}, 'This invocation has no harvesting decision.'),
  );
  return section;
};

function modelSummary(m: ModelsView): HTMLElement {
  const c = m.current;
  const t = m.training;
  const state = t.running ? 'training now' : t.queued ? 'training queued' : 'idle';
  const facts: [string, string][] = [
    [
      'Current set',
      c
        ? `v${c.version}, trained ${time(new Date(c.trainedAt).toISOString())} in ${ms(c.trainMs)}`
        : 'none yet',
    ],
    ['Profiles stored', `${m.profiles.stored} (${m.profiles.appended} appended)`],
    [
      'Training',
      `${state}; ${t.newRecords} new records, retrains every ${t.retrainEvery}, needs ${t.minRecords}`,
    ],
  ];
  if (c) {
    facts.push([
      'Models',
      `${c.ml1} ML1 (input size per stage), ${c.ml2} ML2 (peaks per function); ${c.skipped.length} skipped`,
    ]);
    facts.push([
      'Records',
      `${c.records} read, ${c.excluded} excluded, ${c.trainRecords} train / ${c.testRecords} test; ${bytes(c.sizeBytes)}`,
    ]);
  }
  if (t.lastError) facts.push(['Last error', `${t.lastError.code}: ${t.lastError.message}`]);
  const e = c?.evaluation ?? null;
  return h(
    'div',
    { id: 'model-summary' },
    h('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    e
      ? table(
          'Held-out accuracy (pipeline: ML2 fed ML1’s prediction, as at invocation time)',
          ['', 'CPU', 'Memory'],
          [
            ['Overall', acc(e.overall.cpu), acc(e.overall.memory)],
            ['Pipeline', acc(e.pipeline.cpu), acc(e.pipeline.memory)],
          ],
          { class: 'list' },
        )
      : null,
    m.history.length > 1
      ? table(
          'History',
          ['Version', 'Trained', 'Records', 'ML1', 'ML2'],
          m.history.map((x) => [
            `v${x.version}`,
            time(new Date(x.trainedAt).toISOString()),
            x.records,
            x.ml1,
            x.ml2,
          ]),
          { class: 'list' },
        )
      : null,
  );
}

function acc(a: { n: number; accuracy: number | null; meanPctError: number | null }): string {
  if (a.n === 0 || a.accuracy === null) return `— (n ${a.n})`;
  const err = a.meanPctError === null ? '' : `, mean error ${round(a.meanPctError, 1)}%`;
  return `${round(a.accuracy * 100, 1)}% accurate${err} (n ${a.n})`;
}
