/**
 * One invocation: status, output or error, its durability (re-placements, adoption, retried and
 * re-run steps) and composition, the Gantt timeline by worker, the step table and harvesting's
 * decisions. While it runs, the view polls and redraws; it stops when it ends.
 */
import { get } from '../api.js';
import { h, link } from '../dom.js';
import { ms, bytes, time } from '../lib/format.js';
import type { InvocationDetail, StepRecord } from '../lib/types.js';
import { errorBox, poll, statusChip, type View } from '../view.js';
import { decisionTable } from './decisions.js';
import { ganttLegend, ganttSvg } from './gantt.js';

const POLL_MS = 1_000;

export const invocationView: View = async (ctx) => {
  const id = ctx.path[1]!;
  ctx.title(id);
  const path = `/v1/invocations/${encodeURIComponent(id)}`;
  const section = h('section', { id: 'view-invocation' });
  const problem = h('div', {});
  const draw = (inv: InvocationDetail): void => {
    section.replaceChildren(...content(inv), problem);
    section.dataset['status'] = inv.status;
  };
  const first = await get<InvocationDetail>(path, ctx.signal);
  draw(first);
  if (first.status === 'running')
    poll(
      ctx.signal,
      POLL_MS,
      async () => {
        const inv = await get<InvocationDetail>(path, ctx.signal);
        problem.replaceChildren();
        draw(inv);
        return inv.status === 'running';
      },
      (err) => problem.replaceChildren(errorBox(err)),
    );
  return section;
};

function content(inv: InvocationDetail): Node[] {
  const workers = new Set(inv.steps.map((s) => s.worker));
  return [
    h('h1', {}, 'Invocation ', h('code', {}, inv.invocationId)),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Workflow'),
      h(
        'dd',
        {},
        link(inv.workflow, `#/workflows/${encodeURIComponent(inv.workflow)}`),
        ` v${inv.version}`,
      ),
      h('dt', {}, 'Status'),
      h(
        'dd',
        { id: 'invocation-status' },
        statusChip(inv.status),
        inv.status === 'running' ? ' (live)' : null,
      ),
      h('dt', {}, 'Started'),
      h('dd', {}, time(inv.startedAt)),
      h('dt', {}, 'Duration'),
      h('dd', {}, ms(inv.durationMs)),
      h('dt', {}, 'Steps'),
      h(
        'dd',
        {},
        `${inv.steps.length} on ${workers.size} worker${workers.size === 1 ? '' : 's'}`,
        inv.stepsDropped ? ` (+${inv.stepsDropped} not kept)` : '',
      ),
    ),
    inv.error
      ? h(
          'div',
          { class: 'error', role: 'alert', id: 'invocation-error' },
          h('strong', {}, inv.error.code),
          ': ',
          inv.error.message,
        )
      : null,
    inv.status === 'succeeded'
      ? h(
          'details',
          { class: 'output' },
          h('summary', {}, 'Output'),
          h('pre', { id: 'invocation-output' }, JSON.stringify(inv.output, null, 2)),
        )
      : null,
    h('h2', {}, 'Durability'),
    durabilityFacts(inv),
    inv.composition ? h('h2', {}, 'Composition') : null,
    inv.composition ? compositionFacts(inv.composition) : null,
    h('h2', {}, 'Timeline'),
    inv.steps.length === 0
      ? h('p', {}, 'No steps reported yet.')
      : h(
          'figure',
          { class: 'gantt-figure' },
          h('div', { class: 'gantt-scroll' }, ganttSvg(inv.steps)),
          h('figcaption', {}, ganttLegend()),
        ),
    h('h2', {}, 'Steps'),
    stepTable(inv.steps),
    inv.harvest ? h('h2', {}, 'Harvesting decisions') : null,
    inv.harvest ? decisionTable(inv.harvest) : null,
  ].filter((n): n is HTMLElement => n !== null);
}

/**
 * What the record says of the invocation's recovery: its mode, how often its groups were
 * re-placed, whether the master adopted it from a dead ingress worker, and the steps that show
 * it (retries on one worker; a node run again on another after its worker was lost).
 */
