/**
 * Confinement of process-sandbox children: the unprivileged user they run as and whether they
 * get a network namespace of their own (docs/guides/sandboxes.md, "Confinement").
 *
 * - User: a worker running as root starts its children as `nobody` (or the configured user);
 *   a worker that is not root cannot change user, so its children keep its user. A user that
 *   cannot read the runtime server or the deployed handlers is refused at start (explicit) or
 *   dropped with a warning (`auto`).
 * - Network: where the kernel allows it (probed once: `unshare --net`, or `unshare --user --net`
 *   when not root), each child starts in a new network namespace holding only a loopback that
 *   is down: it reaches no port of this host (worker, master, Redis) and nothing beyond.
 *   A function that declares `network: host` keeps the host's network.
 *
 * The child talks to the worker over a unix socket in a directory it owns, which a network
 * namespace does not affect (pathname sockets live in the filesystem).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AppError } from '../../shared/errors.js';

/** The `sandboxUser` setting: `auto`, `off`, a user name, or `uid:gid`. */
export type SandboxUserSetting = string;
/** The `sandboxNetwork` setting: `auto` (own namespace where possible) or `host` (never). */
export type SandboxNetworkSetting = 'auto' | 'host';

export interface Confinement {
  /** The user and group children run as; null: the worker's own. */
  user: { uid: number; gid: number; name: string } | null;
  /** Whether children without `network: host` get their own network namespace. */
  netns: boolean;
  /** The `unshare` flags that create it (empty when `netns` is false). */
  unshareFlags: string[];
  /** One line per decision, for the log. */
  reasons: string[];
}

export interface ConfineOptions {
  user: SandboxUserSetting;
  network: SandboxNetworkSetting;
  /** Files and folders the children must be able to read (runtime server, data dir). */
  mustRead: string[];
}

/** The user a name or `uid:gid` stands for, from /etc/passwd (no NSS beyond files). */
export function lookupUser(spec: string, passwd: string): { uid: number; gid: number } | null {
  const ids = /^(\d+):(\d+)$/.exec(spec);
  if (ids) return { uid: Number(ids[1]), gid: Number(ids[2]) };
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === spec && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/**
 * Whether `uid`/`gid` (no supplementary groups) may read `path`: every folder above it
 * searchable, the file (or folder) itself readable, by the permission bits that apply to them.
 */
export function readableBy(path: string, uid: number, gid: number): boolean {
  const allowed = (p: string, bits: { u: number; g: number; o: number }): boolean => {
    let st;
    try {
      st = statSync(p);
    } catch {
      return false;
    }
    const mode = st.mode;
    if (uid === 0) return true;
    if (st.uid === uid) return (mode & bits.u) !== 0;
    if (st.gid === gid) return (mode & bits.g) !== 0;
    return (mode & bits.o) !== 0;
  };
  const search = { u: 0o100, g: 0o010, o: 0o001 };
  const read = { u: 0o400, g: 0o040, o: 0o004 };
  const full = resolve(path);
  for (let d = dirname(full); ; d = dirname(d)) {
    if (!allowed(d, search)) return false;
    if (d === dirname(d)) break;
  }
  return allowed(full, read);
}

/** Runs `unshare <flags> true`; true when the kernel let us create the namespace. */
function canUnshare(flags: string[]): boolean {
  try {
    execFileSync('unshare', [...flags, 'true'], { stdio: 'ignore', timeout: 5_000 });
    return true;
  } catch {
    return false;
  }
}

function readPasswd(): string {
  try {
    return readFileSync('/etc/passwd', 'utf8');
  } catch {
    return '';
  }
}

/** Decides the confinement once per sandbox (a few ms: one `unshare` probe). */
export function detectConfinement(
  o: ConfineOptions,
  env: { uid: number; passwd?: string; unshare?: (flags: string[]) => boolean } = {
    uid: process.getuid?.() ?? -1,
  },
): Confinement {
  const reasons: string[] = [];
  const root = env.uid === 0;
  let user: Confinement['user'] = null;
  if (o.user === 'off') {
    reasons.push('children run as the worker user (sandboxUser: off)');
  } else if (!root) {
    if (o.user !== 'auto') {
      throw new AppError(
        'CONFIG_INVALID',
        `sandboxUser "${o.user}" needs a worker running as root (this one runs as uid ${env.uid}); use "auto" or "off"`,
      );
    }
    reasons.push(`children run as the worker user (uid ${env.uid}: not root, cannot change user)`);
  } else {
    const name = o.user === 'auto' ? 'nobody' : o.user;
    const ids = lookupUser(name, env.passwd ?? readPasswd());
    if (ids === null) {
      if (o.user !== 'auto') {
        throw new AppError(
          'CONFIG_INVALID',
          `sandboxUser "${o.user}": no such user in /etc/passwd; give a user name or "uid:gid"`,
        );
      }
      reasons.push('children run as root: no user "nobody" on this host (set sandboxUser)');
    } else if (ids.uid === 0) {
      throw new AppError('CONFIG_INVALID', `sandboxUser "${o.user}" is root; use "off" to say so`);
    } else {
      const unreadable = o.mustRead.filter((p) => !readableBy(p, ids.uid, ids.gid));
      if (unreadable.length > 0) {
        const what = `user ${name} (uid ${ids.uid}) cannot read ${unreadable.join(', ')}`;
        if (o.user !== 'auto') {
          throw new AppError(
            'CONFIG_INVALID',
            `sandboxUser "${o.user}": ${what}; make them readable or choose another user`,
          );
        }
        reasons.push(`children run as root: ${what} (move faasflow or set sandboxUser)`);
      } else {
        user = { ...ids, name };
        reasons.push(`children run as ${name} (uid ${ids.uid}, gid ${ids.gid})`);
      }
    }
  }
  let unshareFlags: string[] = [];
  if (o.network === 'host') {
    reasons.push('children keep the host network (sandboxNetwork: host)');
  } else {
    const flags = root ? ['--net'] : ['--user', '--net'];
    if ((env.unshare ?? canUnshare)(flags)) {
      unshareFlags = flags;
      reasons.push(
        'children get their own network namespace (loopback only, down) unless a function declares network: host',
      );
    } else {
      reasons.push(
        `children keep the host network: the kernel refused \`unshare ${flags.join(' ')}\``,
      );
    }
  }
  return { user, netns: unshareFlags.length > 0, unshareFlags, reasons };
}

export interface ConfinedCommand {
  command: string;
  args: string[];
  uid?: number;
  gid?: number;
}

/**
 * How to spawn `command args` under `c` for a function with `network`: through `unshare`
 * (which also changes user, so the namespace is made while still privileged) or directly with
 * the spawn's uid/gid. Either way the final process is `command` itself (unshare execs it), so
 * its pid, stdio and signals are the child's.
 */
export function confinedCommand(
  c: Confinement,
  network: 'none' | 'host',
  command: string,
  args: string[],
): ConfinedCommand {
  if (c.netns && network === 'none') {
    const ids =
      c.user === null ? [] : ['--setuid', String(c.user.uid), '--setgid', String(c.user.gid)];
    return { command: 'unshare', args: [...c.unshareFlags, ...ids, '--', command, ...args] };
  }
  return c.user === null ? { command, args } : { command, args, uid: c.user.uid, gid: c.user.gid };
}

/** No confinement at all (tests of other parts, and the thread and trusted tiers). */
export const UNCONFINED: Confinement = {
  user: null,
  netns: false,
  unshareFlags: [],
  reasons: [],
};
