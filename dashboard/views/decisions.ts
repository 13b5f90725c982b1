/** Harvesting's decision table for one invocation: per task node, user → predicted → applied. */
import { h } from '../dom.js';
import { alloc, bytes, ms, round } from '../lib/format.js';
import type { HarvestView } from '../lib/types.js';

export function decisionTable(hv: HarvestView): HTMLElement {
  const rows = hv.nodes.map((n) => {
    const changed = n.applied.cpu !== n.user.cpu || n.applied.memoryMb !== n.user.memoryMb;
    return h(
      'tr',
      { 'data-node': n.node, class: changed ? 'changed' : '' },
      h('th', { scope: 'row' }, n.node, n.fn !== n.node ? h('small', {}, ` ${n.fn}`) : null),
      h('td', {}, n.stage),
      h('td', {}, alloc(n.user)),
      h(
        'td',
        {},
        n.demand
          ? `${round(n.demand.cpuCores, 2)} cpu · ${Math.round(n.demand.memoryMb)} MB${n.demand.inputBytes === undefined ? '' : ` (in ${bytes(n.demand.inputBytes)})`}`
          : '—',
      ),
      h('td', {}, alloc(n.predicted)),
      h('td', { class: 'applied' }, alloc(n.applied)),
      h(
        'td',
        { title: n.reason?.message ?? '' },
        n.reason ? h('code', {}, n.reason.code) : 'predicted',
        n.reason ? h('div', { class: 'reason' }, n.reason.message) : null,
      ),
      h(
        'td',
        {},
        n.measured
          ? `${n.measured.cpuCores === null ? '—' : round(n.measured.cpuCores, 2)} cpu · ${n.measured.memoryMb === null ? '—' : round(n.measured.memoryMb, 1)} MB`
          : '—',
      ),
      h('td', { class: 'num' }, ms(n.runMs)),
    );
  });
  return h(
    'div',
    { class: 'decisions' },
    h(
      'p',
      {},
      `Mode ${hv.mode}; model set ${hv.modelVersion === null ? 'none' : `v${hv.modelVersion}`}; `,
      `the models saw ${bytes(hv.dagInputBytes)} of input; largest allocation ${alloc(hv.max)}.`,
    ),
    h(
      'table',
      { class: 'list decision-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'Node',
            'Stage',
            'User',
            'Demand',
            'Predicted',
            'Applied',
            'Reason',
            'Measured peak',
            'Run',
          ].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h('tbody', {}, ...rows),
    ),
  );
}
