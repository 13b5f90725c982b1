/**
 * Link shaping as `tc qdisc add dev X …` arguments (pure): a token bucket (tbf) caps the rate
 * in both directions of a host's link, netem adds delay to what the host sends. One-way delay
 * between two hosts is therefore `latencyMs`, and the round trip twice that.
 */

export interface LinkShaping {
  /** Bits per second per direction, or null for no cap. */
  rateBitsPerSec: number | null;
  /** Added one-way delay, or null. */
  latencyMs: number | null;
  /** Arguments after `tc qdisc add dev <host's eth0>`. */
  egress: string[][];
  /** Arguments after `tc qdisc add dev <its bridge port>` (the host's inbound direction). */
  ingress: string[][];
}

const UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };
const RATE_PATTERN = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i;
/** Slowest and fastest caps accepted, bits/s. */
const MIN_RATE = 8_000;
const MAX_RATE = 100e9;
/** GSO hands tbf segments up to 64 KiB; a smaller bucket would drop them. */
const MIN_BURST_BYTES = 65_536;

/** `25mbit` → 25_000_000. Numbers are bits per second. */
export function parseBandwidth(value: string | number): number {
  let bits: number;
  if (typeof value === 'number') bits = value;
  else {
    const m = RATE_PATTERN.exec(value.trim());
    if (!m) {
      throw new Error(
        `bandwidth ${JSON.stringify(value)} is not a rate; expected a number with bit, kbit, mbit or gbit, e.g. 25mbit`,
      );
    }
    bits = Number(m[1]) * (UNITS[m[2]!.toLowerCase()] ?? Number.NaN);
  }
  if (!Number.isFinite(bits) || bits < MIN_RATE || bits > MAX_RATE) {
    throw new Error(
      `bandwidth ${JSON.stringify(value)} is out of range; expected from 8kbit to 100gbit`,
    );
  }
  return Math.round(bits);
}

export function linkShaping(
  bandwidth: string | number | undefined,
  latencyMs: number | undefined,
): LinkShaping | null {
  const rate = bandwidth === undefined ? null : parseBandwidth(bandwidth);
  if (
    latencyMs !== undefined &&
    (!Number.isFinite(latencyMs) || latencyMs <= 0 || latencyMs > 10_000)
  ) {
    throw new Error(
      `latencyMs ${String(latencyMs)} must be a number of ms above 0 and at most 10000`,
    );
  }
  const latency = latencyMs ?? null;
  if (rate === null && latency === null) return null;
  const tbf = (parent: string[]): string[] => [
    ...parent,
    'tbf',
    'rate',
    `${rate}bit`,
    'burst',
    String(Math.max(MIN_BURST_BYTES, Math.ceil(rate! / 8 / 100))),
    'latency',
    '100ms',
  ];
  const egress: string[][] = [];
  if (latency !== null) {
    // netem's queue must hold what is in flight during the delay at the capped (or a fast) rate.
    egress.push(['root', 'handle', '1:', 'netem', 'delay', `${latency}ms`, 'limit', '100000']);
    if (rate !== null) egress.push(tbf(['parent', '1:1', 'handle', '10:']));
  } else {
    egress.push(tbf(['root', 'handle', '1:']));
  }
  const ingress = rate === null ? [] : [tbf(['root', 'handle', '1:'])];
  return { rateBitsPerSec: rate, latencyMs: latency, egress, ingress };
}
