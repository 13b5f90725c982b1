/**
 * `faasflow bench compose` (docs/guides/composition.md): the composition learner in a seeded
 * simulator (bench/compose-sim.ts), side by side with its baselines on the same worlds:
 * - regret of the learner (Thompson, graph features, per-sub-tenant models under a shared
 *   prior) against ε-greedy(0.05) on the same features and against independent per-sub-tenant
 *   models, over a run with a drift halfway, and how soon its regret rate is back within 10 %
 *   of the pre-drift rate;
 * - a new option: the regret in the 1,500 decisions after a fourth OCR appears, against
 *   one-hot arms (each graph an opaque arm);
 * - policies: 100,000 decisions under random policies and sub-tenants, counting any decision
 *   that runs a denied item (there must be none);
 * - the offline estimate (SNIPS over the log) of the final greedy policy against its realised
 *   value on the same contexts;
 * - decision time at 64 candidates (p50, p99).
 */
import { cpus, loadavg } from 'node:os';
import { snips } from '../shared/compose/estimate.js';
import { allows, policiesFor } from '../shared/compose/policy.js';
import type { CompositionPolicy, Variant } from '../shared/compose/types.js';
import { mulberry32 } from '../shared/random.js';
import { runComposeCluster } from './compose-cluster.js';
import { flagReader } from './flag-reader.js';
import {
  Agent,
  candidatesFor,
  makeVariants,
  MODEL,
  World,
  type AgentOptions,
} from './compose-sim.js';
import { formatTable, percentile, publishReport } from './report.js';

export interface ComposeBenchOptions {
  decisions: number;
  seed: number;
  policyDecisions: number;
  /** Run the cluster part (a real local cluster) instead of the simulator. */
  cluster: boolean;
  /** Invocations of the cluster part's learned workflow. */
  invocations: number;
  reportDir?: string;
  print?: (line: string) => void;
}

const DEFAULTS: ComposeBenchOptions = {
  decisions: 20_000,
  seed: 1,
  policyDecisions: 100_000,
  cluster: false,
  invocations: 400,
};
const SMOKE = { decisions: 2_000, policyDecisions: 5_000, invocations: 120 };
const KNOWN = ['smoke', 'decisions', 'seed', 'policy-decisions', 'cluster', 'invocations', 'out'];

export function composeOptionsFromFlags(
  camel: Record<string, string | boolean>,
): { options: ComposeBenchOptions } | { error: string } {
  const { flags, problems, int, str } = flagReader(camel, 'compose', KNOWN);
  const o: ComposeBenchOptions = { ...DEFAULTS, ...(flags['smoke'] === true ? SMOKE : {}) };
  const d = int('decisions', 1_000);
  if (d !== undefined) o.decisions = d;
  const s = int('seed', 0);
  if (s !== undefined) o.seed = s;
  const p = int('policy-decisions', 1);
  if (p !== undefined) o.policyDecisions = p;
  const inv = int('invocations', 40);
  if (inv !== undefined) o.invocations = inv;
  if (flags['cluster'] === true) o.cluster = true;
  const out = str('out');
  if (out !== undefined) o.reportDir = out;
  return problems.length > 0 ? { error: problems.join('; ') } : { options: o };
}

const OCRS = ['a', 'b', 'c'];
const SUMS = ['x', 'y', 'z', 'w'];
const FUNCTIONS = ['ocr-a', 'ocr-b', 'ocr-c', 'ocr-d', 'sum-x', 'sum-y', 'sum-z', 'sum-w', 'audit'];
const POLICIES: CompositionPolicy[] = [{ subTenants: ['acme-*'], deny: ['ocr-c'] }];

function agentOptions(name: string, seed: number, over: Partial<AgentOptions>): AgentOptions {
  return { name, algorithm: 'thompson', rate: 0.05, model: MODEL, trainEvery: 50, seed, ...over };
}

interface RunResult {
  name: string;
  regret: number;
  /** Regret per decision, by window of `WINDOW` decisions. */
  curve: number[];
}

const WINDOW = 250;

