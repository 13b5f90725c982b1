/**
 * Offline evaluation from the decision log (pure): the self-normalised inverse-propensity
 * estimate (SNIPS) of a target policy's mean reward from decisions a logging policy made,
 * with a normal-approximation interval. The weight of a logged decision is
 * π_target(logged variant | context) / propensity.
 */

export interface LoggedOutcome {
  reward: number;
  /** The logging policy's probability of the variant that ran. */
  propensity: number;
  /** The target policy's probability of that same variant. */
  target: number;
}

export interface Estimate {
  value: number;
  /** 95 % interval half-width. */
  halfWidth: number;
  lower: number;
  upper: number;
  /** Effective sample size (Σw)²/Σw². */
  effective: number;
  n: number;
}

export function snips(log: readonly LoggedOutcome[]): Estimate | null {
  let sw = 0;
  let swr = 0;
  let sw2 = 0;
  for (const o of log) {
    if (!(o.propensity > 0)) continue;
    const w = o.target / o.propensity;
    sw += w;
    swr += w * o.reward;
    sw2 += w * w;
  }
  if (sw <= 0) return null;
  const value = swr / sw;
  let v = 0;
  for (const o of log) {
    if (!(o.propensity > 0)) continue;
    const w = o.target / o.propensity;
    v += w * w * (o.reward - value) * (o.reward - value);
  }
  const halfWidth = (1.96 * Math.sqrt(v)) / sw;
  return {
    value,
    halfWidth,
    lower: value - halfWidth,
    upper: value + halfWidth,
    effective: (sw * sw) / sw2,
    n: log.length,
  };
}
