import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand, type Command } from '../../deploy/hosts/commands.js';
import { parseInventory } from '../../deploy/hosts/inventory.js';
import { componentsOf, envFileText, planHosts, transportArgv } from '../../deploy/hosts/plan.js';
import { agentScript, redact, shellQuote } from '../../deploy/hosts/script.js';
import { parseReport } from '../../deploy/hosts/transport.js';
import { loadMasterConfig } from '../../master/config.js';
import { loadWorkerConfig } from '../../worker/config.js';
import { repoRoot } from '../../bench/paths.js';

const TOKEN = 'cluster-secret-0123';
const inv = parseInventory(
  `[cluster]
token = ${TOKEN}
redis_url = redis://10.0.0.5:6379
sandbox = docker
install_dir = /srv/ff
service_user = ff
log_level = debug
mode = master
placement = round-robin
ssh_command = ssh -p 2222 {dest} sudo
[master]
m1 address=10.0.0.1 bind=0.0.0.0 ssh=ops@10.0.0.1
[workers]
w1 address=10.0.0.1 port=8091 cpu=4 memory_mb=8192 memory_quota_mb=256 ssh=ops@10.0.0.1
w2 address=10.0.0.2
`,
  'inv',
);

const envOf = (name: string): NodeJS.ProcessEnv =>
  Object.fromEntries(componentsOf(inv).find((c) => c.name === name)!.env);

describe('cluster plan from an inventory', () => {
  it("gives the master an environment its own config loader accepts, with the inventory's values", () => {
    const config = loadMasterConfig({}, envOf('m1'));
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      advertiseUrl: 'http://10.0.0.1:8080',
      token: TOKEN,
      mode: 'master',
      placement: 'round-robin',
    });
  });

  it('gives each worker an environment its config loader accepts: id, capacity, master, Redis, sandbox, token', () => {
    const config = loadWorkerConfig({}, envOf('w1'));
    expect(config).toMatchObject({
      workerId: 'w1',
      host: '10.0.0.1',
      port: 8091,
      advertiseUrl: 'http://10.0.0.1:8091',
      masterUrl: 'http://10.0.0.1:8080',
      redisUrl: 'redis://10.0.0.5:6379',
      runtime: 'docker',
      cpu: 4,
      memoryMb: 8192,
      memoryQuotaMb: 256,
      dataDir: '/srv/ff/data/worker-w1',
      token: TOKEN,
    });
    expect(envOf('w2')).not.toHaveProperty('FAASFLOW_CPU');
    expect(loadWorkerConfig({}, envOf('w2')).port).toBe(8090);
  });

  it('groups components by ssh destination, the master host first', () => {
    const hosts = planHosts(inv);
    expect(hosts.map((h) => [h.dest, h.components.map((c) => `${c.kind}:${c.name}`)])).toEqual([
      ['ops@10.0.0.1', ['master:m1', 'worker:w1']],
      ['10.0.0.2', ['worker:w2']],
    ]);
    expect(transportArgv(inv, 'ops@10.0.0.1')).toEqual([
      'ssh',
      '-p',
      '2222',
      'ops@10.0.0.1',
      'sudo',
      'bash',
      '-s',
    ]);
  });

  it('writes systemd units that run the installed release under the service user, restarting on failure', () => {
    const w1 = componentsOf(inv).find((c) => c.name === 'w1')!;
    expect(w1.unitName).toBe('faasflow-worker-w1');
    expect(w1.unit).toContain('User=ff\n');
    expect(w1.unit).toContain('SupplementaryGroups=docker\n');
    expect(w1.unit).toContain('EnvironmentFile=/srv/ff/etc/worker-w1.env\n');
    expect(w1.unit).toContain('ExecStart=@NODE@ /srv/ff/current/dist/worker/main.js\n');
    expect(w1.unit).toContain('Restart=on-failure\n');
    expect(componentsOf(inv)[0]!.unit).not.toContain('SupplementaryGroups');
    expect(componentsOf(inv)[0]!.healthUrl).toBe('http://127.0.0.1:8080/healthz');
  });

  it('writes environment files as KEY=VALUE lines after a header comment', () => {
    const text = envFileText(componentsOf(inv)[0]!);
    expect(text.split('\n')[0]).toMatch(/^# faasflow master m1/);
    expect(text).toContain(`\nFAASFLOW_TOKEN=${TOKEN}\n`);
  });
});

