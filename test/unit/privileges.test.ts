/** Who may deploy functions outside the sandbox's confinement (master/auth/privileges.ts). */
import { describe, expect, it } from 'vitest';
import type { Principal } from '../../shared/auth.js';
import type { FunctionSpec } from '../../shared/dag/types.js';
import {
  checkUnconfined,
  parsePrivileged,
  unconfinedSettings,
} from '../../master/auth/privileges.js';

const fn = (name: string, extra: Partial<FunctionSpec> = {}): FunctionSpec => ({
  name,
  source: { kind: 'code', code: 'export default () => 1' },
  cpu: 1,
  memoryMb: 128,
  timeoutMs: 1_000,
  retries: 0,
  network: 'none',
  runtimeMs: 1,
  outputBytes: 1,
  ...extra,
});
const tenant = (name: string, cluster = false): Principal =>
  ({ tenant: name, role: 'deploy', keyId: 'k1', cluster }) as Principal;

describe('unconfined functions', () => {
  const fns = {
    a: fn('a'),
    b: fn('b', { isolation: 'thread' }),
    c: fn('c', { isolation: 'trusted', network: 'host' }),
    d: fn('d', { isolation: 'docker' }),
  };

  it('names thread, trusted and network host, and nothing else', () => {
    expect(unconfinedSettings(fns)).toEqual([
      'functions.b.isolation: thread',
      'functions.c.isolation: trusted',
      'functions.c.network: host',
    ]);
    expect(unconfinedSettings({ a: fns.a, d: fns.d })).toEqual([]);
  });

  it('refuses a tenant not named, allows a named one and the cluster key', () => {
    const privileged = parsePrivileged(' ops , ml ,');
    expect([...privileged]).toEqual(['ops', 'ml']);
    expect(() => checkUnconfined(tenant('acme'), privileged, fns)).toThrow(
      /tenant acme may not deploy .*functions\.b\.isolation: thread/,
    );
    expect(() => checkUnconfined(tenant('ops'), privileged, fns)).not.toThrow();
    expect(() => checkUnconfined(tenant('acme', true), privileged, fns)).not.toThrow();
    expect(() => checkUnconfined(tenant('acme'), privileged, { a: fns.a })).not.toThrow();
    expect(parsePrivileged(undefined).size).toBe(0);
  });
});
