/**
 * A local cluster: one master and N workers as separate Node processes on this machine, for
 * `faasflow up`, the end-to-end tests and the benchmarks. Readiness comes from the master's
 * /healthz (all workers registered); stop sends SIGTERM, then SIGKILL after a grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LocalClusterOptions {
  workers: number;
  /** Master port; 0 picks a free one. */
  port?: number;
  redisUrl?: string;
  runtime?: 'process' | 'docker';
  mode?: 'worker' | 'master';
  placement?: 'greedy-jsq' | 'composition-jsq' | 'jsq' | 'round-robin' | 'hash';
  /** Where the processes' logs go (one file each). */
  logDir: string;
  /** Readiness is read from the logs, so levels above `info` are raised to `info`. */
  logLevel?: string;
  /** Extra environment for every process (FAASFLOW_* settings). */
  env?: Record<string, string>;
  /**
   * The master's data dir (its lmdb store). Default `<logDir>/master-data`, so a cluster starts
   * with an empty catalogue unless told otherwise; `masterFlags` may still pick another store
   * (`--store=redis`), since later flags win.
   */
  dataDir?: string;
  /** Extra flags for the master. */
  masterFlags?: string[];
  /** Extra flags per worker index. */
  workerFlags?: (index: number) => string[];
  /** Extra environment per process (`master`, `worker-<i>`), e.g. FAASFLOW_CRASH_AT. */
  processEnv?: (name: string) => Record<string, string>;
  readyTimeoutMs?: number;
  /**
   * A command prefix per process (`master`, `worker-<i>`) that runs it elsewhere, e.g.
   * `['ip', 'netns', 'exec', 'ns1']` (it must exec the program, so signals reach it).
   */
  launcher?: (name: string) => string[];
}

export interface ClusterProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
}

/** The compiled entry points, whether running from dist/ or from TypeScript sources. */
export function distRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // Compiled: dist/deploy/local-cluster.js → dist. Sources: deploy/local-cluster.ts → <repo>/dist.
  const compiled = resolve(here, '..');
  if (existsSync(join(compiled, 'master', 'main.js'))) return compiled;
  const fromSource = resolve(here, '..', 'dist');
  if (existsSync(join(fromSource, 'master', 'main.js'))) return fromSource;
  throw new Error(
    `compiled master not found under ${compiled} or ${fromSource}: run \`npm run build\` first`,
  );
}

/** The environment children start with: ours minus what slows every Node start. */
function childEnv(extra: Record<string, string> | undefined, logLevel: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: logLevel, ...extra };
  delete env['NODE_EXTRA_CA_CERTS'];
  delete env['NODE_OPTIONS'];
  delete env['VITEST'];
  return env;
}

export class LocalCluster {
  readonly processes: ClusterProcess[] = [];
  masterUrl = '';
  private stopping: Promise<void> | null = null;
  private readonly specs = new Map<string, { script: string; flags: string[]; logLevel: string }>();
  private masterFlags: string[] = [];
  private logLevel = 'info';

  constructor(private readonly o: LocalClusterOptions) {}

  async start(): Promise<this> {
    mkdirSync(this.o.logDir, { recursive: true });
    const dist = distRoot();
    const requested = this.o.logLevel ?? process.env['LOG_LEVEL'] ?? 'info';
    const logLevel = ['trace', 'debug', 'info'].includes(requested) ? requested : 'info';
    const port = this.o.port ?? 0;
    this.logLevel = logLevel;
    this.masterFlags = [
      `--mode=${this.o.mode ?? 'worker'}`,
      `--placement=${this.o.placement ?? 'greedy-jsq'}`,
      '--store=lmdb',
      `--data-dir=${this.o.dataDir ?? join(this.o.logDir, 'master-data')}`,
      ...(this.o.masterFlags ?? []),
    ];
    const master = this.spawn(
      'master',
      join(dist, 'master', 'main.js'),
      [`--port=${port}`, ...this.masterFlags],
      logLevel,
    );
    this.masterUrl = await this.waitForListening(master, 'master listening');
    // A restarted master comes back on the same port, where its workers look for it.
    const bound = new URL(this.masterUrl).port;
    this.specs.get('master')!.flags = [`--port=${bound}`, ...this.masterFlags];
    for (let i = 1; i <= this.o.workers; i++) {
      const flags = [
        `--worker-id=w${i}`,
        `--master-url=${this.masterUrl}`,
        `--runtime=${this.o.runtime ?? 'process'}`,
        ...(this.o.workerFlags?.(i) ?? []),
      ];
      if (this.o.redisUrl) flags.push(`--redis-url=${this.o.redisUrl}`);
      this.spawn(`worker-${i}`, join(dist, 'worker', 'main.js'), flags, logLevel);
    }
    await this.waitForWorkers(this.o.workers, this.o.readyTimeoutMs ?? 30_000);
    return this;
  }

