/**
 * The plan of a namespace test cluster, as plain data and `ip`/`tc` argument lists (no I/O):
 * N host namespaces, each with one veth (`eth0`) plugged into a bridge that lives in its own
 * switch namespace, plus one uplink veth from this (root) namespace so tests can reach the hosts.
 *
 * Invariants:
 * - every name carries the plan's prefix: namespaces `<prefix>-h<i>` and `<prefix>-sw`, the one
 *   root-side interface `<prefix>-up`; nothing else is created, so teardown can name it all;
 * - addresses come from one /24 of 198.18.0.0/15 (RFC 2544: reserved for network benchmark
 *   tests), so no real destination is ever routed into the test network;
 * - the bridge sits in a namespace of its own, so the host's firewall (e.g. br_netfilter with a
 *   DROP forward policy) never sees bridged traffic.
 */
import { linkShaping, type LinkShaping } from './shape.js';

export type Argv = readonly string[];

export interface PlannedHost {
  /** `h0`, `h1`, … */
  name: string;
  index: number;
  namespace: string;
  /** IPv4 address on the test network. */
  address: string;
  /** The host's interface inside its namespace. */
  hostIf: string;
  /** Its peer, a bridge port in the switch namespace. */
  switchPort: string;
}

export interface NetnsPlan {
  prefix: string;
  /** The /24 as its first three octets, e.g. `198.18.7`. */
  subnet: string;
  switchNamespace: string;
  bridge: string;
  /** The root namespace's interface and address on the test network. */
  uplink: { rootIf: string; switchIf: string; address: string };
  hosts: PlannedHost[];
  shaping: LinkShaping | null;
}

export interface PlanOptions {
  count: number;
  prefix: string;
  subnet: string;
  /** Link rate per host and direction: `25mbit`, `1gbit`, or bits per second. */
  bandwidth?: string | number;
  /** Added one-way delay of every packet a host sends, ms (needs the kernel's netem). */
  latencyMs?: number;
}

/** At most this many hosts: addresses .1 to .(MAX_HOSTS) of the /24, .254 is the uplink. */
export const MAX_HOSTS = 200;
const PREFIX_PATTERN = /^[a-z][a-z0-9]{1,9}$/;
const SUBNET_PATTERN = /^198\.(18|19)\.(\d{1,3})$/;

export function planHosts(o: PlanOptions): NetnsPlan {
  const problems: string[] = [];
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > MAX_HOSTS)
    problems.push(`count ${String(o.count)} must be an integer from 1 to ${MAX_HOSTS}`);
  if (!PREFIX_PATTERN.test(o.prefix))
    problems.push(
      `prefix ${JSON.stringify(o.prefix)} must be 2-10 lowercase letters or digits, starting with a letter (interface names are limited to 15 characters)`,
    );
  const subnet = SUBNET_PATTERN.exec(o.subnet);
  if (!subnet || Number(subnet[2]) > 255)
    problems.push(
      `subnet ${JSON.stringify(o.subnet)} must be the first three octets of a /24 in 198.18.0.0/15, e.g. 198.18.7`,
    );
  let shaping: LinkShaping | null = null;
  try {
    shaping = linkShaping(o.bandwidth, o.latencyMs);
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length > 0) throw new Error(`invalid namespace hosts: ${problems.join('; ')}`);

  const hosts: PlannedHost[] = [];
  for (let i = 0; i < o.count; i++) {
    hosts.push({
      name: `h${i}`,
      index: i,
      namespace: `${o.prefix}-h${i}`,
      address: `${o.subnet}.${i + 1}`,
      hostIf: 'eth0',
      switchPort: `p${i}`,
    });
  }
  return {
    prefix: o.prefix,
    subnet: o.subnet,
    switchNamespace: `${o.prefix}-sw`,
    bridge: 'br0',
    uplink: { rootIf: `${o.prefix}-up`, switchIf: 'gw', address: `${o.subnet}.254` },
    hosts,
    shaping,
  };
}

/** Every command that builds the plan, in order. Each must succeed. */
export function setupCommands(plan: NetnsPlan): Argv[] {
  const sw = plan.switchNamespace;
  const cmds: Argv[] = [
    ['ip', 'netns', 'add', sw],
    ['ip', '-n', sw, 'link', 'set', 'lo', 'up'],
    ['ip', '-n', sw, 'link', 'add', plan.bridge, 'type', 'bridge', 'stp_state', '0'],
    ['ip', '-n', sw, 'link', 'set', 'dev', plan.bridge, 'up'],
  ];
  for (const h of plan.hosts) {
    const ns = h.namespace;
    cmds.push(
      ['ip', 'netns', 'add', ns],
      ['ip', '-n', ns, 'link', 'set', 'lo', 'up'],
      [
        'ip',
        'link',
        'add',
        h.hostIf,
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        h.switchPort,
        'netns',
        sw,
      ],
      ['ip', '-n', ns, 'addr', 'add', `${h.address}/24`, 'dev', h.hostIf],
      ['ip', '-n', ns, 'link', 'set', 'dev', h.hostIf, 'up'],
      ['ip', '-n', sw, 'link', 'set', 'dev', h.switchPort, 'master', plan.bridge],
      ['ip', '-n', sw, 'link', 'set', 'dev', h.switchPort, 'up'],
    );
    if (plan.shaping) {
      // Egress of eth0 is what the host sends; egress of its bridge port is what it receives.
      cmds.push(
        ...plan.shaping.egress.map((args) => [
          'tc',
          '-n',
          ns,
          'qdisc',
          'add',
          'dev',
          h.hostIf,
          ...args,
        ]),
      );
      cmds.push(
        ...plan.shaping.ingress.map((args) => [
          'tc',
          '-n',
          sw,
          'qdisc',
          'add',
          'dev',
          h.switchPort,
          ...args,
        ]),
      );
    }
  }
  const up = plan.uplink;
  cmds.push(
    ['ip', 'link', 'add', up.rootIf, 'type', 'veth', 'peer', 'name', up.switchIf, 'netns', sw],
    ['ip', '-n', sw, 'link', 'set', 'dev', up.switchIf, 'master', plan.bridge],
    ['ip', '-n', sw, 'link', 'set', 'dev', up.switchIf, 'up'],
    ['ip', 'addr', 'add', `${up.address}/24`, 'dev', up.rootIf],
    ['ip', 'link', 'set', 'dev', up.rootIf, 'up'],
  );
  return cmds;
}

/**
 * Every command that removes what the plan created; each may fail harmlessly when its object is
 * already gone. Deleting a namespace deletes its veth ends, and with them their peers.
 */
export function teardownCommands(plan: NetnsPlan): Argv[] {
  return [
    ['ip', 'link', 'del', plan.uplink.rootIf],
    ...plan.hosts.map((h): Argv => ['ip', 'netns', 'del', h.namespace]),
    ['ip', 'netns', 'del', plan.switchNamespace],
  ];
}

/** Every namespace the plan owns. */
export function namespacesOf(plan: NetnsPlan): string[] {
  return [...plan.hosts.map((h) => h.namespace), plan.switchNamespace];
}
