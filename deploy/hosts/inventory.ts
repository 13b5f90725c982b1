/**
 * The cluster inventory: an INI-like text file (see inventory.example) describing the master,
 * the workers with their capacity, Redis, the sandbox kind and the cluster token.
 *
 * `parseInventory` is pure and reports every problem at once, each with its line and what would
 * be valid; nothing runs on any host until the inventory is clean. Every value that ends up in an
 * environment file or a shell command is held to a character set that needs no quoting.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  parseHostLine,
  parseSettings,
  type InventoryProblem,
  type RawHost,
  type RawSetting,
} from './inventory-lines.js';

export type { InventoryProblem };

export type Sandbox = 'process' | 'docker';
export type InitSystem = 'auto' | 'systemd' | 'none';

export interface ClusterSettings {
  /** The cluster token, or where to read it (resolved by `loadInventory`). */
  token: { kind: 'inline'; value: string } | { kind: 'file'; path: string; line: number };
  redisUrl: string | null;
  sandbox: Sandbox;
  installDir: string;
  serviceUser: string;
  /** The transport, `{dest}` standing for a host's ssh destination. */
  sshCommand: string[];
  /** Node on the hosts: a bare name looked up in PATH, or an absolute path. */
  node: string;
  logLevel: string;
  mode: 'worker' | 'master';
  placement: string;
  /** `auto`: systemd when it runs as init, else the supervisor fallback. */
  init: InitSystem;
}

export interface HostEntry {
  name: string;
  line: number;
  /** What the other components connect to. */
  address: string;
  /** What the component listens on. */
  bind: string;
  port: number;
  /** ssh destination (`user@host`, or an alias from ~/.ssh/config). */
  ssh: string;
}

export interface WorkerEntry extends HostEntry {
  cpu: number | null;
  memoryMb: number | null;
  memoryQuotaMb: number | null;
}

export interface Inventory {
  file: string;
  cluster: ClusterSettings;
  master: HostEntry;
  workers: WorkerEntry[];
}

export class InventoryError extends Error {
  override readonly name = 'InventoryError';
  constructor(
    readonly file: string,
    readonly problems: InventoryProblem[],
  ) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${file}:${p.line}: ${p.message}`).join('\n'),
    );
  }
}

export const DEFAULT_SSH_COMMAND = 'ssh -o BatchMode=yes -o ConnectTimeout=10 {dest}';
const TOKEN = /^[A-Za-z0-9._~+/=-]{8,512}$/;
const MODES = ['worker', 'master'] as const;
const PLACEMENTS = ['greedy-jsq', 'jsq', 'round-robin', 'hash'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const SECTIONS = ['cluster', 'master', 'workers'] as const;
type Section = (typeof SECTIONS)[number];

/** Parses inventory text; throws an InventoryError listing every problem. */
export function parseInventory(text: string, file = 'inventory'): Inventory {
  const problems: InventoryProblem[] = [];
  const settings: RawSetting[] = [];
  const masters: RawHost[] = [];
  const workers: RawHost[] = [];
  let section: Section | null = null;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/(^|\s)#.*$/, '').trim();
    if (content === '') return;
    const header = /^\[(.*)\]$/.exec(content);
    if (header) {
      const name = header[1]!.trim();
      if ((SECTIONS as readonly string[]).includes(name)) section = name as Section;
      else {
        section = null;
        problems.push({
          line,
          message: `unknown section [${name}]; valid sections: ${SECTIONS.map((s) => `[${s}]`).join(', ')}`,
        });
      }
      return;
    }
    switch (section) {
      case null:
        problems.push({
          line,
          message: `"${content}" is outside a section; start with [cluster], [master] or [workers]`,
        });
        return;
      case 'cluster':
        settings.push(...parseSettings(content, line, problems));
        return;
      case 'master':
      case 'workers': {
        const host = parseHostLine(content, line, section, problems);
        if (host) (section === 'master' ? masters : workers).push(host);
        return;
      }
    }
  });
  const cluster = clusterSettings(settings, problems);
  const master = hostEntries(masters, 'master', problems)[0];
  if (masters.length === 0)
    problems.push({
      line: 1,
      message: 'no master: add one line under [master], e.g. m1 address=10.0.0.1',
    });
  if (masters.length > 1)
    problems.push({
      line: masters[1]!.line,
      message: `[master] has ${masters.length} entries; exactly one master is supported`,
    });
  const workerEntries = hostEntries(workers, 'workers', problems).map((h, i) =>
    workerEntry(h, workers[i]!),
  );
  if (workers.length === 0)
    problems.push({
      line: 1,
      message:
        'no workers: add lines under [workers], e.g. w1 address=10.0.0.2 cpu=8 memory_mb=16384',
    });
  checkEndpoints(master ? [master, ...workerEntries] : workerEntries, problems);
  if (problems.length > 0 || !cluster || !master) {
    throw new InventoryError(
      file,
      problems.sort((a, b) => a.line - b.line),
    );
  }
  return { file, cluster, master, workers: workerEntries };
}

/** Reads and parses an inventory file, and the token file it names. */
export function loadInventory(path: string): Inventory {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read inventory ${path}: ${(err as Error).message}`, { cause: err });
  }
  const inv = parseInventory(text, path);
  const t = inv.cluster.token;
  if (t.kind === 'file') {
    const tokenPath = isAbsolute(t.path) ? t.path : resolve(dirname(path), t.path);
    let value: string;
    try {
      value = readFileSync(tokenPath, 'utf8').trim();
    } catch (err) {
      throw new InventoryError(path, [
        {
          line: t.line,
          message: `token_file ${tokenPath} cannot be read: ${(err as Error).message}`,
        },
      ]);
    }
    if (!TOKEN.test(value)) {
      throw new InventoryError(path, [
        {
          line: t.line,
          message: `token_file ${tokenPath} must hold 8-512 of A-Z a-z 0-9 . _ ~ + / = - (e.g. from \`openssl rand -hex 32\`)`,
        },
      ]);
    }
    return { ...inv, cluster: { ...inv.cluster, token: { kind: 'inline', value } } };
  }
  return inv;
}

