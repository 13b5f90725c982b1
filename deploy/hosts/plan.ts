/**
 * What runs where (pure): each inventory entry becomes a component with its environment file
 * (the FAASFLOW_* settings of master/config.ts and worker/config.ts) and its systemd unit, and
 * components are grouped by the host (ssh destination) that runs them.
 *
 * The layout on a host, under `installDir`:
 *   releases/<id>/   one unpacked release each (never modified once unpacked)
 *   current          → releases/<id>, switched atomically by install
 *   etc/<kind>-<name>.env   mode 600, holds the token
 *   log/, run/       the supervisor fallback's logs and pid files (no systemd)
 *   data/worker-<name>/     a worker's deployed handler files
 */
import { tokenOf, type HostEntry, type Inventory, type WorkerEntry } from './inventory.js';

export type ComponentKind = 'master' | 'worker';

export interface Component {
  kind: ComponentKind;
  name: string;
  /** Inventory line, for messages. */
  line: number;
  unitName: string;
  envFile: string;
  env: [string, string][];
  /** systemd unit text; `@NODE@` is replaced on the host by the resolved node path. */
  unit: string;
  healthUrl: string;
}

export interface HostPlan {
  /** ssh destination. */
  dest: string;
  /** For messages: the names of its components. */
  label: string;
  components: Component[];
}

export function masterUrl(inv: Inventory): string {
  return `http://${inv.master.address}:${inv.master.port}`;
}

export function componentsOf(inv: Inventory): Component[] {
  const token = tokenOf(inv);
  const c = inv.cluster;
  const common = (e: HostEntry): [string, string][] => [
    ['FAASFLOW_HOST', e.bind],
    ['FAASFLOW_PORT', String(e.port)],
    ['FAASFLOW_ADVERTISE_URL', `http://${e.address}:${e.port}`],
    ['FAASFLOW_TOKEN', token],
    ['LOG_LEVEL', c.logLevel],
  ];
  const master = component(inv, 'master', inv.master, [
    ...common(inv.master),
    ['FAASFLOW_MODE', c.mode],
    ['FAASFLOW_PLACEMENT', c.placement],
    // A master on a non-loopback address must be told about API keys; the hosts deployment
    // keeps them off (the cluster token guards master-worker traffic). docs/guides/tenants.md.
    ['FAASFLOW_AUTH', 'off'],
    // The journal and the master's state: Redis when the cluster has it, else an lmdb data dir
    // outside the release folders (which upgrades replace).
    ...(c.redisUrl === null ? [] : ([['FAASFLOW_REDIS_URL', c.redisUrl]] as [string, string][])),
    ['FAASFLOW_DATA_DIR', `${c.installDir}/data/master`],
  ]);
  const workers = inv.workers.map((w: WorkerEntry) =>
    component(inv, 'worker', w, [
      ['FAASFLOW_WORKER_ID', w.name],
      ...common(w),
      ['FAASFLOW_MASTER_URL', masterUrl(inv)],
      ...(c.redisUrl === null ? [] : ([['FAASFLOW_REDIS_URL', c.redisUrl]] as [string, string][])),
      ['FAASFLOW_RUNTIME', c.sandbox],
      ['FAASFLOW_DATA_DIR', `${c.installDir}/data/worker-${w.name}`],
      ...optional('FAASFLOW_CPU', w.cpu),
      ...optional('FAASFLOW_MEMORY_MB', w.memoryMb),
      ...optional('FAASFLOW_MEMORY_QUOTA_MB', w.memoryQuotaMb),
    ]),
  );
  return [master, ...workers];
}

/** Components grouped by host, in inventory order (the master's host first). */
export function planHosts(inv: Inventory): HostPlan[] {
  const byDest = new Map<string, Component[]>();
  const entries: HostEntry[] = [inv.master, ...inv.workers];
  componentsOf(inv).forEach((comp, i) => {
    const dest = entries[i]!.ssh;
    byDest.set(dest, [...(byDest.get(dest) ?? []), comp]);
  });
  return [...byDest].map(([dest, components]) => ({
    dest,
    label: components.map((x) => x.name).join('+'),
    components,
  }));
}

/** The transport command for one host: `ssh_command` with `{dest}` filled in, then `bash -s`. */
export function transportArgv(inv: Inventory, dest: string): string[] {
  return [...inv.cluster.sshCommand.map((w) => (w === '{dest}' ? dest : w)), 'bash', '-s'];
}

export function envFileText(c: Component): string {
  return `# faasflow ${c.kind} ${c.name}: written by faasflow-hosts install; edit the inventory instead\n${c.env.map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

function component(
  inv: Inventory,
  kind: ComponentKind,
  e: HostEntry,
  env: [string, string][],
): Component {
  const dir = inv.cluster.installDir;
  const envFile = `${dir}/etc/${kind}-${e.name}.env`;
  const unitName = `faasflow-${kind}-${e.name}`;
  const dockerGroup =
    kind === 'worker' && inv.cluster.sandbox === 'docker' ? ['SupplementaryGroups=docker'] : [];
  const unit = [
    '[Unit]',
    `Description=faasflow ${kind} ${e.name}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    `User=${inv.cluster.serviceUser}`,
    ...dockerGroup,
    `EnvironmentFile=${envFile}`,
    `WorkingDirectory=${dir}/current`,
    `ExecStart=@NODE@ ${dir}/current/dist/${kind}/main.js`,
    'Restart=on-failure',
    'RestartSec=2',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=20',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return {
    kind,
    name: e.name,
    line: e.line,
    unitName,
    envFile,
    env,
    unit,
    // Checked on the host itself, so through the address it listens on.
    healthUrl: `http://${e.bind === '0.0.0.0' ? '127.0.0.1' : e.bind}:${e.port}/healthz`,
  };
}

function optional(key: string, value: number | null): [string, string][] {
  return value === null ? [] : [[key, String(value)]];
}
