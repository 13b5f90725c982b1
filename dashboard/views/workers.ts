/** Workers: id, url, status, runtime, capacity, load and inflight groups; refreshed every 2 s. */
import { get } from '../api.js';
import { h } from '../dom.js';
import { bytes, time } from '../lib/format.js';
import type { WorkerList } from '../lib/types.js';
import { errorBox, poll, statusChip, type View } from '../view.js';

const POLL_MS = 2_000;

export const workersView: View = async (ctx) => {
  ctx.title('Workers');
  const tbody = h('tbody', {});
  const count = h('p', { id: 'workers-count', 'aria-live': 'polite' });
  const problem = h('div', {});
  const draw = ({ workers }: WorkerList): void => {
    const ready = workers.filter((w) => w.status === 'ready').length;
    count.textContent = `${workers.length} worker${workers.length === 1 ? '' : 's'}, ${ready} ready.`;
    tbody.replaceChildren(
      ...workers.map((w) => {
        // Load as the share of cores with a function running (can pass 100%: CPU is shared).
        const share = w.capacity.cpu > 0 ? w.load.running / w.capacity.cpu : 0;
        return h(
          'tr',
          { 'data-worker': w.id, 'data-status': w.status },
          h('th', { scope: 'row' }, w.id),
          h('td', {}, h('code', {}, w.url)),
          h('td', {}, statusChip(w.status)),
          h('td', {}, w.runtime),
          h('td', {}, `${w.capacity.cpu} cpu · ${Math.round(w.capacity.memoryMb)} MB`),
          h(
            'td',
            {},
            h('meter', {
              min: 0,
              max: 1,
              high: 0.8,
              value: Math.min(1, share),
              title: `${Math.round(share * 100)}%`,
            }),
            ` ${w.load.running} running, ${w.load.queued} queued`,
          ),
          h('td', { class: 'num' }, w.load.invocations),
          h('td', { class: 'num' }, bytes(w.load.memoryBytes)),
          h('td', { class: 'num' }, w.load.inflight),
          h('td', {}, time(w.lastSeenAt)),
        );
      }),
    );
  };
  draw(await get<WorkerList>('/v1/workers', ctx.signal));
  poll(
    ctx.signal,
    POLL_MS,
    async () => {
      draw(await get<WorkerList>('/v1/workers', ctx.signal));
      problem.replaceChildren();
      return true;
    },
    (err) => problem.replaceChildren(errorBox(err)),
  );
  const head = [
    'Worker',
    'URL',
    'Status',
    'Runtime',
    'Capacity',
    'Load',
    'Invocations',
    'Memory held',
    'Inflight groups',
    'Last seen',
  ];
  return h(
    'section',
    { id: 'view-workers' },
    h('h1', {}, 'Workers'),
    count,
    h(
      'table',
      { class: 'list', id: 'workers-table' },
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
      tbody,
    ),
    problem,
  );
};
