/**
 * Draws the Gantt model (lib/gantt.ts) as SVG: one `<g class="lane">` per worker, a
 * `<g class="bar">` per step with a rect per segment; cold starts carry a ❄ mark and skipped
 * steps are hatched grey. Every bar has a `<title>` with its figures for hover.
 */
import { h, s } from '../dom.js';
import { buildGantt, ticks, type Bar, type SegmentKind } from '../lib/gantt.js';
import { ms } from '../lib/format.js';
import type { StepRecord } from '../lib/types.js';

const ROW_PX = 20;
const LANE_GAP_PX = 10;
const LABEL_PX = 96;
const CHART_PX = 880;
const AXIS_PX = 22;
/** Room right of the chart for the last bars' labels. */
const RIGHT_PX = 170;

const SEGMENT_LABEL: Record<SegmentKind, string> = {
  queue: 'queue',
  get: 'data get',
  start: 'start (before the handler)',
  run: 'run',
  engine: 'engine (switch, pass, foreach)',
  put: 'data put',
};

export function ganttSvg(steps: readonly StepRecord[]): SVGSVGElement {
  const labelPx = (node: string): number => 8 + node.length * 6.6;
  const g = buildGantt(
    steps,
    (b, spanMs) =>
      b.from +
      ((Math.max(4, ((b.to - b.from) * CHART_PX) / spanMs) + labelPx(b.node)) * spanMs) / CHART_PX,
  );
  const scale = CHART_PX / g.spanMs;
  const x = (t: number): number => LABEL_PX + t * scale;
  let y = AXIS_PX;
  const lanes: SVGElement[] = [];
  for (const lane of g.lanes) {
    const top = y;
    const height = lane.rows.length * ROW_PX;
    const bars = lane.rows.flatMap((row, i) => row.map((b) => bar(b, x, top + i * ROW_PX)));
    lanes.push(
      s(
        'g',
        { class: 'lane', 'data-worker': lane.worker },
        s('rect', {
          class: 'lane-bg',
          x: 0,
          y: top - 2,
          width: LABEL_PX + CHART_PX + RIGHT_PX,
          height: height + 4,
        }),
        s('text', { class: 'lane-label', x: 6, y: top + 14 }, lane.worker),
        ...bars,
      ),
    );
    y += height + LANE_GAP_PX;
  }
  const width = LABEL_PX + CHART_PX + RIGHT_PX;
  const axis = ticks(g.spanMs).map((t) =>
    s(
      'g',
      { class: 'tick' },
      s('line', { x1: x(t), x2: x(t), y1: AXIS_PX - 4, y2: y }),
      s('text', { x: x(t), y: AXIS_PX - 8 }, t === 0 ? '0' : ms(t)),
    ),
  );
  return s(
    'svg',
    {
      class: 'gantt',
      viewBox: `0 0 ${width} ${y}`,
      width,
      height: y,
      role: 'img',
      'aria-label': `Timeline of ${g.bars} steps on ${g.lanes.length} workers over ${ms(g.spanMs)}`,
    },
    s(
      'defs',
      {},
      s(
        'pattern',
        {
          id: 'hatch',
          width: 6,
          height: 6,
          patternUnits: 'userSpaceOnUse',
          patternTransform: 'rotate(45)',
        },
        s('rect', { width: 6, height: 6, fill: '#e2e2e2' }),
        s('line', { x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#8a8a8a', 'stroke-width': 2 }),
      ),
    ),
    s('g', { class: 'axis' }, ...axis),
    ...lanes,
  );
}

function bar(b: Bar, x: (t: number) => number, top: number): SVGGElement {
  const minWidth = 4;
  const skipped = b.status === 'skipped';
  const x0 = x(b.from);
  const w = Math.max(minWidth, x(b.to) - x0);
  const st = b.step;
  const tip = [
    `${b.node} (${b.kind}) on ${b.worker}: ${b.status}${b.cold ? ', cold start' : ''}`,
    `ready → done ${ms(b.to - b.from)}; queue ${ms(st.queueMs)}, get ${ms(st.getMs)}, run ${ms(st.runMs)}, put ${ms(st.putMs)}`,
    b.attempts > 1 ? `${b.attempts} attempts` : '',
    st.items !== undefined ? `${st.items} items` : '',
    st.error ? `${st.error.code}: ${st.error.message}` : '',
  ]
    .filter((l) => l !== '')
    .join('\n');
  const parts: SVGElement[] = [s('title', {}, tip)];
  if (skipped) {
    parts.push(
      s('rect', {
        class: 'seg seg-skipped',
        x: x0,
        y: top + 2,
        width: w,
        height: ROW_PX - 4,
        fill: 'url(#hatch)',
      }),
    );
  } else {
    parts.push(s('rect', { class: 'bar-bg', x: x0, y: top + 2, width: w, height: ROW_PX - 4 }));
    for (const seg of b.segments)
      parts.push(
        s('rect', {
          class: `seg seg-${seg.kind}`,
          'data-kind': seg.kind,
          x: x(seg.from),
          y: top + (seg.kind === 'queue' ? 7 : 2),
          width: Math.max(0.5, x(seg.to) - x(seg.from)),
          height: seg.kind === 'queue' ? ROW_PX - 14 : ROW_PX - 4,
        }),
      );
  }
  if (b.cold) parts.push(s('text', { class: 'cold-mark', x: x0 - 1, y: top + 14 }, '❄'));
  parts.push(s('text', { class: 'bar-label', x: x0 + w + 4, y: top + 14 }, b.node));
  return s(
    'g',
    {
      class: `bar status-${b.status}${b.cold ? ' cold' : ''}${skipped ? ' skipped' : ''}`,
      'data-node': b.node,
      'data-worker': b.worker,
      'data-status': b.status,
    },
    ...parts,
  );
}

export function ganttLegend(): HTMLElement {
  const kinds: SegmentKind[] = ['queue', 'get', 'start', 'run', 'put', 'engine'];
  return h(
    'div',
    { class: 'legend' },
    ...kinds.map((k) =>
      h(
        'span',
        { class: 'legend-item' },
        h('span', { class: `swatch seg-${k}` }),
        SEGMENT_LABEL[k],
      ),
    ),
    h('span', { class: 'legend-item' }, h('span', { class: 'swatch seg-skipped' }), 'skipped'),
    h('span', { class: 'legend-item' }, '❄ cold start (its start is the sandbox’s)'),
    h(
      'span',
      { class: 'legend-item' },
      h('span', { class: 'swatch seg-failed' }),
      'failed (red outline)',
    ),
  );
}
