/**
 * Variants as deployments: variant i (i ≥ 1) of `name@version` is held by workers as the
 * deployment `name~i@version`, an ordinary workflow version with its own DAG and partition, so
 * triggers, groups and FaaStore are exactly those of any workflow. Variant 0 is the version
 * itself. Views made here are never stored; the catalogue keeps only the version.
 */
import type { WorkflowVersion } from '../workflow/version.js';

export function variantName(name: string, index: number): string {
  return index === 0 ? name : `${name}~${index}`;
}

/** The version as variant `index` runs it (the version itself for 0 or without composition). */
export function variantView(v: WorkflowVersion, index: number): WorkflowVersion {
  if (index === 0 || !v.composition) return v;
  const variant = v.composition.variants[index - 1];
  if (!variant) throw new Error(`${v.name}@${v.version} has no variant ${index}`);
  const { composition: _spec, ...rest } = v;
  return {
    ...rest,
    name: variantName(v.name, index),
    dag: variant.dag,
    partition: variant.partition,
  };
}

/** Every deployment a version makes: itself, then each variant. */
export function deploymentsOf(v: WorkflowVersion): WorkflowVersion[] {
  const n = v.composition ? v.composition.variants.length : 0;
  return [v, ...Array.from({ length: n }, (_, i) => variantView(v, i + 1))];
}