function durabilityFacts(inv: InvocationDetail): HTMLElement {
  const d = inv.durability;
  const retried = inv.steps.filter((s) => s.attempts > 1);
  const byNode = new Map<string, string[]>();
  for (const s of inv.steps) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s.worker]);
  const rerun = [...byNode].filter(([, workers]) => workers.length > 1);
  return h(
    'dl',
    {
      class: 'facts',
      id: 'invocation-durability',
      'data-mode': d.mode,
      'data-recoveries': d.recoveries,
      'data-adopted-from': d.adoptedFrom ?? null,
    },
    h('dt', {}, 'Mode'),
    h(
      'dd',
      {},
      h('code', {}, d.mode),
      d.mode === 'none' ? ' — a lost worker fails the invocation' : ' — journaled in Redis',
    ),
    h('dt', {}, 'Re-placements'),
    h(
      'dd',
      { id: 'durability-recoveries' },
      d.recoveries === 0
        ? 'none'
        : `${d.recoveries} (groups moved to live workers after a worker was lost)`,
    ),
    d.adoptedFrom === undefined ? null : h('dt', {}, 'Adopted'),
    d.adoptedFrom === undefined
      ? null
      : h(
          'dd',
          { id: 'durability-adopted' },
          'by the master, after its ingress worker ',
          h('code', {}, d.adoptedFrom),
          ' died',
        ),
    h('dt', {}, 'Retried steps'),
    h(
      'dd',
      { id: 'durability-retried' },
      retried.length === 0
        ? 'none'
        : retried.map((s) => `${s.node} (${s.attempts} tries on ${s.worker})`).join(', '),
    ),
    h('dt', {}, 'Run again'),
    h(
      'dd',
      { id: 'durability-rerun' },
      rerun.length === 0
        ? 'none'
        : rerun.map(([node, workers]) => `${node} (on ${workers.join(' then ')})`).join(', '),
    ),
  );
}

function compositionFacts(c: NonNullable<InvocationDetail['composition']>): HTMLElement {
  return h(
    'dl',
    { class: 'facts', id: 'invocation-composition' },
    h('dt', {}, 'Graph'),
    h(
      'dd',
      {},
      h('code', {}, c.variant),
      ' ',
      h('span', { class: 'graph-path' }, c.graph.join(' → ')),
    ),
    h('dt', {}, 'Propensity'),
    h('dd', {}, `${Math.round(c.propensity * 1000) / 10}%${c.explored ? ' (explored)' : ''}`),
    h('dt', {}, 'Model'),
    h(
      'dd',
      {},
      `v${c.modelVersion}`,
      c.wouldRun ? ` · the model would have run ${c.wouldRun}` : '',
    ),
  );
}

function stepTable(steps: readonly StepRecord[]): HTMLElement {
  const head = [
    'Node',
    'Kind',
    'Worker',
    'Status',
    'Queue',
    'Get',
    'Run',
    'Put',
    'Total',
    'Cold',
    'Tries',
    'Output',
  ];
  return h(
    'table',
    { class: 'list', id: 'steps-table' },
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      ...steps.map((s) =>
        h(
          'tr',
          { 'data-node': s.node, 'data-status': s.status },
          h('th', { scope: 'row' }, s.node),
          h('td', {}, s.kind, s.items !== undefined ? ` ×${s.items}` : ''),
          h('td', {}, s.worker),
          h(
            'td',
            {},
            statusChip(s.status),
            s.error
              ? h('div', { class: 'reason' }, `${s.error.code}: ${s.error.message.split('\n')[0]}`)
              : null,
          ),
          h('td', { class: 'num' }, ms(s.queueMs)),
          h('td', { class: 'num' }, ms(s.getMs)),
          h('td', { class: 'num' }, ms(s.runMs)),
          h('td', { class: 'num' }, ms(s.putMs)),
          h('td', { class: 'num' }, ms(s.finishedAt - s.readyAt)),
          h('td', {}, s.cold ? '❄ cold' : ''),
          h('td', { class: 'num' }, s.attempts),
          h('td', {}, `${bytes(s.outputBytes)} ${s.tier}`),
        ),
      ),
    ),
  );
}