/** One agent over `n` decisions of a fresh world (drifting at `driftAt`). */
function run(
  agent: Agent,
  variants: Variant[],
  seed: number,
  n: number,
  driftAt: number,
  hooks: { at?: number; then?: (w: World) => Variant[] } = {},
): RunResult {
  const world = new World(seed, OCRS, SUMS);
  let vs = variants;
  let regret = 0;
  let window = 0;
  const curve: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i === driftAt) world.drift();
    if (hooks.at === i && hooks.then) {
      vs = hooks.then(world);
      agent.setVariants(vs);
    }
    const { ctx, sub } = world.next();
    const cands = candidatesFor(vs, POLICIES, sub);
    const d = agent.decide(ctx, sub, cands);
    const best = Math.max(...cands.map((c) => world.expected(vs[c]!, ctx, sub)));
    const r = best - world.expected(vs[d.index]!, ctx, sub);
    regret += r;
    window += r;
    agent.learn(ctx, sub, d, world.observe(vs[d.index]!, ctx, sub));
    if ((i + 1) % WINDOW === 0) {
      curve.push(window / WINDOW);
      window = 0;
    }
  }
  return { name: agent.o.name, regret, curve };
}

/** Decisions after the drift until a window's regret rate is within 10 % of the pre-drift rate. */
function recovery(curve: number[], driftWindow: number): { pre: number; after: number | null } {
  const pre = mean(curve.slice(Math.max(0, driftWindow - 8), driftWindow));
  for (let w = driftWindow; w < curve.length; w++)
    if (curve[w]! <= pre * 1.1) return { pre, after: (w - driftWindow + 1) * WINDOW };
  return { pre, after: null };
}

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

