import { describe, expect, it } from 'vitest';
import {
  namespacesOf,
  planHosts,
  setupCommands,
  teardownCommands,
} from '../../deploy/netns/plan.js';
import { linkShaping, parseBandwidth } from '../../deploy/netns/shape.js';
import { cidrRange, overlaps } from '../../deploy/netns/subnet.js';

describe('namespace host plan', () => {
  const plan = planHosts({ count: 3, prefix: 'fft1', subnet: '198.18.7' });

  it('names every namespace and the one root-side link with the prefix', () => {
    expect(namespacesOf(plan)).toEqual(['fft1-h0', 'fft1-h1', 'fft1-h2', 'fft1-sw']);
    expect(plan.uplink).toEqual({ rootIf: 'fft1-up', switchIf: 'gw', address: '198.18.7.254' });
    expect(plan.hosts.map((h) => [h.name, h.address])).toEqual([
      ['h0', '198.18.7.1'],
      ['h1', '198.18.7.2'],
      ['h2', '198.18.7.3'],
    ]);
  });

  it('touches the root namespace only to create and address its uplink', () => {
    const rootCommands = setupCommands(plan).filter(
      (argv) => argv[0] === 'ip' && argv[1] !== '-n' && argv[1] !== 'netns',
    );
    expect(rootCommands.map((a) => a.join(' '))).toEqual([
      'ip link add eth0 netns fft1-h0 type veth peer name p0 netns fft1-sw',
      'ip link add eth0 netns fft1-h1 type veth peer name p1 netns fft1-sw',
      'ip link add eth0 netns fft1-h2 type veth peer name p2 netns fft1-sw',
      'ip link add fft1-up type veth peer name gw netns fft1-sw',
      'ip addr add 198.18.7.254/24 dev fft1-up',
      'ip link set dev fft1-up up',
    ]);
  });

  it('tears down exactly what it set up: the uplink, then every namespace', () => {
    expect(teardownCommands(plan).map((a) => a.join(' '))).toEqual([
      'ip link del fft1-up',
      'ip netns del fft1-h0',
      'ip netns del fft1-h1',
      'ip netns del fft1-h2',
      'ip netns del fft1-sw',
    ]);
  });

  it('adds no qdisc without a bandwidth or latency', () => {
    expect(setupCommands(plan).some((a) => a[0] === 'tc')).toBe(false);
  });

  it('caps both directions of every host link when a bandwidth is given', () => {
    const shaped = planHosts({ count: 2, prefix: 'fft1', subnet: '198.18.7', bandwidth: '25mbit' });
    const tc = setupCommands(shaped)
      .filter((a) => a[0] === 'tc')
      .map((a) => a.join(' '));
    expect(tc).toEqual([
      'tc -n fft1-h0 qdisc add dev eth0 root handle 1: tbf rate 25000000bit burst 65536 latency 100ms',
      'tc -n fft1-sw qdisc add dev p0 root handle 1: tbf rate 25000000bit burst 65536 latency 100ms',
      'tc -n fft1-h1 qdisc add dev eth0 root handle 1: tbf rate 25000000bit burst 65536 latency 100ms',
      'tc -n fft1-sw qdisc add dev p1 root handle 1: tbf rate 25000000bit burst 65536 latency 100ms',
    ]);
  });

  it('rejects a bad count, prefix or subnet with every reason', () => {
    expect(() => planHosts({ count: 0, prefix: 'Bad-Prefix', subnet: '10.0.0' })).toThrow(
      /count 0 must be an integer from 1 to 200; prefix "Bad-Prefix" must be 2-10 lowercase.*; subnet "10.0.0" must be .* in 198.18.0.0\/15/,
    );
  });
});

describe('link shaping', () => {
  it('parses rates with units, and bits per second as numbers', () => {
    expect(parseBandwidth('25mbit')).toBe(25_000_000);
    expect(parseBandwidth('1.5gbit')).toBe(1_500_000_000);
    expect(parseBandwidth('500kbit')).toBe(500_000);
    expect(parseBandwidth(100_000_000)).toBe(100_000_000);
  });

  it('rejects what is not a rate, or out of range, saying what is expected', () => {
    expect(() => parseBandwidth('25mb')).toThrow(
      /expected a number with bit, kbit, mbit or gbit, e.g. 25mbit/,
    );
    expect(() => parseBandwidth('1bit')).toThrow(/out of range; expected from 8kbit to 100gbit/);
  });

  it('delays egress with netem and caps under it with tbf when both are asked', () => {
    const s = linkShaping('100mbit', 5)!;
    expect(s.egress.map((a) => a.join(' '))).toEqual([
      'root handle 1: netem delay 5ms limit 100000',
      'parent 1:1 handle 10: tbf rate 100000000bit burst 125000 latency 100ms',
    ]);
    expect(s.ingress.map((a) => a.join(' '))).toEqual([
      'root handle 1: tbf rate 100000000bit burst 125000 latency 100ms',
    ]);
  });

  it('adds latency alone without capping the inbound direction', () => {
    const s = linkShaping(undefined, 2)!;
    expect(s.egress).toHaveLength(1);
    expect(s.ingress).toEqual([]);
  });

  it('rejects a latency that is not a positive number of ms', () => {
    expect(() => linkShaping(undefined, 0)).toThrow(/latencyMs 0 must be a number of ms above 0/);
    expect(() => linkShaping(undefined, Number.NaN)).toThrow(/latencyMs NaN/);
  });
});

describe('subnet overlap', () => {
  it('computes the range of a CIDR block', () => {
    expect(cidrRange('198.18.7.0/24')).toEqual([3323070208, 3323070463]);
    expect(cidrRange('10.1.2.3')).toEqual([167838211, 167838211]);
    expect(cidrRange('not an address')).toBeNull();
  });

  it('finds overlaps between addresses, narrower and wider routes', () => {
    expect(overlaps('198.18.7.0/24', '198.18.7.254/32')).toBe(true);
    expect(overlaps('198.18.0.0/15', '198.19.3.0/24')).toBe(true);
    expect(overlaps('198.18.7.0/24', '198.18.8.0/24')).toBe(false);
    expect(overlaps('10.0.0.0/8', '198.18.7.0/24')).toBe(false);
  });
});
