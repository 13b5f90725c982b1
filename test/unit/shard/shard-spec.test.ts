/** The sharding contract in the YAML: both forms parsed onto the DAG, bad values named with paths. */
import { describe, expect, it } from 'vitest';
import { loadWorkflow, type Issue } from '../../../master/workflow/index.js';

const FNS = `functions:
  t: { code: "export default async (x) => x" }
  lookup:
    code: "export default async (x) => x"
    shard: { key: '$.userId', replicas: auto, maxReplicas: 4 }`;

function issuesOf(yaml: string): Issue[] {
  const r = loadWorkflow(yaml);
  expect(r.dag).toBeNull();
  return r.issues;
}

describe('sharding in the workflow document', () => {
  it('carries foreach.shard and functions.f.shard on the DAG, exactly as written', () => {
    const r = loadWorkflow(
      `name: s\n${FNS}\nflow:\n  sequence:\n    - foreach:\n        items: '$.segments'\n        do: { task: t }\n        shard: { across: workers, size: auto, maxShards: 8, steal: true }\n    - task: lookup`,
    );
    expect(r.issues).toEqual([]);
    const fe = r.dag!.nodes.find((n) => n.kind === 'foreach');
    expect(fe?.kind === 'foreach' && fe.shard).toEqual({
      across: 'workers',
      size: 'auto',
      maxShards: 8,
      steal: true,
    });
    expect(r.dag!.functions['lookup']!.shard).toEqual({
      key: '$.userId',
      replicas: 'auto',
      maxReplicas: 4,
    });
    expect(r.dag!.functions['t']!.shard).toBeUndefined();
  });

  it('defaults what is left out and leaves an unsharded foreach as it was', () => {
    const r = loadWorkflow(
      `name: s\n${FNS}\nflow:\n  parallel:\n    - foreach: { items: '$', do: t, shard: { size: 3 } }\n    - foreach: { items: '$', do: t }`,
    );
    const [a, b] = r.dag!.nodes.filter((n) => n.kind === 'foreach');
    expect(a?.kind === 'foreach' && a.shard).toEqual({
      across: 'workers',
      size: 3,
      maxShards: 8,
      steal: true,
    });
    expect(b && 'shard' in b).toBe(false);
  });

  it('accepts shard on a foreach of the explicit dag form', () => {
    const r = loadWorkflow(
      `name: d\n${FNS}\ndag:\n  each: { foreach: { items: '$', do: t, shard: { size: auto, maxShards: 2 } } }`,
    );
    expect(r.issues).toEqual([]);
    const fe = r.dag!.nodes[0]!;
    expect(fe.kind === 'foreach' && fe.shard?.maxShards).toBe(2);
  });

  it('names every bad value with its path and what would be valid', () => {
    const list = issuesOf(
      `name: bad\nfunctions:\n  t: { code: "export default async (x) => x" }\n  k:\n    code: "export default async (x) => x"\n    shard: { key: '$.(', replicas: 9, maxReplicas: 4, spread: 2 }\nflow:\n  foreach: { items: '$', do: t, shard: { across: racks, size: 0, maxShards: 100, steal: 'yes' } }`,
    );
    const at = (path: string, re: RegExp): void => {
      expect(
        list.some((i) => i.path === path && re.test(i.message)),
        `${path} ${re}: ${JSON.stringify(list)}`,
      ).toBe(true);
    };
    at('flow.foreach.shard.across', /must be "workers"/);
    at('flow.foreach.shard.size', /auto or an integer from 1 to maxShards/);
    at('flow.foreach.shard.maxShards', /out of range/);
    at('flow.foreach.shard.steal', /true or false/);
    at('functions.k.shard.key', /invalid JSONata/);
    at('functions.k.shard.replicas', /more than maxReplicas \(4\)/);
    at('functions.k.shard.spread', /unknown key "spread"/);
  });

  it('requires the key of a keyed function', () => {
    const list = issuesOf(
      `name: nokey\nfunctions:\n  k: { code: "export default async (x) => x", shard: { replicas: 2 } }\nflow: { task: k }`,
    );
    expect(list.find((i) => i.path === 'functions.k.shard.key')?.message).toMatch(/is required/);
  });
});
