/**
 * Composition (docs/guides/composition.md): the plain data a workflow with `choose:` steps
 * compiles to, shared by the master (decisions, training) and the benchmark simulator. Every
 * admissible combination of options is a _variant_: an ordinary DAG compiled at deploy time.
 * Here each variant is seen only as the graph of the functions it runs (for the learner's
 * message passing) and the options it picked (for policies).
 */

export type ExploreAlgorithm = 'thompson' | 'epsilon-greedy';
export type CompositionMode = 'shadow' | 'online' | 'frozen';

/** One `choose:` step: a name, its options (key → what it runs), the default key. */
export interface ChoicePoint {
  name: string;
  options: string[];
  default: string;
  path: string;
}

/** The functions a variant runs and the edges between them (through pass and switch nodes). */
export interface VariantGraph {
  /** Function names, one per task node (foreach bodies included). */
  nodes: string[];
  /** [parent, child] indices into `nodes`. */
  edges: [number, number][];
}

export interface Variant {
  /** 0 is the default variant (every choice at its default). */
  index: number;
  /** `ocr=fast,summary=short`: the choices in the order they appear in the flow. */
  label: string;
  choices: Record<string, string>;
  graph: VariantGraph;
}

/** `policies:` entries: sub-tenants matching any glob may not run a variant naming a denied item. */
export interface CompositionPolicy {
  /** Globs over sub-tenant names (`*` any run, `?` one character). */
  subTenants: string[];
  /** Function names or `choice.option` keys. */
  deny: string[];
  /** Cap on the exploration rate for these sub-tenants (0..1). */
  maxExplore?: number;
}

export interface LearnSpec {
  /** Feature name → JSONata over the invocation input. */
  context: Record<string, string>;
  /** JSONata over { latencyMs, cpuMs, costs, failed } with $feedback bound; higher is better. */
  reward: string;
  explore: { algorithm: ExploreAlgorithm; rate: number };
  mode: CompositionMode;
  /** How long after the end feedback may still change the reward. */
  feedbackWindowMs: number;
  /** $feedback when none came within the window. */
  defaultFeedback: number;
}

export interface CompositionSpec {
  choices: ChoicePoint[];
  variants: Variant[];
  learn: LearnSpec;
  policies: CompositionPolicy[];
}

/** What the answer and the record carry about the composition of one invocation. */
export interface CompositionDecision {
  /** The functions of the graph that ran, in topological order. */
  graph: string[];
  /** The variant's label. */
  variant: string;
  /** Probability the logging policy gave this variant in this context (0..1]. */
  propensity: number;
  /** The variant is not the model's greedy pick (or, in shadow, not what the model would pick). */
  explored: boolean;
  modelVersion: number;
}
