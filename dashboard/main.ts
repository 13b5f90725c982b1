/**
 * The dashboard's shell: the header (cluster name, links, API key), and a hash router that
 * renders one view at a time into <main>. Each view gets an AbortSignal that is aborted when
 * the route changes, so its polling loops and fetches stop with it.
 */
import { apiKey, get, setApiKey } from './api.js';
import { h } from './dom.js';
import type { ClusterInfo } from './lib/types.js';
import { errorBox, type View, type ViewContext } from './view.js';
import { compositionView } from './views/composition.js';
import { harvestView } from './views/harvest.js';
import { invocationView } from './views/invocation.js';
import { invocationsView } from './views/invocations.js';
import { workersView } from './views/workers.js';
import { workflowsView, workflowView } from './views/workflows.js';

const NAV: { href: string; label: string; route: string }[] = [
  { href: '#/workflows', label: 'Workflows', route: 'workflows' },
  { href: '#/invocations', label: 'Invocations', route: 'invocations' },
  { href: '#/workers', label: 'Workers', route: 'workers' },
  { href: '#/harvest', label: 'Harvesting', route: 'harvest' },
  { href: '#/composition', label: 'Compositions', route: 'composition' },
];

let cluster: ClusterInfo | null = null;
let current: AbortController | null = null;

function pick(path: string[]): View {
  const [first, second] = path;
  if (first === 'invocations') return second === undefined ? invocationsView : invocationView;
  if (first === 'workers') return workersView;
  if (first === 'harvest') return harvestView;
  if (first === 'composition') return compositionView;
  if (first === 'workflows' && second !== undefined) return workflowView;
  return workflowsView;
}

function parseHash(): { path: string[]; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const [p = '', q = ''] = raw.split('?', 2);
  const path = p
    .split('/')
    .filter((x) => x !== '')
    .map((x) => decodeURIComponent(x));
  return { path: path.length === 0 ? ['workflows'] : path, params: new URLSearchParams(q) };
}

async function route(): Promise<void> {
  current?.abort();
  const ac = new AbortController();
  current = ac;
  const { path, params } = parseHash();
  const main = document.getElementById('main')!;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('header nav a'))
    a.setAttribute('aria-current', a.dataset['route'] === path[0] ? 'page' : 'false');
  main.setAttribute('aria-busy', 'true');
  const ctx: ViewContext = {
    path,
    params,
    signal: ac.signal,
    cluster,
    title: (view) => {
      document.title = `${view} · ${cluster?.name ?? 'faasflow'}`;
    },
  };
  let node: Node;
  try {
    node = await pick(path)(ctx);
  } catch (err) {
    if (ac.signal.aborted) return;
    node = errorBox(err);
  }
  if (ac.signal.aborted) return;
  main.replaceChildren(node);
  main.removeAttribute('aria-busy');
}

function keyButton(): HTMLElement {
  const label = (): string => (apiKey() === null ? 'API key: none' : 'API key: set');
  const button = h('button', { type: 'button', class: 'key', id: 'api-key' }, label());
  button.addEventListener('click', () => {
    const key = prompt(
      'API key sent as "authorization: Bearer <key>" (empty to clear). Kept in this browser only.',
      apiKey() ?? '',
    );
    if (key === null) return;
    setApiKey(key);
    button.textContent = label();
    void loadCluster().then(route);
  });
  return button;
}

async function loadCluster(): Promise<void> {
  try {
    cluster = await get<ClusterInfo>('/v1/cluster');
  } catch {
    cluster = null;
  }
  const name = document.getElementById('cluster-name')!;
  name.textContent = cluster?.name ?? 'faasflow';
  const badges = document.getElementById('cluster-badges')!;
  badges.replaceChildren(
    ...(cluster
      ? [
          h('span', { class: 'badge' }, `${cluster.mode === 'master' ? 'MasterSP' : 'WorkerSP'}`),
          h('span', { class: 'badge' }, `placement ${cluster.placement}`),
          h('span', { class: 'badge' }, `harvesting ${cluster.harvest ? 'on' : 'off'}`),
          cluster.ingress === undefined
            ? null
            : h(
                'span',
                {
                  class: 'badge badge-ingress',
                  id: 'served-by',
                  title: 'This page is served by a worker; its data comes from the master.',
                },
                `via worker ${cluster.ingress}`,
              ),
        ].filter((b): b is HTMLSpanElement => b !== null)
      : []),
  );
}

function header(): HTMLElement {
  return h(
    'header',
    {},
    h(
      'div',
      { class: 'brand' },
      h('a', { href: '#/workflows', id: 'cluster-name' }, 'faasflow'),
      h('span', { id: 'cluster-badges' }),
    ),
    h(
      'nav',
      { 'aria-label': 'Views' },
      ...NAV.map((n) => h('a', { href: n.href, 'data-route': n.route }, n.label)),
    ),
    keyButton(),
  );
}

async function boot(): Promise<void> {
  document.body.replaceChildren(header(), h('main', { id: 'main' }));
  await loadCluster();
  window.addEventListener('hashchange', () => void route());
  await route();
}

void boot();