/** The token, once `loadInventory` resolved it. */
export function tokenOf(inv: Inventory): string {
  const t = inv.cluster.token;
  if (t.kind !== 'inline')
    throw new Error(`the token of ${inv.file} is still a file reference; use loadInventory`);
  return t.value;
}

function clusterSettings(
  settings: RawSetting[],
  problems: InventoryProblem[],
): ClusterSettings | null {
  const seen = new Map<string, RawSetting>();
  for (const s of settings) {
    const first = seen.get(s.key);
    if (first)
      problems.push({
        line: s.line,
        message: `${s.key} is set twice (first on line ${first.line})`,
      });
    else seen.set(s.key, s);
  }
  const get = (key: string): RawSetting | undefined => seen.get(key);
  const bad = (s: RawSetting, expected: string): null => {
    problems.push({
      line: s.line,
      message: `${s.key} ${JSON.stringify(s.value)} is not valid; expected ${expected}`,
    });
    return null;
  };
  const oneOf = <T extends string>(key: string, valid: readonly T[], fallback: T): T => {
    const s = get(key);
    if (!s) return fallback;
    return (valid as readonly string[]).includes(s.value)
      ? (s.value as T)
      : (bad(s, `one of ${valid.join(', ')}`), fallback);
  };

  let token: ClusterSettings['token'] | null = null;
  const inline = get('token');
  const fromFile = get('token_file');
  if (inline && fromFile)
    problems.push({ line: fromFile.line, message: 'set token or token_file, not both' });
  else if (inline)
    token = TOKEN.test(inline.value)
      ? { kind: 'inline', value: inline.value }
      : bad(inline, '8-512 of A-Z a-z 0-9 . _ ~ + / = - (e.g. from `openssl rand -hex 32`)');
  else if (fromFile) token = { kind: 'file', path: fromFile.value, line: fromFile.line };
  else
    problems.push({
      line: 1,
      message: 'no cluster token: set token_file = <path> (or token = <secret>) under [cluster]',
    });

  const redis = get('redis_url');
  const redisUrl = redis
    ? /^rediss?:\/\/[A-Za-z0-9._~:@/%[\]-]+$/.test(redis.value)
      ? redis.value
      : bad(redis, 'a URL like redis://10.0.0.5:6379 or rediss://user:pass@host:6380/0')
    : null;

  const dir = get('install_dir');
  const installDir = dir
    ? /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/.test(dir.value) && !dir.value.includes('..')
      ? dir.value
      : bad(dir, 'an absolute path without spaces, e.g. /opt/faasflow')
    : '/opt/faasflow';

  const user = get('service_user');
  const serviceUser = user
    ? /^[a-z_][a-z0-9_-]{0,31}$/.test(user.value)
      ? user.value
      : bad(user, 'a Unix user name, e.g. faasflow')
    : 'faasflow';

  const sshRaw = get('ssh_command');
  let sshCommand = DEFAULT_SSH_COMMAND.split(' ');
  if (sshRaw) {
    const words = sshRaw.value.split(/\s+/);
    if (/['"\\`$]/.test(sshRaw.value))
      bad(sshRaw, 'words without quotes or $ (put complex ssh options in ~/.ssh/config)');
    else if (!words.includes('{dest}'))
      bad(sshRaw, `a command with {dest} standing for the host, e.g. ${DEFAULT_SSH_COMMAND}`);
    else sshCommand = words;
  }

  const nodeRaw = get('node');
  const node = nodeRaw
    ? /^(node|\/[A-Za-z0-9._/-]+)$/.test(nodeRaw.value)
      ? nodeRaw.value
      : bad(nodeRaw, 'node, or an absolute path such as /usr/bin/node')
    : 'node';

  const result = {
    redisUrl,
    sandbox: oneOf<Sandbox>('sandbox', ['process', 'docker'], 'process'),
    installDir,
    serviceUser,
    sshCommand,
    node,
    logLevel: oneOf('log_level', LOG_LEVELS, 'info'),
    mode: oneOf('mode', MODES, 'worker'),
    placement: oneOf('placement', PLACEMENTS, 'greedy-jsq'),
    init: oneOf<InitSystem>('init', ['auto', 'systemd', 'none'], 'auto'),
  };
  if (
    !token ||
    installDir === null ||
    serviceUser === null ||
    node === null ||
    (redis && redisUrl === null)
  )
    return null;
  return { token, ...result, installDir, serviceUser, node };
}

function hostEntries(
  raw: RawHost[],
  section: 'master' | 'workers',
  problems: InventoryProblem[],
): HostEntry[] {
  const names = new Map<string, number>();
  return raw.map((h) => {
    const first = names.get(h.name);
    if (first !== undefined)
      problems.push({
        line: h.line,
        message: `${h.name} is listed twice under [${section}] (first on line ${first})`,
      });
    else names.set(h.name, h.line);
    const address = h.fields.get('address') ?? '';
    const bind =
      h.fields.get('bind') ?? (/^\d+\.\d+\.\d+\.\d+$/.test(address) ? address : '0.0.0.0');
    return {
      name: h.name,
      line: h.line,
      address,
      bind,
      port: Number(h.fields.get('port') ?? (section === 'master' ? 8080 : 8090)),
      ssh: h.fields.get('ssh') ?? address,
    };
  });
}

function workerEntry(h: HostEntry, raw: RawHost): WorkerEntry {
  const num = (key: string): number | null =>
    raw.fields.has(key) ? Number(raw.fields.get(key)) : null;
  return {
    ...h,
    cpu: num('cpu'),
    memoryMb: num('memory_mb'),
    memoryQuotaMb: num('memory_quota_mb'),
  };
}

/** Two components on the same address and port cannot both listen. */
function checkEndpoints(entries: HostEntry[], problems: InventoryProblem[]): void {
  const seen = new Map<string, HostEntry>();
  for (const e of entries) {
    if (e.address === '') continue; // already reported as invalid
    const key = `${e.address}:${e.port}`;
    const first = seen.get(key);
    if (first)
      problems.push({
        line: e.line,
        message: `${e.name} uses ${key}, like ${first.name} on line ${first.line}; give one of them another port`,
      });
    else seen.set(key, e);
  }
}
