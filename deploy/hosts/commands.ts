/**
 * install | start | stop | upgrade | status over every host of an inventory, in the order that
 * keeps the cluster consistent: the master starts first and stops last; workers start in
 * parallel, and an upgrade restarts — one host at a time, each back to healthy before the next —
 * only the components that run an older release or configuration than the one installed. Hosts run in parallel (at most `parallel` at once) where order does not matter; one
 * host's failure is reported with its name and does not stop the others of the same step.
 */
import { tokenOf, type Inventory } from './inventory.js';
import { planHosts, transportArgv, type Component, type HostPlan } from './plan.js';
import type { Release } from './release.js';
import { agentScript, redact, type AgentAction, type AgentRequest } from './script.js';
import { HostError, runAgent, type AgentResult, type ReportLine } from './transport.js';

export type Command = 'install' | 'start' | 'stop' | 'upgrade' | 'status';

export interface CommandContext {
  inv: Inventory;
  /** The text of agent.sh. */
  agent: string;
  release: () => Promise<Release>;
  out: (line: string) => void;
  dryRun: boolean;
  /** Print the script sent to each host (token redacted) in dry runs. */
  printScript: boolean;
  parallel: number;
  /** How long a component may take to become healthy, seconds. */
  waitS: number;
}

/** One command's run: the context and what the hosts reported changing. */
type Run = CommandContext & { tally: { changes: number } };

/** Runs `command`; resolves with the exit code (0 ok, 1 failures, 3 status: not all healthy). */
export async function runCommand(command: Command, context: CommandContext): Promise<number> {
  const ctx: Run = { ...context, tally: { changes: 0 } };
  const hosts = planHosts(ctx.inv);
  switch (command) {
    case 'install':
      return report(ctx, await install(ctx, hosts));
    case 'start':
      return report(ctx, await start(ctx, hosts));
    case 'stop':
      return report(ctx, await stop(ctx, hosts));
    case 'upgrade': {
      const failures = await install(ctx, hosts);
      if (failures.length > 0) return report(ctx, failures);
      return report(ctx, await restartRolling(ctx, hosts));
    }
    case 'status':
      return status(ctx, hosts);
  }
}

function report(ctx: Run, failures: HostError[]): number {
  for (const f of failures) ctx.out(`FAILED ${f.message}`);
  if (!ctx.dryRun && failures.length === 0)
    ctx.out(
      ctx.tally.changes === 0 ? 'done: nothing changed' : `done: ${ctx.tally.changes} change(s)`,
    );
  return failures.length > 0 ? 1 : 0;
}

async function install(ctx: Run, hosts: HostPlan[]): Promise<HostError[]> {
  const release = await ctx.release();
  ctx.out(
    `release ${release.id} (${(release.sizeBytes / 1e6).toFixed(1)} MB, sha256 ${release.sha256})`,
  );
  return eachHost(ctx, hosts, async (h) => {
    const probe = await call(ctx, h, 'probe', [], { release: release.id });
    const present = probe.reports.some(
      (r) => r.verb === 'fact' && r.key === 'release' && r.value === 'present',
    );
    await call(
      ctx,
      h,
      'install',
      h.components,
      present || ctx.dryRun
        ? { release: release.id }
        : { release: release.id, payloadBytes: release.sizeBytes, payloadSha256: release.sha256 },
      present ? null : release.path,
    );
  });
}

async function start(ctx: Run, hosts: HostPlan[]): Promise<HostError[]> {
  const failures = await eachHost(ctx, only(hosts, 'master'), (h) =>
    call(ctx, h, 'start', h.components).then(() => undefined),
  );
  if (failures.length > 0) return failures;
  failures.push(
    ...(await eachHost(ctx, only(hosts, 'worker'), (h) =>
      call(ctx, h, 'start', h.components).then(() => undefined),
    )),
  );
  if (failures.length > 0) return failures;
  return awaitWorkers(ctx, hosts);
}

async function stop(ctx: Run, hosts: HostPlan[]): Promise<HostError[]> {
  const failures = await eachHost(ctx, only(hosts, 'worker'), (h) =>
    call(ctx, h, 'stop', h.components).then(() => undefined),
  );
  failures.push(
    ...(await eachHost(ctx, only(hosts, 'master'), (h) =>
      call(ctx, h, 'stop', h.components).then(() => undefined),
    )),
  );
  return failures;
}

/** Refreshes the master, then the workers one host at a time. */
async function restartRolling(ctx: Run, hosts: HostPlan[]): Promise<HostError[]> {
  for (const h of [...only(hosts, 'master'), ...only(hosts, 'worker')]) {
    const failures = await eachHost(ctx, [h], (x) =>
      call(ctx, x, 'refresh', x.components).then(() => undefined),
    );
    if (failures.length > 0) return failures;
  }
  return awaitWorkers(ctx, hosts);
}

