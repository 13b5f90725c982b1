import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  InventoryError,
  loadInventory,
  parseInventory,
  tokenOf,
} from '../../deploy/hosts/inventory.js';
import { repoRoot } from '../../bench/paths.js';

const GOOD = `
# a comment
[cluster]
token = 0123456789abcdef
redis_url = redis://10.0.0.5:6379   # trailing comment
sandbox = docker

[master]
m1 address=10.0.0.1

[workers]
w1 address=10.0.0.2 cpu=8 memory_mb=16384
w2 address=worker-2.example.net port=9000 bind=0.0.0.0 ssh=admin@bastion cpu=0.5
`;

function problems(text: string): { line: number; message: string }[] {
  try {
    parseInventory(text, 'inv');
  } catch (err) {
    if (err instanceof InventoryError) return err.problems;
    throw err;
  }
  throw new Error('expected the inventory to be rejected');
}

describe('inventory parsing', () => {
  it('reads the cluster settings, the master and the workers with their capacity', () => {
    const inv = parseInventory(GOOD, 'inv');
    expect(tokenOf(inv)).toBe('0123456789abcdef');
    expect(inv.cluster).toMatchObject({
      redisUrl: 'redis://10.0.0.5:6379',
      sandbox: 'docker',
      installDir: '/opt/faasflow',
      serviceUser: 'faasflow',
      node: 'node',
      init: 'auto',
      mode: 'worker',
      placement: 'greedy-jsq',
    });
    expect(inv.cluster.sshCommand).toEqual([
      'ssh',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=10',
      '{dest}',
    ]);
    expect(inv.master).toMatchObject({
      name: 'm1',
      address: '10.0.0.1',
      bind: '10.0.0.1',
      port: 8080,
      ssh: '10.0.0.1',
      line: 9,
    });
    expect(inv.workers).toEqual([
      {
        name: 'w1',
        line: 12,
        address: '10.0.0.2',
        bind: '10.0.0.2',
        port: 8090,
        ssh: '10.0.0.2',
        cpu: 8,
        memoryMb: 16384,
        memoryQuotaMb: null,
      },
      {
        name: 'w2',
        line: 13,
        address: 'worker-2.example.net',
        bind: '0.0.0.0',
        port: 9000,
        ssh: 'admin@bastion',
        cpu: 0.5,
        memoryMb: null,
        memoryQuotaMb: null,
      },
    ]);
  });

  it('binds to every interface by default when the address is a host name', () => {
    const inv = parseInventory(
      GOOD.replace('m1 address=10.0.0.1', 'm1 address=master.internal'),
      'inv',
    );
    expect(inv.master.bind).toBe('0.0.0.0');
  });

  it('reports every problem at once, each with its line and what would be valid', () => {
    const text = [
      '[cluster]', //                                   1
      'token = short', //                               2
      'colour = blue', //                               3
      'sandbox = vm', //                                4
      '[master]', //                                    5
      'm1 address=0.0.0.0 port=70000', //               6
      '[workers]', //                                   7
      'w1 address=10.0.0.2 cpu=lots memory_mb=64', //   8
      'w1 address=10.0.0.3 gpu=1', //                   9
      'bad/name address=10.0.0.4', //                   10
      'w3 cpu=2', //                                    11
      '[extras]', //                                    12
    ].join('\n');
    const found = problems(text);
    expect(found.map((p) => p.line)).toEqual([2, 3, 4, 6, 6, 8, 8, 9, 9, 10, 11, 12]);
    const at = (line: number): string =>
      found
        .filter((p) => p.line === line)
        .map((p) => p.message)
        .join(' | ');
    expect(at(2)).toMatch(/token "short" is not valid; expected 8-512 of/);
    expect(at(3)).toMatch(
      /unknown setting colour in \[cluster\]; valid settings: token, token_file,/,
    );
    expect(at(4)).toMatch(/sandbox "vm" is not valid; expected one of process, docker/);
    expect(at(6)).toMatch(/address "0.0.0.0" is not valid.*use bind=0.0.0.0/);
    expect(at(6)).toMatch(/port "70000" is not valid; expected a port from 1 to 65535/);
    expect(at(8)).toMatch(/cpu "lots" is not valid; expected the cores/);
    expect(at(8)).toMatch(/memory_mb "64" is not valid; expected .* at least 128/);
    expect(at(9)).toMatch(
      /unknown field "gpu"; valid fields: address, bind, port, ssh, cpu, memory_mb, memory_quota_mb/,
    );
    expect(at(9)).toMatch(/w1 is listed twice under \[workers\] \(first on line 8\)/);
    expect(at(10)).toMatch(/worker name "bad\/name" must be/);
    expect(at(11)).toMatch(/worker w3: address is missing/);
    expect(at(12)).toMatch(
      /unknown section \[extras\]; valid sections: \[cluster\], \[master\], \[workers\]/,
    );
  });

  it('formats the error as file:line: message lines', () => {
    expect(() =>
      parseInventory(
        '[cluster]\ntoken = 0123456789abcdef\nsandbox = vm\n[master]\nm address=10.0.0.1\n[workers]\nw address=10.0.0.2\n',
        'cluster.ini',
      ),
    ).toThrow(/cluster\.ini: 1 problem:\n {2}cluster\.ini:3: sandbox "vm" is not valid/);
  });

  it('requires a token, one master and at least one worker', () => {
    const found = problems('[cluster]\nsandbox = process\n');
    expect(found.map((p) => p.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/no cluster token: set token_file/),
        expect.stringMatching(/no master: add one line under \[master\]/),
        expect.stringMatching(/no workers: add lines under \[workers\]/),
      ]),
    );
  });

  it('rejects a second master, a repeated setting, and token together with token_file', () => {
    const text =
      '[cluster]\ntoken = 0123456789abcdef\ntoken_file = t\nsandbox = process\nsandbox = docker\n[master]\nm1 address=10.0.0.1\nm2 address=10.0.0.9\n[workers]\nw address=10.0.0.2\n';
    expect(problems(text)).toEqual([
      { line: 3, message: 'set token or token_file, not both' },
      { line: 5, message: 'sandbox is set twice (first on line 4)' },
      { line: 8, message: '[master] has 2 entries; exactly one master is supported' },
    ]);
  });

  it('rejects two components listening on the same address and port', () => {
    const text =
      '[cluster]\ntoken = 0123456789abcdef\n[master]\nm address=10.0.0.1 port=8090\n[workers]\nw1 address=10.0.0.1\nw2 address=10.0.0.1 port=8091\n';
    expect(problems(text)).toEqual([
      {
        line: 6,
        message: 'w1 uses 10.0.0.1:8090, like m on line 4; give one of them another port',
      },
    ]);
  });

  it('accepts a master and a worker on one host when their ports differ', () => {
    const inv = parseInventory(
      '[cluster]\ntoken = 0123456789abcdef\n[master]\nm address=10.0.0.1\n[workers]\nw address=10.0.0.1\n',
      'inv',
    );
    expect([inv.master.port, inv.workers[0]!.port]).toEqual([8080, 8090]);
  });

  it('takes an ssh_command with {dest}, and rejects one without it or with quotes', () => {
    const base =
      '[master]\nm address=10.0.0.1\n[workers]\nw address=10.0.0.2\n[cluster]\ntoken = 0123456789abcdef\n';
    expect(
      parseInventory(`${base}ssh_command = ssh -p 2222 {dest} sudo\n`, 'inv').cluster.sshCommand,
    ).toEqual(['ssh', '-p', '2222', '{dest}', 'sudo']);
    expect(problems(`${base}ssh_command = ssh -p 2222\n`)[0]!.message).toMatch(
      /expected a command with \{dest\} standing for the host/,
    );
    expect(problems(`${base}ssh_command = ssh -o "ProxyCommand x" {dest}\n`)[0]!.message).toMatch(
      /without quotes or \$/,
    );
  });

  it('rejects values that would need quoting in an environment file or a shell', () => {
    const base = '[master]\nm address=10.0.0.1\n[workers]\nw address=10.0.0.2\n[cluster]\n';
    expect(problems(`${base}token = abc$(reboot)def\n`)[0]!.message).toMatch(
      /token .* is not valid/,
    );
    expect(
      problems(`${base}token = 0123456789abcdef\ninstall_dir = /opt/my dir\n`)[0]!.message,
    ).toMatch(/install_dir .* expected an absolute path without spaces/);
    expect(
      problems(`${base}token = 0123456789abcdef\nredis_url = redis://h:1;rm\n`)[0]!.message,
    ).toMatch(/redis_url/);
    expect(
      problems(`${base}token = 0123456789abcdef\ninstall_dir = relative/dir\n`)[0]!.message,
    ).toMatch(/install_dir/);
  });

  it('reads token_file relative to the inventory, and names the line when it cannot', () => {
    const dir = mkdtempSync(join(tmpdir(), 'faasflow-inventory-'));
    const text =
      '[cluster]\ntoken_file = secret\n[master]\nm address=10.0.0.1\n[workers]\nw address=10.0.0.2\n';
    writeFileSync(join(dir, 'inventory'), text);
    expect(() => loadInventory(join(dir, 'inventory'))).toThrow(
      /inventory:2: token_file .*secret cannot be read/,
    );
    writeFileSync(join(dir, 'secret'), 'short\n');
    expect(() => loadInventory(join(dir, 'inventory'))).toThrow(
      /inventory:2: token_file .* must hold 8-512 of/,
    );
    writeFileSync(join(dir, 'secret'), 'a-long-enough-token\n');
    expect(tokenOf(loadInventory(join(dir, 'inventory')))).toBe('a-long-enough-token');
  });

  it('parses the shipped example inventory once its token file exists', () => {
    const example = readFileSync(join(repoRoot(), 'deploy', 'hosts', 'inventory.example'), 'utf8');
    const inv = parseInventory(example, 'inventory.example');
    expect(inv.cluster.token).toEqual({
      kind: 'file',
      path: 'cluster-token',
      line: expect.any(Number),
    });
    expect(inv.workers.map((w) => w.name)).toEqual(['w1', 'w2', 'w3']);
  });
});
