/**
 * Draws a laid-out DAG as SVG: one `<g class="node node-<shape>">` per top-level node, filled
 * with its partition group's colour; switches are diamonds, foreach nodes stacked boxes, pass
 * nodes small pills; edges with arrowheads and, leaving a switch, the case they stand for.
 */
import { h, s } from '../dom.js';
import type { DagLayout, LaidNode } from '../lib/dag-layout.js';
import { groupColour } from '../lib/format.js';

export function dagSvg(layout: DagLayout, title: string): SVGSVGElement {
  const width = Math.max(layout.width, 120);
  const height = Math.max(layout.height, 60);
  return s(
    'svg',
    {
      class: 'dag',
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: 'img',
      'aria-label': title,
    },
    s('title', {}, title),
    s(
      'defs',
      {},
      s(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 9,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        s('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#555' }),
      ),
    ),
    s(
      'g',
      { class: 'edges' },
      ...layout.edges.map((e) =>
        s(
          'g',
          { class: 'edge', 'data-from': e.from, 'data-to': e.to },
          s('path', {
            d: e.points.map((p, i) => `${i === 0 ? 'M' : 'L'} ${p.x} ${p.y}`).join(' '),
            'marker-end': 'url(#arrow)',
          }),
          e.label !== undefined && e.labelAt
            ? s('text', { x: e.labelAt.x, y: e.labelAt.y + 4, class: 'edge-label' }, e.label)
            : null,
        ),
      ),
    ),
    s('g', { class: 'nodes' }, ...layout.nodes.map(nodeShape)),
  );
}

function nodeShape(n: LaidNode): SVGGElement {
  const fill = groupColour(n.group);
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const shapes: SVGElement[] = [];
  switch (n.shape) {
    case 'switch':
      shapes.push(
        s('polygon', {
          class: 'shape',
          fill,
          points: `${n.x},${y} ${x + n.width},${n.y} ${n.x},${y + n.height} ${x},${n.y}`,
        }),
      );
      break;
    case 'foreach':
      // Stacked: two offset copies behind the box say "runs many times".
      for (const d of [6, 3])
        shapes.push(
          s('rect', {
            class: 'stack',
            x: x + d,
            y: y - d,
            width: n.width - 6,
            height: n.height - 6,
            rx: 4,
            fill,
          }),
        );
      shapes.push(
        s('rect', {
          class: 'shape',
          x,
          y: y + 0,
          width: n.width - 6,
          height: n.height - 6,
          rx: 4,
          fill,
        }),
      );
      break;
    case 'pass':
      shapes.push(
        s('rect', {
          class: 'shape',
          x,
          y,
          width: n.width,
          height: n.height,
          rx: n.height / 2,
          fill,
        }),
      );
      break;
    case 'task':
      shapes.push(
        s('rect', { class: 'shape', x, y, width: n.width, height: n.height, rx: 4, fill }),
      );
      break;
  }
  const cy = n.shape === 'foreach' ? n.y - 3 : n.y;
  const cx = n.shape === 'foreach' ? n.x - 3 : n.x;
  return s(
    'g',
    {
      class: `node node-${n.shape}`,
      'data-node': n.id,
      'data-group': n.group,
      'data-fill': fill,
    },
    s(
      'title',
      {},
      `${n.shape} ${n.id}${n.detail ? ` — ${n.detail}` : ''}${n.group >= 0 ? ` (group ${n.group + 1})` : ''}`,
    ),
    ...shapes,
    s('text', { x: cx, y: n.detail ? cy - 2 : cy + 4, class: 'label' }, n.label),
    n.detail ? s('text', { x: cx, y: cy + 11, class: 'detail' }, n.detail) : null,
  );
}

/** Swatches for the groups (and the shapes), under the DAG. */
export function dagLegend(groups: readonly (readonly string[])[]): HTMLElement {
  return h(
    'div',
    { class: 'legend', 'aria-label': 'Legend' },
    ...groups.map((g, i) =>
      h(
        'span',
        { class: 'legend-item', 'data-group': i },
        h('span', { class: 'swatch', style: `background:${groupColour(i)}` }),
        `group ${i + 1} (${g.length} node${g.length === 1 ? '' : 's'})`,
      ),
    ),
    shapeKey('switch', s('polygon', { points: '9,1 17,7 9,13 1,7', class: 'key-shape' })),
    shapeKey(
      'foreach',
      s('rect', { x: 5, y: 1, width: 12, height: 9, rx: 1, class: 'key-shape' }),
      s('rect', { x: 2, y: 4, width: 12, height: 9, rx: 1, class: 'key-shape' }),
    ),
    shapeKey('pass', s('rect', { x: 2, y: 4, width: 14, height: 7, rx: 3.5, class: 'key-shape' })),
    shapeKey('task', s('rect', { x: 1, y: 2, width: 16, height: 10, rx: 2, class: 'key-shape' })),
  );
}

function shapeKey(label: string, ...shapes: SVGElement[]): HTMLElement {
  return h(
    'span',
    { class: 'legend-item' },
    s('svg', { width: 18, height: 14, viewBox: '0 0 18 14', 'aria-hidden': 'true' }, ...shapes),
    label,
  );
}