export async function runComposeBench(
  options: Partial<ComposeBenchOptions> = {},
): Promise<unknown> {
  const o = { ...DEFAULTS, ...options };
  const print = o.print ?? ((l: string) => console.log(l));
  const startedAt = new Date();
  if (o.cluster) return clusterBench(o, print, startedAt);
  const n = o.decisions;
  const driftAt = Math.floor(n / 2);
  const variants = makeVariants(OCRS, SUMS);
  print(
    `compose: ${n} decisions, 20 sub-tenants (Zipf), ${variants.length} graphs, drift at ${driftAt}, seed ${o.seed}`,
  );

  // 1. Regret against the baselines, same worlds.
  const ours = new Agent(
    agentOptions('learner (thompson, shared prior)', o.seed, {}),
    variants,
    FUNCTIONS,
  );
  const runs = [
    run(ours, variants, o.seed, n, driftAt),
    run(
      new Agent(
        agentOptions('epsilon-greedy(0.05), same features', o.seed, {
          algorithm: 'epsilon-greedy',
          rate: 0.05,
        }),
        variants,
        FUNCTIONS,
      ),
      variants,
      o.seed,
      n,
      driftAt,
    ),
    run(
      new Agent(
        agentOptions('independent per-sub-tenant models', o.seed, {
          model: { ...MODEL, hierarchical: false },
        }),
        variants,
        FUNCTIONS,
      ),
      variants,
      o.seed,
      n,
      driftAt,
    ),
  ];
  const [mine, eps, indep] = runs as [RunResult, RunResult, RunResult];
  const rec = recovery(mine.curve, Math.floor(driftAt / WINDOW));
  await yieldLoop();

  // 2. A new option (ocr-d) after 3,000 decisions: early regret against one-hot arms.
  const introduceAt = Math.min(3_000, Math.floor(n / 4));
  const early = Math.min(1_500, Math.floor(n / 8));
  const withD = makeVariants([...OCRS, 'd'], SUMS);
  const newOption = (oneHot: boolean): number => {
    // The feature space knows ocr-d from the start (arms: all 16), as a deploy would declare it.
    const a = new Agent(
      agentOptions(oneHot ? 'one-hot arms' : 'learner', o.seed + 7, { oneHot }),
      withD,
      FUNCTIONS,
    );
    a.setVariants(variants);
    const r = run(a, variants, o.seed + 7, introduceAt + early, Number.POSITIVE_INFINITY, {
      at: introduceAt,
      then: (w) => {
        w.addOcr('d');
        return withD;
      },
    });
    return sum(r.curve.slice(Math.floor(introduceAt / WINDOW))) * WINDOW;
  };
  const earlyOurs = newOption(false);
  const earlyArms = newOption(true);
  await yieldLoop();

  // 3. Policies: random policies and sub-tenants; no decision may run a denied item.
  const violations = policyCheck(ours, variants, o.policyDecisions, o.seed + 11);
  await yieldLoop();

  // 4. Offline estimate of the final greedy policy over the last quarter of the log.
  const world = new World(o.seed, OCRS, SUMS);
  world.drift();
  const tail = ours.log.slice(Math.floor(n * 0.75));
  const logged = tail.map((l) => {
    const g = ours.greedy(l.ctx, l.sub, candidatesFor(variants, POLICIES, l.sub));
    return { reward: l.reward, propensity: l.propensity, target: g === l.variant ? 1 : 0 };
  });
  const est = snips(logged);
  const realised = mean(
    tail.map((l) => {
      const g = ours.greedy(l.ctx, l.sub, candidatesFor(variants, POLICIES, l.sub));
      return world.expected(variants[g]!, l.ctx, l.sub);
    }),
  );
  const estError = est ? Math.abs(est.value - realised) / Math.abs(realised) : null;

  // 5. Decision time at 64 candidates.
  const timing = decisionTimes(o.seed + 13, n >= 10_000 ? 5_000 : 1_000);

  const figures = {
    decisions: n,
    regret: Object.fromEntries(runs.map((r) => [r.name, r.regret])),
    regretVsEpsilonGreedy: mine.regret / eps.regret,
    regretVsIndependent: mine.regret / indep.regret,
    preDriftRegretRate: rec.pre,
    recoveryDecisions: rec.after,
    newOption: {
      introducedAt: introduceAt,
      window: early,
      learner: earlyOurs,
      oneHotArms: earlyArms,
      ratio: earlyOurs / earlyArms,
    },
    policyDecisions: o.policyDecisions,
    policyViolations: violations,
    offlineEstimate: est?.value ?? null,
    realisedValue: realised,
    offlineEstimateError: estError,
    decisionUs64: timing,
  };
  const goal = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  const f2 = (x: number | null): string => (x === null ? '—' : x.toFixed(2));
  print('');
  for (const line of formatTable(
    ['figure', 'value', 'goal', ''],
    [
      [
        'regret: learner / ε-greedy(0.05)',
        f2(figures.regretVsEpsilonGreedy),
        '≤ 0.50',
        goal(figures.regretVsEpsilonGreedy <= 0.5),
      ],
      [
        'regret: learner / independent per-sub-tenant',
        f2(figures.regretVsIndependent),
        '≤ 0.60',
        goal(figures.regretVsIndependent <= 0.6),
      ],
      [
        'decisions until within 10 % of pre-drift regret rate',
        rec.after === null ? 'never' : String(rec.after),
        '≤ 2000',
        goal(rec.after !== null && rec.after <= 2000),
      ],
      [
        'new option early regret: learner / one-hot arms',
        f2(figures.newOption.ratio),
        '≤ 0.70',
        goal(figures.newOption.ratio <= 0.7),
      ],
      [
        `policy violations in ${o.policyDecisions} decisions`,
        String(violations),
        '0',
        goal(violations === 0),
      ],
      [
        'offline estimate error (SNIPS vs realised)',
        estError === null ? '—' : `${(estError * 100).toFixed(1)} %`,
        '≤ 5 %',
        goal(estError !== null && estError <= 0.05),
      ],
      [
        'decision at 64 candidates, p50 / p99 µs',
        `${timing.p50.toFixed(0)} / ${timing.p99.toFixed(0)}`,
        'p99 ≤ 200',
        goal(timing.p99 <= 200),
      ],
    ],
    ['left', 'right', 'right', 'left'],
  ))
    print(line);
  print(
    `(decision times are wall clock on a machine with load average ${loadavg()[0]!.toFixed(1)} over ${cpus().length} cores; JSONata context evaluation not included)`,
  );
  print('');
  for (const line of formatTable(
    ['agent', 'total regret'],
    runs.map((r) => [r.name, r.regret.toFixed(1)]),
    ['left', 'right'],
  ))
    print(line);
  publishReport('compose', startedAt, figures, {
    print,
    ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
  });
  return figures;
}

