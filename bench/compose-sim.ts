/**
 * The composition simulator behind `faasflow bench compose` (pure, seeded): a world of 20
 * sub-tenants with Zipf traffic choosing among 12 graphs (3 OCR × 4 summariser options, then an
 * audit step), whose quality depends on the input's language and size and, a little, on the
 * sub-tenant; halfway the OCRs' quality per language is permuted (the drift). Agents are the
 * learner of shared/compose with different settings, so every comparison runs the same code.
 */
import { decide, type Decision } from '../shared/compose/decide.js';
import {
  crossFeatures,
  embedGraph,
  encodeContext,
  featureSpace,
  personalIndices,
  type FeatureSpace,
} from '../shared/compose/features.js';
import {
  DEFAULT_MODEL_OPTIONS,
  emptyState,
  observe,
  posteriorFor,
  train,
  type ModelOptions,
  type ModelSnapshot,
  type ModelState,
} from '../shared/compose/model.js';
import { admissible } from '../shared/compose/policy.js';
import type { CompositionPolicy, ExploreAlgorithm, Variant } from '../shared/compose/types.js';
import { gaussian } from '../shared/compose/decide.js';
import { mulberry32 } from '../shared/random.js';

export const LANGS = ['en', 'de', 'fr'] as const;

export interface Context {
  lang: string;
  bytes: number;
}

/** Variants of `ocr × sum` then audit; labels like `ocr=a,sum=x`. */
export function makeVariants(ocrs: readonly string[], sums: readonly string[]): Variant[] {
  const out: Variant[] = [];
  for (const o of ocrs)
    for (const s of sums)
      out.push({
        index: out.length,
        label: `ocr=${o},sum=${s}`,
        choices: { ocr: o, sum: s },
        graph: {
          nodes: [`ocr-${o}`, `sum-${s}`, 'audit'],
          edges: [
            [0, 1],
            [1, 2],
          ],
        },
      });
  return out;
}

export class World {
  readonly subTenants: string[];
  private readonly weights: number[];
  private readonly qOcr = new Map<string, number[]>();
  private readonly qSum = new Map<string, [number, number]>();
  private readonly personal = new Map<string, number>();
  private drifted = false;
  private readonly rng: () => number;

  constructor(
    seed: number,
    ocrs: readonly string[],
    sums: readonly string[],
    subTenants = 20,
    readonly noise = 0.3,
  ) {
    this.rng = mulberry32(seed);
    this.subTenants = Array.from({ length: subTenants }, (_, i) => (i < 4 ? `acme-${i}` : `t${i}`));
    const z = this.subTenants.map((_, i) => 1 / (i + 1) ** 1.1);
    const total = z.reduce((a, b) => a + b, 0);
    this.weights = z.map((w) => w / total);
    for (const o of ocrs) this.addOcr(o);
    for (const s of sums) this.qSum.set(s, [this.rng(), this.rng() * 1.2 - 0.6]);
    for (const u of this.subTenants)
      for (const s of sums) this.personal.set(`${u}/${s}`, gaussian(this.rng) * 0.2);
  }

  /** A new OCR option (the new-option scenario), its quality drawn like the others'. */
  addOcr(o: string): void {
    this.qOcr.set(
      o,
      LANGS.map(() => this.rng()),
    );
  }

  drift(): void {
    this.drifted = true;
  }

  next(): { ctx: Context; sub: string } {
    let u = this.rng();
    let i = 0;
    while (i < this.weights.length - 1 && u >= this.weights[i]!) u -= this.weights[i++]!;
    const lang = LANGS[Math.floor(this.rng() * LANGS.length)]!;
    const bytes = Math.round(10 ** (1 + this.rng() * 4));
    return { ctx: { lang, bytes }, sub: this.subTenants[i]! };
  }

