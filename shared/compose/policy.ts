/**
 * Policies over variants, applied before any learner sees a candidate: a variant is admissible
 * for a sub-tenant when no policy matching that sub-tenant denies one of its functions or one of
 * its `choice.option` keys. Exploration can only pick among admissible variants, so it can never
 * break a policy. Pure.
 */
import type { CompositionPolicy, Variant } from './types.js';

/** `*` matches any run of characters, `?` one; everything else literally. */
export function globMatch(glob: string, name: string): boolean {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(name);
}

export function policiesFor(
  policies: readonly CompositionPolicy[],
  subTenant: string,
): CompositionPolicy[] {
  return policies.filter((p) => p.subTenants.some((g) => globMatch(g, subTenant)));
}

/** True when `policies` (all assumed to apply) allow the variant. */
export function allows(policies: readonly CompositionPolicy[], v: Variant): boolean {
  for (const p of policies)
    for (const item of p.deny) {
      if (v.graph.nodes.includes(item)) return false;
      const dot = item.indexOf('.');
      if (dot > 0 && v.choices[item.slice(0, dot)] === item.slice(dot + 1)) return false;
    }
  return true;
}

/** Indices of the variants the sub-tenant may run, ascending. */
export function admissible(
  variants: readonly Variant[],
  policies: readonly CompositionPolicy[],
  subTenant: string,
): number[] {
  const apply = policiesFor(policies, subTenant);
  return variants.filter((v) => allows(apply, v)).map((v) => v.index);
}

/** The exploration rate a sub-tenant gets: the asked rate under every matching policy's cap. */
export function exploreRate(
  rate: number,
  policies: readonly CompositionPolicy[],
  subTenant: string,
): number {
  let r = rate;
  for (const p of policiesFor(policies, subTenant))
    if (p.maxExplore !== undefined) r = Math.min(r, p.maxExplore);
  return Math.max(0, Math.min(1, r));
}

/**
 * Validation: for each glob of each policy, the variants left for a sub-tenant named like the
 * glob (the policies whose globs match it literally apply too). Returns the `[policy, glob]`
 * positions that leave none.
 */
export function emptyPatterns(
  variants: readonly Variant[],
  policies: readonly CompositionPolicy[],
): { policy: number; glob: number }[] {
  const out: { policy: number; glob: number }[] = [];
  policies.forEach((p, i) =>
    p.subTenants.forEach((g, j) => {
      const apply = policies.filter(
        (q, k) => k === i || q.subTenants.some((h) => h === g || globMatch(h, g)),
      );
      if (!variants.some((v) => allows(apply, v))) out.push({ policy: i, glob: j });
    }),
  );
  return out;
}
