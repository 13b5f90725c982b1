/**
 * `choose:`, `learn:` and `policies:` (docs/guides/composition.md): the readers for the three,
 * and the enumeration of variants. A workflow with choices compiles once per combination of
 * options; each combination is an ordinary DAG (a _variant_) that is partitioned and placed like
 * any other, so workers, triggers and FaaStore never know a choice was made. Variant 0 takes
 * every default. Problems found in any combination are reported once each, with their paths.
 */
import type {
  ChoicePoint,
  CompositionPolicy,
  CompositionSpec,
  LearnSpec,
  Variant,
  VariantGraph,
} from '../../shared/compose/types.js';
import { emptyPatterns } from '../../shared/compose/policy.js';
import type { WorkflowDag } from '../../shared/dag/types.js';
import { at, type Issues } from './diagnostics.js';
import { checkExpression } from './expr.js';
import { STEP_NAME_RE } from './limits.js';
import { describe, isObj, onlyKeys, readString, type Obj } from './read.js';

/** Most variants a workflow may compile to. */
export const MAX_VARIANTS = 256;
const MAX_OPTIONS = 64;
const MAX_CONTEXT_FEATURES = 8;
const FEATURE_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const GLOB_RE = /^[A-Za-z0-9._*?-]{1,64}$/;
const DEFAULT_REWARD = '-$latencyMs';
const DEFAULT_FEEDBACK_WINDOW_MS = 60_000;

/** What one compilation of the flow selects and what it met. */
export interface ChoiceSelection {
  /** choice name → option key; a choice not named takes its default. */
  picks: Readonly<Record<string, string>>;
  /** Choices met, in flow order. */
  reached: ChoicePoint[];
  /** name → path, for duplicate names. */
  seen: Map<string, string>;
}

export function selection(picks: Readonly<Record<string, string>>): ChoiceSelection {
  return { picks, reached: [], seen: new Map() };
}

export function readChoice(
  value: unknown,
  path: string,
  issues: Issues,
): { point: ChoicePoint; name: string; options: Record<string, unknown> } | null {
  if (!isObj(value)) {
    issues.add(
      path,
      `must be { name, options: { <key>: <function or step> }, default: <key> }, got ${describe(value)}`,
    );
    return null;
  }
  onlyKeys(value, ['name', 'options', 'default'], path, issues);
  const name = readString(value, 'name', path, issues, {
    required: true,
    pattern: STEP_NAME_RE,
    hint: 'letters, digits, _ and -, at most 63 characters',
  });
  const options = value['options'];
  const op = at(path, 'options');
  if (!isObj(options) || Object.keys(options).length === 0) {
    issues.add(
      op,
      isObj(options)
        ? 'is empty; a choice needs at least one option'
        : `must map option keys to a function name or a step, got ${describe(options)}`,
    );
    return null;
  }
  const keys = Object.keys(options);
  if (keys.length > MAX_OPTIONS)
    issues.add(op, `has ${keys.length} options; at most ${MAX_OPTIONS}`);
  for (const k of keys)
    if (!STEP_NAME_RE.test(k))
      issues.add(
        at(op, k),
        `option key ${JSON.stringify(k)} is not valid; letters, digits, _ and -`,
      );
  const def = readString(value, 'default', path, issues, { hint: 'one of the option keys' });
  if (def !== undefined && !keys.includes(def))
    issues.add(
      at(path, 'default'),
      `${JSON.stringify(def)} is not one of the options (${keys.join(', ')})`,
    );
  if (name === undefined) return null;
  const chosenDefault = def !== undefined && keys.includes(def) ? def : keys[0]!;
  return { point: { name, options: keys, default: chosenDefault, path }, name, options };
}

