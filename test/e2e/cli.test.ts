/**
 * The built `faasflow` CLI as a user runs it (node dist/deploy/cli/main.js; `npm run build`
 * first):
 * - `--help` of every command and subcommand exits 0 and names each of its options;
 * - `up --help` prints help and starts nothing (the port it names stays closed);
 * - an unknown option or a missing argument exits 2 with commander's message and a hint;
 * - `validate` of an invalid file exits 2, and `--json` prints `{ valid: false, errors }`;
 * - `validate` of a workflow that asks for sharding prints the shardability estimate;
 * - a master that cannot be reached exits 3 and says so; a bad master option exits 2.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { distRoot } from '../../deploy/local-cluster.js';
import { buildProgram, commandPath, walk } from '../../deploy/cli/program.js';

const tmp = mkdtempSync(join(tmpdir(), 'faasflow-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(distRoot(), 'deploy', 'cli', 'main.js'), ...args],
      // The timeout ends a CLI that wrongly stays up (e.g. `up --help` starting a cluster).
      {
        timeout: args[0] === 'bench' ? 110_000 : 15_000,
        env: { ...process.env, FAASFLOW_MASTER_URL: '', ...env },
      },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A loopback port nothing listens on (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const program = buildProgram(() => undefined, 'test');
const commands = walk(program)
  .filter((c) => c.name() !== 'help')
  .map((c) => ({
    path: commandPath(c).split(' ').slice(1),
    options: c.options.map((o) => o.long!),
  }));

describe('faasflow --help', () => {
  it.each(commands.map((c) => [c.path.join(' ') || '(none)', c] as const))(
    'faasflow %s --help exits 0 and lists its options',
    async (_name, c) => {
      const r = await cli([...c.path, '--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Usage: faasflow/);
      for (const flag of c.options) expect(r.stdout).toContain(flag);
    },
  );

  it('faasflow master --help and worker --help list every option of the config schemas', async () => {
    const { MasterConfigSchema } = await import('../../master/config.js');
    const { WorkerConfigSchema } = await import('../../worker/config.js');
    const kebab = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
    for (const [cmd, schema] of [
      ['master', MasterConfigSchema],
      ['worker', WorkerConfigSchema],
    ] as const) {
      const r = await cli([cmd, '--help']);
      expect(r.code).toBe(0);
      for (const key of Object.keys(schema.properties)) {
        expect(r.stdout).toContain(`--${kebab(key)} `);
        expect(r.stdout).toMatch(
          new RegExp(
            `env:\\s+FAASFLOW_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}\\b`,
          ),
        );
      }
    }
  });

  it('faasflow up --help prints help and starts nothing', async () => {
    const port = await freePort();
    const r = await cli(['up', '--port', String(port), '--demo', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--workers <n>');
    expect(r.stdout).not.toContain('faasflow: master');
    expect(await listening(port)).toBe(false);
  });
});

describe('faasflow usage errors', () => {
  it.each(
    commands.filter((c) => c.path.length > 0).map((c) => [c.path.join(' '), c.path] as const),
  )('faasflow %s with an unknown option exits 2 and points at --help', async (_name, path) => {
    const r = await cli([...path, '--definitely-not-an-option']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--definitely-not-an-option'");
    expect(r.stderr).toContain(`(run "faasflow ${path.join(' ')} --help" for the usage)`);
    expect(r.stdout).toBe('');
  });

  it('a missing argument, a bad value and no command at all exit 2', async () => {
    const missing = await cli(['invoke']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'name'");
    const bad = await cli(['up', '--workers', 'many']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("argument 'many' is invalid");
    const none = await cli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: faasflow');
  });

  it('faasflow master with a bad option value exits 2 listing every problem, before starting', async () => {
    const r = await cli(['master', '--port', '99999', '--retrain-every', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('port:');
    expect(r.stderr).toContain('retrainEvery:');
  });
});

describe('faasflow validate', () => {
  const bad = join(tmp, 'bad.yaml');
  writeFileSync(bad, 'name: bad\nfunctions:\n  a: { handler: a.js }\nflow:\n  - call: missing\n');

  it('exits 2 on an invalid workflow and names the problem', async () => {
    const r = await cli(['validate', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/problem/);
  });

  it('--json prints { valid: false, errors } on stdout', async () => {
    const r = await cli(['validate', bad, '--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { valid: boolean; errors: { message: string }[] };
    expect(doc.valid).toBe(false);
    expect(doc.errors.length).toBeGreaterThan(0);
  });

  it('--json of a missing file is { valid: false } with exit 2 too', async () => {
    const r = await cli(['validate', join(tmp, 'nope.yaml'), '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false });
  });

  it('a valid example exits 0 and --json says valid: true', async () => {
    const example = join(distRoot(), '..', 'deploy', 'examples', 'hello.yaml');
    const r = await cli(['validate', example, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: true, name: 'hello' });
  });

  it('shows the shardability estimate of a workflow that asks for sharding', async () => {
    const example = join(
      distRoot(),
      '..',
      'deploy',
      'examples',
      'sharding',
      'transcode-sharded.yaml',
    );
    const json = await cli(['validate', example, '--workers', '3', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const s = (JSON.parse(json.stdout) as { sharding: { foreach: { estimate: unknown }[] } })
      .sharding;
    expect(s.foreach[0]!.estimate).toMatchObject({
      shards: 3,
      pays: true,
      demandSource: 'declared',
    });
    const text = await cli(['validate', example, '--workers', '1']);
    expect(text.stdout).toMatch(
      /foreach foreach \(width 64, size auto\): 1 shard, .*nothing to shard over/,
    );
    expect(text.stdout).toMatch(/function lookup: keyed by \$\.userId/);
  });
});

describe('an unreachable master', () => {
  it.each([['workers'], ['status', 'inv_x'], ['invoke', 'hello', '--json'], ['models', 'x']])(
    'faasflow %s exits 3 with a clear message',
    async (...args) => {
      const port = await freePort();
      const r = await cli([...args, '--master', `http://127.0.0.1:${port}`]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`cannot reach the master at http://127.0.0.1:${port}`);
      expect(r.stdout).toBe('');
    },
  );

  it('FAASFLOW_MASTER_URL is used when --master is not given', async () => {
    const port = await freePort();
    const r = await cli(['workers'], { FAASFLOW_MASTER_URL: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
  });
});

describe('the shipped CLI without test code', () => {
  it('dist/ holds no test/ tree, and bench partition --smoke --json prints its report', async () => {
    expect(existsSync(join(distRoot(), 'test'))).toBe(false);
    const out = join(tmp, 'reports');
    const r = await cli(['bench', 'partition', '--smoke', '--json', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as { suite: string; figures: { rows: unknown[] } };
    expect(report.suite).toBe('partition');
    expect(report.figures.rows.length).toBeGreaterThan(0);
    // The tables went to stderr, with the report's path.
    expect(r.stderr).toContain(`report: ${out}`);
  }, 120_000);
});