/** The cluster part: learned composition against the static default on a local cluster. */
async function clusterBench(
  o: ComposeBenchOptions,
  print: (line: string) => void,
  startedAt: Date,
): Promise<unknown> {
  const measure = Math.max(20, Math.floor(o.invocations / 2));
  print(
    `compose --cluster: a master and 2 workers, ${o.invocations} invocations (the last ${measure} measured) of a workflow choosing between two encoders by input size, seed ${o.seed}`,
  );
  const f = await runComposeCluster({
    invocations: o.invocations,
    measure,
    seed: o.seed,
    workers: 2,
    print,
  });
  const goal = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  print('');
  for (const line of formatTable(
    ['figure', 'value', 'goal', ''],
    [
      ['static default, mean latency', `${f.staticMeanMs.toFixed(1)} ms`, '', ''],
      ['learned (online), mean latency', `${f.learnedMeanMs.toFixed(1)} ms`, '', ''],
      [
        'objective: improvement over the static default',
        `${(f.improvement * 100).toFixed(1)} %`,
        '≥ 25 %',
        goal(f.improvement >= 0.25),
      ],
      [
        'invocations explored',
        `${(f.explored * 100).toFixed(1)} %`,
        '≤ 10 %',
        goal(f.explored <= 0.1),
      ],
      ['measured invocations on the right option', `${(f.rightOption * 100).toFixed(1)} %`, '', ''],
    ],
    ['left', 'right', 'right', 'left'],
  ))
    print(line);
  print(
    `(latency is end to end at the client, on a machine with load average ${loadavg()[0]!.toFixed(1)})`,
  );
  publishReport('compose-cluster', startedAt, f, {
    print,
    ...(o.reportDir === undefined ? {} : { reportDir: o.reportDir }),
  });
  return f;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/** Lets the CLI's progress line render between the long phases. */
function yieldLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

/** Random policies (globs over random names, random deny sets); counts decisions breaking one. */
export function policyCheck(
  agent: Agent,
  variants: readonly Variant[],
  decisions: number,
  seed: number,
): number {
  const rng = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const items = [
    ...FUNCTIONS.filter((f) => f !== 'ocr-d'),
    ...OCRS.map((x) => `ocr.${x}`),
    ...SUMS.map((x) => `sum.${x}`),
  ];
  const names = ['acme-1', 'acme-2', 'beta', 'beta-eu', 'gamma.x', 'delta_7', 't1', 't12'];
  const globs = ['acme-*', 'beta*', '*', 't?', 't1*', '*-eu', 'gamma.*', 'delta_?'];
  let violations = 0;
  let policies: CompositionPolicy[] = [];
  for (let i = 0; i < decisions; i++) {
    if (i % 100 === 0)
      policies = Array.from({ length: 1 + Math.floor(rng() * 3) }, () => ({
        subTenants: [pick(globs)],
        deny: Array.from({ length: 1 + Math.floor(rng() * 3) }, () => pick(items)),
      }));
    const sub = pick(names);
    const cands = candidatesFor(variants, policies, sub);
    if (cands.length === 0) continue;
    const d = agent.decide(
      { lang: pick(['en', 'de', 'fr']), bytes: Math.round(10 ** (1 + rng() * 4)) },
      sub,
      cands,
      1,
    );
    if (!allows(policiesFor(policies, sub), variants[d.index]!)) violations++;
  }
  return violations;
}

/** Decide() at 64 candidates (4 × 4 × 4 options) on a model trained with 2,000 outcomes. */
function decisionTimes(
  seed: number,
  samples: number,
): { p50: number; p99: number; candidates: number } {
  const names = (p: string) => ['1', '2', '3', '4'].map((x) => `${p}${x}`);
  const variants: Variant[] = [];
  for (const a of names('a'))
    for (const b of names('b'))
      for (const c of names('c'))
        variants.push({
          index: variants.length,
          label: `${a},${b},${c}`,
          choices: { a, b, c },
          graph: {
            nodes: [a, b, c, 'end'],
            edges: [
              [0, 1],
              [1, 2],
              [2, 3],
            ],
          },
        });
  const fns = [...new Set(variants.flatMap((v) => v.graph.nodes))];
  const agent = new Agent(agentOptions('timing', seed, { trainEvery: 500 }), variants, fns);
  const rng = mulberry32(seed);
  const all = variants.map((v) => v.index);
  for (let i = 0; i < 2_000; i++) {
    const ctx = { lang: ['en', 'de', 'fr'][i % 3]!, bytes: Math.round(10 ** (1 + rng() * 4)) };
    const d = agent.decide(ctx, `t${i % 20}`, all);
    agent.learn(ctx, `t${i % 20}`, d, rng());
  }
  for (let i = 0; i < 500; i++) agent.decide({ lang: 'en', bytes: 100 + i }, `t${i % 20}`, all);
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const ctx = { lang: ['en', 'de', 'fr'][i % 3]!, bytes: 100 + i };
    const t0 = process.hrtime.bigint();
    agent.decide(ctx, `t${i % 20}`, all);
    times.push(Number(process.hrtime.bigint() - t0) / 1_000);
  }
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99), candidates: variants.length };
}