export function readLearn(value: unknown, issues: Issues): LearnSpec {
  const learn: LearnSpec = {
    context: {},
    reward: DEFAULT_REWARD,
    explore: { algorithm: 'thompson', rate: 0.1 },
    mode: 'online',
    feedbackWindowMs: DEFAULT_FEEDBACK_WINDOW_MS,
    defaultFeedback: 0,
  };
  if (value === undefined || value === null) return learn;
  if (!isObj(value)) {
    issues.add(
      'learn',
      `must be { context?, reward?, explore?, mode?, feedback? }, got ${describe(value)}`,
    );
    return learn;
  }
  onlyKeys(value, ['context', 'reward', 'explore', 'mode', 'feedback'], 'learn', issues);
  const ctx = value['context'];
  if (ctx !== undefined) {
    if (!isObj(ctx))
      issues.add(
        'learn.context',
        `must map feature names to JSONata over the input, got ${describe(ctx)}`,
      );
    else {
      const names = Object.keys(ctx);
      if (names.length > MAX_CONTEXT_FEATURES)
        issues.add(
          'learn.context',
          `has ${names.length} features; at most ${MAX_CONTEXT_FEATURES}`,
        );
      for (const n of names) {
        const p = at('learn.context', n);
        const src = ctx[n];
        if (!FEATURE_RE.test(n))
          issues.add(p, `feature name ${JSON.stringify(n)} is not valid; letters, digits and _`);
        else if (typeof src !== 'string')
          issues.add(p, `must be a JSONata expression over the input, got ${describe(src)}`);
        else if (checkExpression(src, p, issues)) learn.context[n] = src;
      }
    }
  }
  const reward = readString(value, 'reward', 'learn', issues, {
    hint: 'JSONata over $latencyMs, $cpuMs, $costs, $failed and $feedback; higher is better',
  });
  if (reward !== undefined && checkExpression(reward, 'learn.reward', issues))
    learn.reward = reward;
  const explore = value['explore'];
  if (explore !== undefined) {
    if (!isObj(explore))
      issues.add(
        'learn.explore',
        `must be { algorithm: thompson | epsilon-greedy, rate: 0..1 }, got ${describe(explore)}`,
      );
    else {
      onlyKeys(explore, ['algorithm', 'rate'], 'learn.explore', issues);
      const alg = explore['algorithm'];
      if (alg !== undefined) {
        if (alg === 'thompson' || alg === 'epsilon-greedy') learn.explore.algorithm = alg;
        else
          issues.add(
            'learn.explore.algorithm',
            `is ${JSON.stringify(alg)}; it must be thompson or epsilon-greedy`,
          );
      }
      const rate = optNumber(explore, 'rate', 'learn.explore', issues, 0, 1);
      if (rate !== undefined) learn.explore.rate = rate;
    }
  }
  const mode = value['mode'];
  if (mode !== undefined) {
    if (mode === 'shadow' || mode === 'online' || mode === 'frozen') learn.mode = mode;
    else
      issues.add('learn.mode', `is ${JSON.stringify(mode)}; it must be shadow, online or frozen`);
  }
  const fb = value['feedback'];
  if (fb !== undefined) {
    if (!isObj(fb))
      issues.add(
        'learn.feedback',
        `must be { windowMs: ms, default: number }, got ${describe(fb)}`,
      );
    else {
      onlyKeys(fb, ['windowMs', 'default'], 'learn.feedback', issues);
      const w = optNumber(fb, 'windowMs', 'learn.feedback', issues, 0, 86_400_000);
      if (w !== undefined) learn.feedbackWindowMs = Math.round(w);
      const d = optNumber(fb, 'default', 'learn.feedback', issues, -1e12, 1e12);
      if (d !== undefined) learn.defaultFeedback = d;
    }
  }
  return learn;
}

export function readPolicies(value: unknown, issues: Issues): CompositionPolicy[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    issues.add(
      'policies',
      `must be a list of { subTenants: [globs], deny: [names] }, got ${describe(value)}`,
    );
    return [];
  }
  const out: CompositionPolicy[] = [];
  value.forEach((p, i) => {
    const pp = at('policies', i);
    if (!isObj(p)) {
      issues.add(
        pp,
        `must be { subTenants: [globs], deny: [names], maxExplore? }, got ${describe(p)}`,
      );
      return;
    }
    onlyKeys(p, ['subTenants', 'deny', 'maxExplore'], pp, issues);
    const subTenants = readList(
      p['subTenants'],
      at(pp, 'subTenants'),
      issues,
      GLOB_RE,
      'a sub-tenant name or glob (letters, digits, . _ - and the wildcards * ?), at most 64 characters',
    );
    const deny =
      p['deny'] === undefined
        ? []
        : readList(
            p['deny'],
            at(pp, 'deny'),
            issues,
            /^[A-Za-z0-9_.-]{1,127}$/,
            'a function name or choice.option',
          );
    const maxExplore = optNumber(p, 'maxExplore', pp, issues, 0, 1);
    if (p['deny'] === undefined && maxExplore === undefined)
      issues.add(pp, 'has neither deny nor maxExplore; a policy needs at least one');
    if (subTenants)
      out.push({
        subTenants,
        deny: deny ?? [],
        ...(maxExplore === undefined ? {} : { maxExplore }),
      });
  });
  return out;
}

function optNumber(
  obj: Obj,
  key: string,
  path: string,
  issues: Issues,
  min: number,
  max: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    issues.add(at(path, key), `must be a number from ${min} to ${max}, got ${describe(v)}`);
    return undefined;
  }
  return v;
}

function readList(
  value: unknown,
  path: string,
  issues: Issues,
  re: RegExp,
  hint: string,
): string[] | null {
  if (!Array.isArray(value) || value.length === 0) {
    issues.add(path, `must be a non-empty list; each item ${hint}, got ${describe(value)}`);
    return null;
  }
  const out: string[] = [];
  value.forEach((v, i) => {
    if (typeof v === 'string' && re.test(v)) out.push(v);
    else issues.add(at(path, i), `${describe(v)} is not valid; expected ${hint}`);
  });
  return out;
}

/** The functions a variant runs and how they feed each other (through pass and switch nodes). */
export function variantGraph(dag: WorkflowDag): VariantGraph {
  const nodes: string[] = [];
  const edges: [number, number][] = [];
  addDag(dag, nodes, edges, []);
  return { nodes, edges };
}

