/**
 * Confinement decisions of the process sandbox (worker/sandbox/confine.ts): which user, whether
 * a network namespace, and how the child's command is built. The probe and /etc/passwd are
 * passed in, so every branch runs on any host.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  confinedCommand,
  detectConfinement,
  lookupUser,
  readableBy,
} from '../../worker/sandbox/confine.js';

const PASSWD =
  'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
const yes = (): boolean => true;
const no = (): boolean => false;

describe('lookupUser', () => {
  it('reads a name from passwd or takes uid:gid as given', () => {
    expect(lookupUser('nobody', PASSWD)).toEqual({ uid: 65534, gid: 65534 });
    expect(lookupUser('1234:99', PASSWD)).toEqual({ uid: 1234, gid: 99 });
    expect(lookupUser('ghost', PASSWD)).toBeNull();
  });
});

describe('readableBy', () => {
  it('follows the permission bits of the file and every folder above it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-'));
    const open = join(dir, 'open');
    mkdirSync(open);
    writeFileSync(join(open, 'f.js'), 'x');
    chmodSync(dir, 0o755);
    expect(readableBy(join(open, 'f.js'), 65534, 65534)).toBe(true);
    chmodSync(dir, 0o700); // as mkdtemp makes it: others cannot pass through
    expect(readableBy(join(open, 'f.js'), 65534, 65534)).toBe(false);
    chmodSync(dir, 0o711);
    chmodSync(join(open, 'f.js'), 0o600);
    expect(readableBy(join(open, 'f.js'), 65534, 65534)).toBe(false);
    expect(readableBy(join(dir, 'missing'), 65534, 65534)).toBe(false);
  });
});

describe('detectConfinement', () => {
  const mustRead: string[] = [];

  it('as root: nobody and an own network namespace where unshare works', () => {
    const c = detectConfinement(
      { user: 'auto', network: 'auto', mustRead },
      { uid: 0, passwd: PASSWD, unshare: yes },
    );
    expect(c.user).toEqual({ uid: 65534, gid: 65534, name: 'nobody' });
    expect(c.netns).toBe(true);
    expect(c.unshareFlags).toEqual(['--net']);
  });

  it('keeps the host network, saying why, when the kernel refuses the namespace', () => {
    const c = detectConfinement(
      { user: 'auto', network: 'auto', mustRead },
      { uid: 0, passwd: PASSWD, unshare: no },
    );
    expect(c.netns).toBe(false);
    expect(c.reasons.join('\n')).toMatch(/kernel refused `unshare --net`/);
  });

  it('not root: the worker user, and a user namespace for the network', () => {
    let asked: string[] = [];
    const c = detectConfinement(
      { user: 'auto', network: 'auto', mustRead },
      {
        uid: 1000,
        passwd: PASSWD,
        unshare: (f) => {
          asked = f;
          return true;
        },
      },
    );
    expect(c.user).toBeNull();
    expect(asked).toEqual(['--user', '--net']);
    expect(() =>
      detectConfinement({ user: 'nobody', network: 'host', mustRead }, { uid: 1000, unshare: yes }),
    ).toThrow(/needs a worker running as root/);
  });

  it('refuses an unknown or root user, and off and host mean what they say', () => {
    expect(() =>
      detectConfinement({ user: 'ghost', network: 'host', mustRead }, { uid: 0, passwd: PASSWD }),
    ).toThrow(/sandboxUser "ghost": no such user/);
    expect(() =>
      detectConfinement({ user: '0:0', network: 'host', mustRead }, { uid: 0, passwd: PASSWD }),
    ).toThrow(/is root/);
    const c = detectConfinement(
      { user: 'off', network: 'host', mustRead },
      { uid: 0, passwd: PASSWD, unshare: yes },
    );
    expect(c).toMatchObject({ user: null, netns: false });
  });

  it('a user that cannot read the runtime: refused when named, dropped with a reason on auto', () => {
    const dir = mkdtempSync(join(tmpdir(), 'confine-')); // 0700
    const server = join(dir, 'server.js');
    writeFileSync(server, '');
    expect(() =>
      detectConfinement(
        { user: 'nobody', network: 'host', mustRead: [server] },
        { uid: 0, passwd: PASSWD },
      ),
    ).toThrow(/cannot read/);
    const c = detectConfinement(
      { user: 'auto', network: 'host', mustRead: [server] },
      { uid: 0, passwd: PASSWD },
    );
    expect(c.user).toBeNull();
    expect(c.reasons[0]).toMatch(/children run as root: user nobody .* cannot read/);
  });
});

describe('confinedCommand', () => {
  const c = detectConfinement(
    { user: 'auto', network: 'auto', mustRead: [] },
    { uid: 0, passwd: PASSWD, unshare: yes },
  );

  it('goes through unshare, which also drops the user, for network none', () => {
    expect(confinedCommand(c, 'none', '/usr/bin/node', ['server.js'])).toEqual({
      command: 'unshare',
      args: ['--net', '--setuid', '65534', '--setgid', '65534', '--', '/usr/bin/node', 'server.js'],
    });
  });

  it('spawns directly with uid and gid for network host', () => {
    expect(confinedCommand(c, 'host', '/usr/bin/node', ['server.js'])).toEqual({
      command: '/usr/bin/node',
      args: ['server.js'],
      uid: 65534,
      gid: 65534,
    });
  });
});
