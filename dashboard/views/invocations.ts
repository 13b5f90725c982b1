/**
 * Invocations: newest first, filtered by workflow, status and tenant (kept in the URL, so a
 * filtered list can be linked), a page at a time with "Load more". Rows are built in one
 * fragment, so 500 of them render in one layout pass.
 */
import { get, query } from '../api.js';
import { h, link } from '../dom.js';
import { ms, time } from '../lib/format.js';
import { STATUSES, type InvocationPage, type WorkflowList } from '../lib/types.js';
import { errorBox, statusChip, type View } from '../view.js';

const LIMITS = [100, 500, 1000];

export const invocationsView: View = async (ctx) => {
  ctx.title('Invocations');
  const workflow = ctx.params.get('workflow') ?? '';
  const status = ctx.params.get('status') ?? '';
  const tenant = ctx.params.get('tenant') ?? '';
  const limit = Number(ctx.params.get('limit') ?? 100) || 100;
  const filter = { workflow, status, tenant };
  const [{ workflows }, first] = await Promise.all([
    get<WorkflowList>('/v1/workflows', ctx.signal),
    get<InvocationPage>(`/v1/invocations${query({ ...filter, limit })}`, ctx.signal),
  ]);

  const select = (
    name: string,
    label: string,
    value: string,
    options: string[],
    any: string,
  ): HTMLElement =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        { name, id: `filter-${name}` },
        h('option', { value: '' }, any),
        ...options.map((o) => h('option', { value: o, selected: o === value }, o)),
      ),
    );
  const form = h(
    'form',
    { class: 'filters', id: 'invocation-filters', role: 'search' },
    select(
      'workflow',
      'Workflow ',
      workflow,
      workflows.map((w) => w.name),
      'any',
    ),
    select('status', 'Status ', status, [...STATUSES], 'any'),
    h(
      'label',
      {},
      'Tenant ',
      h('input', {
        name: 'tenant',
        id: 'filter-tenant',
        value: tenant,
        placeholder: 'any',
        size: 12,
      }),
    ),
    select('limit', 'Per page ', String(limit), LIMITS.map(String), String(limit)),
    h('button', { type: 'submit' }, 'Apply'),
  );
  // Changing a select applies at once; the tenant box applies on Enter or the button.
  form.addEventListener('change', (e) => {
    if ((e.target as HTMLElement).tagName === 'SELECT') form.requestSubmit();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const q: Record<string, string> = {};
    for (const k of ['workflow', 'status', 'tenant', 'limit']) {
      const raw = data.get(k);
      const v = typeof raw === 'string' ? raw.trim() : '';
      if (v !== '' && !(k === 'limit' && v === '100')) q[k] = v;
    }
    location.hash = `#/invocations${query(q)}`;
  });

  const tbody = h('tbody', {});
  const summary = h('p', { id: 'invocations-count', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', id: 'load-more' }, 'Load more');
  let shown = 0;
  let next: string | null = null;
  const add = (page: InvocationPage): void => {
    const frag = document.createDocumentFragment();
    for (const r of page.invocations) {
      frag.append(
        h(
          'tr',
          { 'data-status': r.status, 'data-workflow': r.workflow },
          h('td', {}, link(r.invocationId, `#/invocations/${encodeURIComponent(r.invocationId)}`)),
          h(
            'td',
            {},
            link(r.workflow, `#/workflows/${encodeURIComponent(r.workflow)}`),
            ` v${r.version}`,
          ),
          h('td', {}, statusChip(r.status), r.errorCode ? h('small', {}, ` ${r.errorCode}`) : null),
          h('td', {}, r.tenant),
          h('td', {}, time(r.startedAt)),
          h('td', { class: 'num' }, ms(r.durationMs)),
          h('td', { class: 'num' }, r.steps),
        ),
      );
    }
    tbody.append(frag);
    shown += page.invocations.length;
    next = page.next;
    summary.textContent =
      page.total === 0 ? 'No invocations match.' : `Showing ${shown} of ${page.total}.`;
    more.hidden = next === null;
  };
  add(first);
  const box = h('div', {});
  more.addEventListener('click', () => {
    if (next === null) return;
    more.disabled = true;
    get<InvocationPage>(`/v1/invocations${query({ ...filter, limit, before: next })}`, ctx.signal)
      .then(add, (err: unknown) => box.replaceChildren(errorBox(err)))
      .finally(() => {
        more.disabled = false;
      });
  });

  return h(
    'section',
    // The filter this list was drawn for, so a test (or a user script) can wait for it.
    { id: 'view-invocations', 'data-filter': query(filter).slice(1) },
    h('h1', {}, 'Invocations'),
    form,
    summary,
    h(
      'table',
      { class: 'list', id: 'invocations-table' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Invocation', 'Workflow', 'Status', 'Tenant', 'Started', 'Duration', 'Steps'].map(
            (c) => h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      tbody,
    ),
    more,
    box,
  );
};
