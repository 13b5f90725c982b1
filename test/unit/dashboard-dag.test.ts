import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutDag } from '../../dashboard/lib/dag-layout.js';
import { loadWorkflow } from '../../master/workflow/index.js';
import { repoRoot } from '../../bench/paths.js';

function example(name: string) {
  const r = loadWorkflow(
    readFileSync(join(repoRoot(), 'deploy', 'examples', `${name}.yaml`), 'utf8'),
  );
  if (!r.dag) throw new Error(JSON.stringify(r.issues));
  return r.dag;
}

describe('DAG layout', () => {
  it('lays out every top-level node once, with its shape and group, without overlaps', () => {
    const dag = example('video-analytics');
    const groups = [dag.nodes.slice(0, 3).map((n) => n.id), dag.nodes.slice(3).map((n) => n.id)];
    const l = layoutDag(dag, groups);
    expect(l.nodes.map((n) => n.id).sort()).toEqual(dag.nodes.map((n) => n.id).sort());
    expect(l.nodes.find((n) => n.id === 'switch')!.shape).toBe('switch');
    expect(l.nodes.find((n) => n.id === 'foreach')!.shape).toBe('foreach');
    expect(l.nodes.find((n) => n.id === 'foreach')!.detail).toContain('transcode');
    for (const n of l.nodes)
      expect(n.group).toBe(groups.findIndex((g) => (g as string[]).includes(n.id)));
    for (const a of l.nodes)
      for (const b of l.nodes) {
        if (a === b) continue;
        const apart =
          Math.abs(a.x - b.x) >= (a.width + b.width) / 2 ||
          Math.abs(a.y - b.y) >= (a.height + b.height) / 2;
        expect(apart, `${a.id} overlaps ${b.id}`).toBe(true);
      }
    expect(l.width).toBeGreaterThan(0);
    expect(l.height).toBeGreaterThan(0);
  });

  it('routes every edge top-down and labels the edges leaving a switch with their case', () => {
    const dag = example('moderation');
    const l = layoutDag(dag, [dag.nodes.map((n) => n.id)]);
    expect(l.edges.length).toBe(dag.edges.length);
    const y = new Map(l.nodes.map((n) => [n.id, n.y]));
    for (const e of l.edges) {
      expect(e.points.length).toBeGreaterThanOrEqual(2);
      expect(y.get(e.to)!).toBeGreaterThan(y.get(e.from)!);
    }
    const labels = Object.fromEntries(l.edges.filter((e) => e.label).map((e) => [e.to, e.label]));
    expect(labels).toEqual({ blur: 'flagged', keep: 'default' });
  });

  it('marks nodes outside every group with group -1', () => {
    const dag = example('hello');
    const l = layoutDag(dag, []);
    expect(l.nodes.every((n) => n.group === -1)).toBe(true);
  });
});
