/** Text of `faasflow compose`: the ranked graphs and the offline estimates. */
import type { Estimate } from '../../shared/compose/estimate.js';
import type { CompositionRanking } from '../../shared/schema/composition-api.js';

const num = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

const est = (e: Estimate | null): string =>
  e ? `${num(e.value)} [${num(e.lower)}, ${num(e.upper)}]` : 'no data yet';

export function compositionLines(a: unknown): string[] {
  const c = a as CompositionRanking;
  const lines = [
    `${c.workflow}@${c.version} for sub-tenant ${c.subTenant}: ${c.admissible} of ${c.variants} graphs admissible; mode ${c.mode}, ${c.explore.algorithm} (rate ${c.explore.rate}), model v${c.modelVersion}, ${c.decisions} logged decisions`,
    '',
    'rank  expected reward  ± uncertainty  variant  (graph)',
  ];
  for (const g of c.graphs)
    lines.push(
      `${String(g.rank).padStart(4)}  ${num(g.expectedReward).padStart(15)}  ${('± ' + num(g.uncertainty)).padStart(13)}  ${g.variant}  (${g.graph.join(' → ')})`,
    );
  lines.push(
    '',
    `offline estimate (SNIPS, 95 %): learned policy ${est(c.estimate.learned)}, default ${est(c.estimate.default)}${c.estimate.promote ? ' — the learned policy beats the default' : ''}`,
  );
  return lines;
}
