/** Text of `faasflow chains NAME`: what the chain model learned of a workflow, and its budget. */
import type { ChainsView } from '../../master/chains/service.js';

const ms = (x: number): string => `${x.toFixed(0)} ms`;
const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;

export function chainsLines(answer: unknown): string[] {
  const a = answer as ChainsView;
  const out = [
    `${a.workflow}: prewarm ${a.mode}, budget ${pct(a.budget)}, ${a.observed} invocations observed`,
    `price ${a.price.toPrecision(3)} ms saved per MB·s; unused prepares ${a.wasteFraction === null ? 'not measured yet' : pct(a.wasteFraction)} of sandbox memory-seconds (used ${a.prepares.usedMbS.toFixed(1)} MB·s, unused ${a.prepares.wastedMbS.toFixed(1)} MB·s)`,
  ];
  if (a.switches.length > 0) out.push('branches:');
  for (const s of a.switches) {
    const b = Object.entries(s.branches)
      .map(([k, p]) => `${k}: ${pct(p)}`)
      .join(', ');
    out.push(`  ${s.node} (${s.bucket}, ${s.samples.toFixed(1)} samples): ${b}`);
  }
  out.push('start offsets (p10 / p50 / p98):');
  for (const n of a.nodes)
    out.push(
      `  ${n.node} (${n.function}): ${n.startMs === null ? 'not seen' : `${ms(n.startMs.p10)} / ${ms(n.startMs.p50)} / ${ms(n.startMs.p98)}`}`,
    );
  out.push('functions:');
  for (const f of a.functions)
    out.push(
      `  ${f.function}: cold ${ms(f.coldMs)}${f.measured ? '' : ' (assumed)'}${f.coldHighMs > f.coldMs ? ` (p90 ${ms(f.coldHighMs)})` : ''}, warm ${ms(f.warmMs)}, ${f.memoryMb.toFixed(0)} MB, ${f.colds}/${f.runs} runs cold`,
    );
  if (a.successors.length === 0) out.push('successors: none seen');
  else out.push('successors:');
  for (const s of a.successors)
    out.push(
      `  ${s.workflow}: score ${s.score.toFixed(3)} (P ${pct(s.probability)} × confidence ${s.confidence.toFixed(2)} × recency ${s.recency.toFixed(2)})${s.gapMs === null ? '' : `, gap ${ms(s.gapMs.low)}..${ms(s.gapMs.high)}`}`,
    );
  return out;
}
