/** Workflows: the deployed list, and one workflow with its DAG, groups, functions and versions. */
import { get } from '../api.js';
import { h, link, table } from '../dom.js';
import { layoutDag } from '../lib/dag-layout.js';
import { bytes, ms, time } from '../lib/format.js';
import type { WorkflowDetail, WorkflowList } from '../lib/types.js';
import type { View } from '../view.js';
import { dagLegend, dagSvg } from './dag.js';

export const workflowsView: View = async (ctx) => {
  ctx.title('Workflows');
  const { workflows } = await get<WorkflowList>('/v1/workflows', ctx.signal);
  return h(
    'section',
    { id: 'view-workflows' },
    h('h1', {}, 'Workflows'),
    workflows.length === 0
      ? h('p', {}, 'No workflows deployed yet (faasflow deploy FILE.yaml).')
      : table(
          null,
          ['Name', 'Version', 'Nodes', 'Edges', 'Groups', 'Deployed', ''],
          workflows.map((w) => [
            link(w.name, `#/workflows/${encodeURIComponent(w.name)}`),
            w.version,
            w.nodes,
            w.edges,
            w.groups,
            time(w.createdAt),
            link('invocations', `#/invocations?workflow=${encodeURIComponent(w.name)}`),
          ]),
          { class: 'list', id: 'workflows-table' },
        ),
  );
};

export const workflowView: View = async (ctx) => {
  const name = ctx.path[1]!;
  ctx.title(name);
  const w = await get<WorkflowDetail>(`/v1/workflows/${encodeURIComponent(name)}`, ctx.signal);
  const layout = layoutDag(w.dag, w.groups);
  const fns = Object.values(w.dag.functions);
  return h(
    'section',
    { id: 'view-workflow' },
    h('h1', {}, w.name, h('small', {}, ` version ${w.version}`)),
    h(
      'p',
      {},
      `${w.dag.nodes.length} nodes, ${w.dag.edges.length} edges, ${w.groups.length} partition group${w.groups.length === 1 ? '' : 's'}; `,
      `${bytes(w.localBytes)} of ${bytes(w.totalBytes)} estimated edge data stays inside a group. `,
      link('Invocations', `#/invocations?workflow=${encodeURIComponent(w.name)}`),
      ' · ',
      link('Harvesting', `#/harvest?workflow=${encodeURIComponent(w.name)}`),
      w.variants ? ' · ' : null,
      w.variants
        ? link(
            `Composition (${w.variants.length} graphs)`,
            `#/composition?workflow=${encodeURIComponent(w.name)}`,
            { id: 'workflow-composition' },
          )
        : null,
    ),
    w.warnings.length > 0
      ? h('ul', { class: 'warnings' }, ...w.warnings.map((x) => h('li', {}, x)))
      : null,
    h(
      'figure',
      { class: 'dag-figure' },
      h('div', { class: 'dag-scroll' }, dagSvg(layout, `DAG of ${w.name}`)),
      h('figcaption', {}, dagLegend(w.groups)),
    ),
    h('h2', {}, 'Functions'),
    table(
      null,
      ['Function', 'Source', 'CPU', 'Memory', 'Timeout', 'Retries', 'Est. runtime'],
      fns.map((f) => [
        f.name,
        f.source.kind,
        f.cpu,
        `${f.memoryMb} MB`,
        ms(f.timeoutMs),
        f.retries,
        ms(f.runtimeMs),
      ]),
      { class: 'list' },
    ),
    h('h2', {}, 'Versions'),
    table(
      null,
      ['Version', 'Deployed'],
      w.versions.map((v) => [v.version, time(v.createdAt)]),
      { class: 'list', id: 'versions-table' },
    ),
  );
};