describe('agent script', () => {
  it('quotes any value as one shell word', () => {
    expect(shellQuote("it's $HOME `x`")).toBe(`'it'\\''s $HOME \`x\`'`);
  });

  it('puts every parameter in variables ahead of the agent, and ends with the agent', () => {
    const [m1] = componentsOf(inv);
    const script = agentScript(
      {
        action: 'install',
        installDir: '/srv/ff',
        serviceUser: 'ff',
        node: 'node',
        init: 'auto',
        release: '0.1.0-abc',
        components: [m1!],
        payloadBytes: 12,
        payloadSha256: 'ff00',
      },
      'AGENT BODY\n',
    );
    expect(script).toContain("FF_ACTION='install'\n");
    expect(script).toContain('FF_PAYLOAD_BYTES=12\n');
    expect(script).toContain("FF_KIND=('master')\n");
    expect(script.endsWith('AGENT BODY\n')).toBe(true);
    expect(redact(script, TOKEN)).not.toContain(TOKEN);
    expect(redact(script, TOKEN)).toContain('FAASFLOW_TOKEN=<token>');
  });

  it('parses the report lines the agent prints', () => {
    expect(parseReport('@change release 0.1.0-abc unpacked')).toEqual({
      verb: 'change',
      text: 'release 0.1.0-abc unpacked',
    });
    expect(parseReport('@fact node /usr/bin/node 20.20.2')).toEqual({
      verb: 'fact',
      key: 'node',
      value: '/usr/bin/node 20.20.2',
    });
    expect(parseReport('@state master m1 running 42 0.1.0-abc ok 3 new-config')).toEqual({
      verb: 'state',
      kind: 'master',
      name: 'm1',
      running: true,
      pid: '42',
      release: '0.1.0-abc',
      health: 'ok',
      workers: '3',
      freshness: 'new-config',
    });
    expect(parseReport('plain output')).toBeNull();
  });
});

describe('dry run', () => {
  const agent = readFileSync(join(repoRoot(), 'deploy', 'hosts', 'agent.sh'), 'utf8');
  const release = {
    id: '0.1.0-0123456789ab',
    path: '/nonexistent.tgz',
    sizeBytes: 1_000_000,
    sha256: 'ab'.repeat(32),
  };

  async function dryRun(
    command: Command,
    printScript = false,
  ): Promise<{ code: number; lines: string[] }> {
    const lines: string[] = [];
    const code = await runCommand(command, {
      inv,
      agent,
      release: () => Promise.resolve(release),
      out: (l) => lines.push(l),
      dryRun: true,
      printScript,
      parallel: 1,
      waitS: 5,
    });
    return { code, lines };
  }

  it('install prints, per host, the transport command for the probe and the install', async () => {
    const { code, lines } = await dryRun('install');
    expect(code).toBe(0);
    expect(lines).toEqual([
      `release ${release.id} (1.0 MB, sha256 ${release.sha256})`,
      '[m1+w1] ssh -p 2222 ops@10.0.0.1 sudo bash -s  # probe',
      '[m1+w1] ssh -p 2222 ops@10.0.0.1 sudo bash -s  # install: master m1, worker w1 (+ release upload when missing)',
      '[w2] ssh -p 2222 10.0.0.2 sudo bash -s  # probe',
      '[w2] ssh -p 2222 10.0.0.2 sudo bash -s  # install: worker w2 (+ release upload when missing)',
    ]);
  });

  it('start orders the master first, then the workers, then waits for them to register', async () => {
    const { lines } = await dryRun('start');
    expect(lines.map((l) => l.replace(/^.*# /, ''))).toEqual([
      'start: master m1',
      'start: worker w1',
      'start: worker w2',
      'await-workers',
    ]);
  });

  it('stop orders the workers first and the master last', async () => {
    const { lines } = await dryRun('stop');
    expect(lines.map((l) => l.replace(/^.*# /, ''))).toEqual([
      'stop: worker w1',
      'stop: worker w2',
      'stop: master m1',
    ]);
  });

  it('prints the scripts with the token redacted', async () => {
    const { lines } = await dryRun('status', true);
    const text = lines.join('\n');
    expect(text).toContain("FF_ACTION='status'");
    expect(text).toContain('FAASFLOW_TOKEN=<token>');
    expect(text).not.toContain(TOKEN);
  });
});
