/**
 * The answer of `GET /v1/workflows/:name/composition` (docs/guides/composition.md): one
 * definition for the master's route, the dashboard and `faasflow compose`.
 */
import type { Estimate } from '../compose/estimate.js';
import type { ExploreAlgorithm } from '../compose/types.js';

export interface CompositionRanking {
  workflow: string;
  version: number;
  subTenant: string;
  mode: string;
  modelVersion: number;
  explore: { algorithm: ExploreAlgorithm; rate: number };
  /** The context features read from the given input (null features without one). */
  context: Record<string, unknown>;
  /** Variants compiled from the choices, and how many of them the sub-tenant's policies admit. */
  variants: number;
  admissible: number;
  graphs: RankedGraph[];
  /** Logged decisions of the workflow, all sub-tenants. */
  decisions: number;
  /** Offline estimates (self-normalised IPS) of the learned policy and the default. */
  estimate: { learned: Estimate | null; default: Estimate | null; promote: boolean };
}

export interface RankedGraph {
  rank: number;
  variant: string;
  /** The graph's nodes, in order. */
  graph: string[];
  expectedReward: number;
  uncertainty: number;
  /** Logged decisions of this sub-tenant that ran this graph. */
  decisions: number;
}
