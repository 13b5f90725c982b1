/**
 * Which workers run hot (docs/guides/sharding.md §hot workers): a worker whose measured
 * utilisation (its process tree's CPU over the cores it offers, sent with every heartbeat) stays
 * above `hotUtilization` for `holdBeats` heartbeats in a row is hot; it cools once it stays below
 * `coolUtilization` as long. The gap between the two and the hold keep a worker hovering near
 * the threshold from flapping. Pure: one heartbeat in, the worker's next state out.
 *
 * A hot worker gets no new group while a cool one can take it (the placement strategies), no
 * remote foreach shard (shared/shard/runtime-plan.ts), and the keyed loop moves its key ranges
 * off (shared/shard/control.ts).
 */

export interface HotOptions {
  /** Utilisation (0..1 of the offered cores, more with a neighbour) above which a worker heats. */
  hotUtilization: number;
  /** Utilisation below which a hot worker cools. */
  coolUtilization: number;
  /** Heartbeats in a row a condition must hold. */
  holdBeats: number;
}

export const HOT_DEFAULTS: HotOptions = { hotUtilization: 0.9, coolUtilization: 0.7, holdBeats: 2 };

export interface HotState {
  hot: boolean;
  /** Heartbeats in a row on the other side of the threshold that would flip `hot`. */
  streak: number;
  /** The last utilisation reported. */
  utilization: number;
}

export const coolState = (): HotState => ({ hot: false, streak: 0, utilization: 0 });

export interface HotStep {
  state: HotState;
  /** `hot` or `cool` when this heartbeat flipped the worker. */
  changed?: 'hot' | 'cool';
}

export function hotStep(
  prev: HotState,
  utilization: number,
  options: Partial<HotOptions> = {},
): HotStep {
  const o = { ...HOT_DEFAULTS, ...options };
  const crossing = prev.hot ? utilization < o.coolUtilization : utilization > o.hotUtilization;
  const streak = crossing ? prev.streak + 1 : 0;
  if (streak < o.holdBeats) return { state: { hot: prev.hot, streak, utilization } };
  const hot = !prev.hot;
  return { state: { hot, streak: 0, utilization }, changed: hot ? 'hot' : 'cool' };
}