  /** Expected reward of a variant (its choices) in a context for a sub-tenant. */
  expected(v: Variant, ctx: Context, sub: string): number {
    const o = v.choices['ocr']!;
    const s = v.choices['sum']!;
    const li = LANGS.indexOf(ctx.lang as (typeof LANGS)[number]);
    // The drift: each OCR is now as good at a language as it was at the next one.
    const q = this.qOcr.get(o)![this.drifted ? (li + 1) % LANGS.length : li]!;
    const [a, b] = this.qSum.get(s)!;
    const t = Math.log10(ctx.bytes) / 5;
    return 1 + q + a + b * t + (this.personal.get(`${sub}/${s}`) ?? 0);
  }

  observe(v: Variant, ctx: Context, sub: string): number {
    return this.expected(v, ctx, sub) + gaussian(this.rng) * this.noise;
  }
}

export interface AgentOptions {
  name: string;
  algorithm: ExploreAlgorithm;
  rate: number;
  model: ModelOptions;
  /** Arms: each variant is one opaque function (no graph structure shared). */
  oneHot?: boolean;
  /** false: sub-tenant priors shrink every coordinate (no personal projection). */
  projected?: boolean;
  /** Decisions between two trainings. */
  trainEvery: number;
  seed: number;
}

export interface Logged {
  ctx: Context;
  sub: string;
  variant: number;
  propensity: number;
  reward: number;
}

/** One learner: the same decide/observe/train the master runs, over simulated outcomes. */
export class Agent {
  readonly space: FeatureSpace;
  private state: ModelState;
  private snap: ModelSnapshot;
  private graphs: Float64Array[] = [];
  private readonly rng: () => number;
  private sinceTrain = 0;
  readonly log: Logged[] = [];
  private variants: Variant[];

  constructor(
    readonly o: AgentOptions,
    variants: Variant[],
    allFunctions: readonly string[],
  ) {
    this.variants = variants;
    const fns = o.oneHot ? variants.map((_, i) => `arm-${i}`) : allFunctions;
    this.space = featureSpace(fns, ['lang', 'bytes'], o.oneHot ? 64 : undefined);
    this.state = emptyState(this.space.dim);
    this.snap = train(this.state, o.model, this.personal());
    this.rng = mulberry32(o.seed);
    this.bind();
  }

  /** The personal projection, unless the agent runs the isotropic shrinkage (`projected: false`). */
  private personal(): number[] | undefined {
    return this.o.projected === false ? undefined : personalIndices(this.space);
  }

  private graphOf(v: Variant) {
    return this.o.oneHot ? { nodes: [`arm-${v.index}`], edges: [] as [number, number][] } : v.graph;
  }

  private bind(): void {
    this.graphs = this.variants.map((v) => embedGraph(this.space, this.graphOf(v), {}));
  }

  /** New variants (same feature space: their functions must be known to it). */
  setVariants(variants: Variant[]): void {
    this.variants = variants;
    this.bind();
  }

  decide(ctx: Context, sub: string, candidates: readonly number[], rate = this.o.rate): Decision {
    return decide({
      space: this.space,
      posterior: posteriorFor(this.snap, sub),
      graphs: this.graphs,
      candidates,
      context: encodeContext(this.space, { ...ctx }),
      algorithm: this.o.algorithm,
      rate,
      rng: this.rng,
    });
  }

  learn(ctx: Context, sub: string, d: Decision, reward: number): void {
    const phi = crossFeatures(
      this.space,
      this.graphs[d.index]!,
      encodeContext(this.space, { ...ctx }),
      new Float64Array(this.space.dim),
    );
    observe(this.state, this.o.model, sub, phi, reward, d.prediction);
    this.log.push({ ctx, sub, variant: d.index, propensity: d.propensity, reward });
    if (++this.sinceTrain >= this.o.trainEvery) {
      this.sinceTrain = 0;
      this.snap = train(this.state, this.o.model, this.personal());
    }
  }

  /** Greedy pick (no exploration). */
  greedy(ctx: Context, sub: string, candidates: readonly number[]): number {
    return this.decide(ctx, sub, candidates, 0).index;
  }
}

export function candidatesFor(
  variants: readonly Variant[],
  policies: readonly CompositionPolicy[],
  sub: string,
): number[] {
  return admissible(variants, policies, sub);
}

export const MODEL = DEFAULT_MODEL_OPTIONS;
