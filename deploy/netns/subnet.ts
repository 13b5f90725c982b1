/**
 * Chooses a free /24 of 198.18.0.0/15 for a namespace cluster and claims it, so two clusters
 * started at once never share one: the claim is a file created with O_EXCL in the state folder.
 */
import { randomInt } from 'node:crypto';
import { closeSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './run.js';

/** Where clusters record what they created (root-only, cleared at boot). */
export const STATE_DIR = process.env['FAASFLOW_NETNS_STATE_DIR'] ?? '/run/faasflow-netns';

/** `a.b.c.d/len` → [first address, last address] as 32-bit numbers. */
export function cidrRange(cidr: string): [number, number] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (!m) return null;
  const octets = [m[1], m[2], m[3], m[4]].map(Number);
  if (octets.some((o) => o > 255)) return null;
  const len = m[5] === undefined ? 32 : Number(m[5]);
  if (len > 32) return null;
  const ip = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - len);
  const first = Math.floor(ip / size) * size;
  return [first, first + size - 1];
}

/** Whether two CIDR blocks share an address. Unparseable ones count as not overlapping. */
export function overlaps(a: string, b: string): boolean {
  const ra = cidrRange(a);
  const rb = cidrRange(b);
  return ra !== null && rb !== null && ra[0] <= rb[1] && rb[0] <= ra[1];
}

/** The IPv4 blocks this namespace already reaches directly: its addresses and routes. */
async function usedBlocks(): Promise<string[]> {
  const blocks: string[] = [];
  const addrs = JSON.parse((await run(['ip', '-4', '-j', 'addr', 'show'])).stdout) as {
    addr_info?: { local?: string; prefixlen?: number }[];
  }[];
  for (const link of addrs) {
    for (const a of link.addr_info ?? [])
      if (a.local) blocks.push(`${a.local}/${a.prefixlen ?? 32}`);
  }
  const routes = JSON.parse(
    (await run(['ip', '-4', '-j', 'route', 'show', 'table', 'all'])).stdout,
  ) as {
    dst?: string;
  }[];
  for (const r of routes) if (r.dst && r.dst !== 'default') blocks.push(r.dst);
  return blocks;
}

export interface SubnetClaim {
  /** First three octets, e.g. `198.18.7`. */
  subnet: string;
  release(): void;
}

/** Claims `requested`, or a random free /24 of 198.18.0.0/15. */
export async function claimSubnet(requested?: string): Promise<SubnetClaim> {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const used = await usedBlocks();
  const candidates =
    requested === undefined
      ? Array.from({ length: 64 }, () => `198.${18 + randomInt(2)}.${randomInt(256)}`)
      : [requested];
  for (const subnet of candidates) {
    if (used.some((b) => overlaps(b, `${subnet}.0/24`))) continue;
    const file = join(STATE_DIR, `subnet-${subnet}`);
    try {
      closeSync(openSync(file, 'wx'));
    } catch {
      continue; // claimed by another cluster
    }
    return { subnet, release: () => rmSync(file, { force: true }) };
  }
  throw new Error(
    requested === undefined
      ? 'no free /24 in 198.18.0.0/15 after 64 tries; remove stale clusters with `faasflow-netns down --stale`'
      : `subnet ${requested}.0/24 is in use here (an address, a route or another cluster's claim)`,
  );
}