async function awaitWorkers(ctx: Run, hosts: HostPlan[]): Promise<HostError[]> {
  const masterHost = only(hosts, 'master')[0]!;
  const master = masterHost.components[0]!;
  return eachHost(ctx, [masterHost], (h) =>
    call(ctx, h, 'await-workers', [], {
      masterHealthUrl: master.healthUrl,
      expectWorkers: ctx.inv.workers.length,
    }).then(() => undefined),
  );
}

async function status(ctx: Run, hosts: HostPlan[]): Promise<number> {
  const header = ['host', 'component', 'state', 'pid', 'release', 'health', 'workers'];
  const rowsByHost = new Map<HostPlan, string[][]>();
  let healthy = true;
  const failures = await eachHost(ctx, hosts, async (h) => {
    const result = await call(ctx, h, 'status', h.components, {}, null, false);
    const rows: string[][] = [];
    for (const r of result.reports) {
      if (r.verb !== 'state') continue;
      const expected = ctx.inv.workers.length;
      const workersOk = r.kind !== 'master' || r.workers === String(expected);
      if (!r.running || r.health !== 'ok' || !workersOk) healthy = false;
      const release =
        r.freshness === 'old-release' || r.freshness === 'new-config'
          ? `${r.release} (${r.freshness}: run upgrade)`
          : r.release;
      rows.push([
        h.dest,
        `${r.kind} ${r.name}`,
        r.running ? 'running' : 'stopped',
        r.pid,
        release,
        r.health,
        r.kind === 'master' ? `${r.workers}/${expected}` : '',
      ]);
    }
    rowsByHost.set(h, rows);
  });
  if (!ctx.dryRun)
    for (const line of table([header, ...hosts.flatMap((h) => rowsByHost.get(h) ?? [])]))
      ctx.out(line);
  for (const f of failures) ctx.out(`FAILED ${f.message}`);
  return failures.length > 0 ? 1 : healthy ? 0 : 3;
}

function only(hosts: HostPlan[], kind: Component['kind']): HostPlan[] {
  return hosts
    .map((h) => ({ ...h, components: h.components.filter((c) => c.kind === kind) }))
    .filter((h) => h.components.length > 0);
}

async function call(
  ctx: Run,
  h: HostPlan,
  action: AgentAction,
  components: Component[],
  extra: Partial<AgentRequest> = {},
  payloadPath: string | null = null,
  echo = true,
): Promise<AgentResult> {
  const c = ctx.inv.cluster;
  const request: AgentRequest = {
    action,
    installDir: c.installDir,
    serviceUser: c.serviceUser,
    node: c.node,
    init: c.init,
    release: '',
    components,
    waitS: ctx.waitS,
    ...extra,
  };
  const argv = transportArgv(ctx.inv, h.dest);
  const script = agentScript(request, ctx.agent);
  if (ctx.dryRun) {
    const what = components.map((x) => `${x.kind} ${x.name}`).join(', ');
    ctx.out(
      `[${h.label}] ${argv.join(' ')}  # ${action}${what ? `: ${what}` : ''}${payloadPath ? ' (+ release upload when missing)' : ''}`,
    );
    if (ctx.printScript) ctx.out(redact(script, tokenOf(ctx.inv)).replace(/^/gm, '    '));
    return { reports: [], other: [], stderr: '' };
  }
  const timeoutMs = (action === 'install' ? 600 : ctx.waitS * components.length + 60) * 1000;
  const result = await runAgent(h.label, argv, script, payloadPath, timeoutMs);
  ctx.tally.changes += result.reports.filter((r) => r.verb === 'change').length;
  if (echo) for (const r of result.reports) printReport(ctx, h, r);
  return result;
}

function printReport(ctx: Run, h: HostPlan, r: ReportLine): void {
  switch (r.verb) {
    case 'change':
      return ctx.out(`[${h.label}] + ${r.text}`);
    case 'ok':
      return ctx.out(`[${h.label}] = ${r.text}`);
    case 'fact':
      return ctx.out(`[${h.label}]   ${r.key}: ${r.value}`);
    case 'error':
      return ctx.out(`[${h.label}] ! ${r.text}`);
    case 'state':
      return;
  }
}

/** Runs `fn` for every host, at most `ctx.parallel` at once; returns the failures. */
async function eachHost(
  ctx: Run,
  hosts: HostPlan[],
  fn: (h: HostPlan) => Promise<void>,
): Promise<HostError[]> {
  const failures: HostError[] = [];
  const queue = [...hosts];
  const workers = Array.from({ length: Math.min(ctx.parallel, queue.length) }, async () => {
    for (let h = queue.shift(); h; h = queue.shift()) {
      try {
        await fn(h);
      } catch (err) {
        failures.push(
          err instanceof HostError ? err : new HostError(h.label, (err as Error).message),
        );
      }
    }
  });
  await Promise.all(workers);
  return failures;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}