  private spawn(
    name: string,
    script: string,
    flags: string[],
    logLevel: string,
    env: Record<string, string> = this.o.processEnv?.(name) ?? {},
  ): ClusterProcess {
    this.specs.set(name, { script, flags, logLevel });
    const logFile = join(this.o.logDir, `${name}.log`);
    const out = createWriteStream(logFile, { flags: 'a' });
    const [command, ...prefix] = [...(this.o.launcher?.(name) ?? []), process.execPath];
    const child = spawn(command, [...prefix, script, ...flags], {
      env: { ...childEnv(this.o.env, logLevel), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    const p = { name, child, logFile };
    const at = this.processes.findIndex((x) => x.name === name);
    if (at === -1) this.processes.push(p);
    else this.processes[at] = p;
    return p;
  }

  /**
   * Starts a process of the cluster again, with the flags it had (the master on the port it
   * had) and `env` instead of its extra environment; resolves once it listens.
   */
  async restart(name: string, env: Record<string, string> = {}): Promise<string> {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`no process ${name} in this cluster`);
    await this.kill(name, 'SIGKILL', 0);
    const p = this.spawn(name, spec.script, spec.flags, spec.logLevel, env);
    return this.waitForListening(p, name === 'master' ? 'master listening' : 'worker listening');
  }

  /** Whether the process has exited (by itself, a crash point, or a kill). */
  exited(name: string): boolean {
    const p = this.processes.find((x) => x.name === name);
    return p === undefined || p.child.exitCode !== null || p.child.signalCode !== null;
  }

  /** Reads the process's log lines until one with `msg` and a `url`. */
  private waitForListening(p: ClusterProcess, msg: string): Promise<string> {
    return new Promise((resolveUrl, reject) => {
      let buffer = '';
      const timer = setTimeout(
        () => reject(new Error(`${p.name} did not start within 15 s; see ${p.logFile}`)),
        15_000,
      );
      const onData = (chunk: Buffer): void => {
        buffer += chunk.toString('utf8');
        for (const line of buffer.split('\n')) {
          if (!line.includes(msg)) continue;
          try {
            const rec = JSON.parse(line) as { url?: string };
            if (rec.url) {
              clearTimeout(timer);
              p.child.stdout?.off('data', onData);
              resolveUrl(rec.url);
              return;
            }
          } catch {
            // partial line; wait for more
          }
        }
      };
      p.child.stdout?.on('data', onData);
      p.child.once('exit', (code) => {
        clearTimeout(timer);
        reject(
          new Error(`${p.name} exited with code ${code} before it was ready; see ${p.logFile}`),
        );
      });
    });
  }

  async waitForWorkers(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const res = await fetch(`${this.masterUrl}/healthz`);
        const body = (await res.json()) as { workers?: number };
        if ((body.workers ?? 0) >= count) return;
      } catch {
        // not up yet
      }
      const dead = this.processes.find((p) => p.child.exitCode !== null);
      if (dead)
        throw new Error(
          `${dead.name} exited with code ${dead.child.exitCode}; see ${dead.logFile}`,
        );
      await sleep(50);
    }
    throw new Error(
      `only some of ${count} workers registered within ${timeoutMs} ms; logs in ${this.o.logDir}`,
    );
  }

  /**
   * Starts the master again, after it exited (`kill('master', 'SIGKILL')`), with the same flags
   * and on the same port, so the workers find it where they left it. Resolves once it listens;
   * the workers re-register by themselves (`waitForWorkers`).
   */
  async restartMaster(): Promise<void> {
    const at = this.processes.findIndex((p) => p.name === 'master');
    const old = this.processes[at];
    if (old && old.child.exitCode === null && old.child.signalCode === null)
      throw new Error('the master is still running; kill it first');
    if (at !== -1) this.processes.splice(at, 1);
    const port = new URL(this.masterUrl).port;
    const master = this.spawn(
      'master',
      join(distRoot(), 'master', 'main.js'),
      [`--port=${port}`, ...this.masterFlags],
      this.logLevel,
    );
    // spawn appended it; the master goes first again so `stop` keeps its order.
    this.processes.unshift(this.processes.pop()!);
    await this.waitForListening(master, 'master listening');
  }

  /** Stops one process (SIGTERM, then SIGKILL after `graceMs`). */
  async kill(name: string, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> {
    const p = this.processes.find((x) => x.name === name);
    if (p) await stopChild(p.child, signal, graceMs);
  }

  /**
   * Workers first (each drains, leaves the cluster and removes its sandboxes), then the master;
   * SIGKILL only for a process still running after `graceMs`.
   */
  stop(graceMs = 30_000): Promise<void> {
    this.stopping ??= (async () => {
      const [master, ...workers] = this.processes;
      await Promise.all(workers.map((p) => stopChild(p.child, 'SIGTERM', graceMs)));
      if (master) await stopChild(master.child, 'SIGTERM', graceMs);
    })();
    return this.stopping;
  }
}

async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