/** Adds `dag`'s task nodes; returns the indices of the tasks that feed its output. */
function addDag(
  dag: WorkflowDag,
  nodes: string[],
  edges: [number, number][],
  from: number[],
): number[] {
  // For each node, the nearest task nodes above it (its own index if it is a task).
  const feeds = new Map<string, number[]>();
  const parents = new Map<string, string[]>();
  for (const e of dag.edges) parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
  const order = topo(dag);
  for (const id of order) {
    const n = dag.nodes.find((x) => x.id === id)!;
    const ps = parents.get(id) ?? [];
    const upstream = ps.length === 0 ? from : [...new Set(ps.flatMap((p) => feeds.get(p) ?? []))];
    if (n.kind === 'task') {
      const i = nodes.push(n.fn) - 1;
      for (const u of upstream) edges.push([u, i]);
      feeds.set(id, [i]);
    } else if (n.kind === 'foreach') {
      feeds.set(id, addDag(n.body, nodes, edges, upstream));
    } else feeds.set(id, upstream);
  }
  return [...new Set(dag.sinks.flatMap((s) => feeds.get(s) ?? []))];
}

function topo(dag: WorkflowDag): string[] {
  const indeg = new Map<string, number>(dag.nodes.map((n) => [n.id, 0]));
  for (const e of dag.edges) indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1);
  const ready = dag.nodes.filter((n) => indeg.get(n.id) === 0).map((n) => n.id as string);
  const out: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    out.push(id);
    for (const e of dag.edges)
      if (e.from === id) {
        const k = indeg.get(e.to)! - 1;
        indeg.set(e.to, k);
        if (k === 0) ready.push(e.to);
      }
  }
  return out;
}

/**
 * Every combination of options: compiles with `compile(picks)` (which reports the choices it
 * met) and branches on the first choice met that `picks` does not name yet. Returns the picks of
 * each complete combination (canonical: only the choices the combination meets), default first,
 * or null past MAX_VARIANTS.
 */
export function enumerateCombinations(
  compile: (picks: Record<string, string>) => ChoicePoint[],
): { picks: Record<string, string>; reached: ChoicePoint[] }[] | null {
  const out: { picks: Record<string, string>; reached: ChoicePoint[] }[] = [];
  const seen = new Set<string>();
  const work: Record<string, string>[] = [{}];
  while (work.length > 0) {
    const picks = work.shift()!;
    const reached = compile(picks);
    const open = reached.find((p) => picks[p.name] === undefined);
    if (open) {
      for (const o of open.options) work.push({ ...picks, [open.name]: o });
      continue;
    }
    const canonical: Record<string, string> = {};
    for (const p of reached) canonical[p.name] = picks[p.name]!;
    const label = labelOf(reached, canonical);
    if (seen.has(label)) continue;
    seen.add(label);
    out.push({ picks: canonical, reached });
    if (out.length > MAX_VARIANTS) return null;
  }
  const isDefault = (c: { reached: ChoicePoint[]; picks: Record<string, string> }): boolean =>
    c.reached.every((p) => c.picks[p.name] === p.default);
  const d = out.findIndex(isDefault);
  if (d > 0) out.unshift(...out.splice(d, 1));
  return out;
}

export function labelOf(
  reached: readonly ChoicePoint[],
  picks: Readonly<Record<string, string>>,
): string {
  return reached.map((p) => `${p.name}=${picks[p.name]}`).join(',');
}

/** The composition spec, with the policy check: a glob that leaves no variant is an issue. */
export function compositionSpec(
  combos: { picks: Record<string, string>; reached: ChoicePoint[] }[],
  dags: readonly WorkflowDag[],
  learn: LearnSpec,
  policies: CompositionPolicy[],
  issues: Issues,
): CompositionSpec {
  const choices: ChoicePoint[] = [];
  for (const c of combos)
    for (const p of c.reached) if (!choices.some((q) => q.name === p.name)) choices.push(p);
  const variants: Variant[] = combos.map((c, index) => ({
    index,
    label: labelOf(c.reached, c.picks),
    choices: c.picks,
    graph: variantGraph(dags[index]!),
  }));
  const known = new Set<string>([
    ...variants.flatMap((v) => v.graph.nodes),
    ...choices.flatMap((p) => p.options.map((o) => `${p.name}.${o}`)),
  ]);
  policies.forEach((p, i) =>
    p.deny.forEach((d, j) => {
      if (!known.has(d))
        issues.add(
          at(at(at('policies', i), 'deny'), j),
          `${JSON.stringify(d)} names no function any variant runs and no choice.option (${[...known].slice(0, 20).join(', ')})`,
        );
    }),
  );
  for (const e of emptyPatterns(variants, policies)) {
    const glob = policies[e.policy]!.subTenants[e.glob]!;
    issues.add(
      at(at(at('policies', e.policy), 'subTenants'), e.glob),
      `leaves no graph for sub-tenants matching ${JSON.stringify(glob)}: every one of the ${variants.length} variants runs something the policies that apply to them deny`,
    );
  }
  return { choices, variants, learn, policies };
}
