/**
 * Tenants and keys without I/O: the role matrix, the key format and its hashing, the tenant
 * directory over the in-process master store (persistence through the store value, nothing
 * changed by a failed write, revocation, deletion), the per-tenant limit gate with a fake
 * clock, qualified workflow names, the worker's tenancy check of triggers, and the master's
 * protected-mode default.
 */
import { describe, expect, it } from 'vitest';
import {
  allows,
  authorize,
  bearerOf,
  hashesMatch,
  hashKey,
  keyIdOf,
  newApiKey,
  ROLES,
  type Action,
  type Principal,
} from '../../shared/auth.js';
import type { AppError } from '../../shared/errors.js';
import type { TenantId } from '../../shared/ids.js';
import { checkTriggerTenancy, qualify, splitQualified } from '../../shared/tenancy.js';
import { AUTH_VALUE, TenantDirectory } from '../../master/auth/directory.js';
import { LimitGate, type TenantLimits } from '../../master/auth/limits.js';
import { loadMasterConfig } from '../../master/config.js';
import { MemoryMasterStore } from '../../master/store/memory.js';

const principal = (role: Principal['role']): Principal => ({
  tenant: 'acme' as TenantId,
  role,
  keyId: 'k',
  cluster: false,
});

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as AppError).code;
  }
  return undefined;
}

async function rejection(p: Promise<unknown>): Promise<AppError> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err as AppError,
  );
}

describe('roles', () => {
  it('lets each role do exactly what the contract says', () => {
    const actions: Action[] = ['manage-tenants', 'manage-keys', 'deploy', 'invoke', 'read'];
    const table = Object.fromEntries(
      ROLES.map((r) => [r, actions.filter((a) => allows(principal(r), a))]),
    );
    expect(table).toEqual({
      admin: ['manage-keys', 'deploy', 'invoke', 'read'],
      deploy: ['deploy', 'invoke', 'read'],
      invoke: ['invoke', 'read'],
      read: ['read'],
    });
    expect(allows({ ...principal('read'), cluster: true }, 'manage-tenants')).toBe(true);
  });

  it('refuses with FORBIDDEN naming the role and what it may do', () => {
    expect(() => authorize(principal('read'), 'deploy')).toThrow(
      /a read key may not deploy; read may read/,
    );
    expect(codeOf(() => authorize(principal('admin'), 'manage-tenants'))).toBe('FORBIDDEN');
  });
});

describe('API keys', () => {
  it('name their id, carry 192 random bits and are compared by hash', () => {
    const a = newApiKey();
    const b = newApiKey();
    expect(a.key).toMatch(/^ffk_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    expect(keyIdOf(a.key)).toBe(a.id);
    expect(a.key).not.toBe(b.key);
    expect(hashKey(a.key)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashesMatch(hashKey(a.key), hashKey(a.key))).toBe(true);
    expect(hashesMatch(hashKey(a.key), hashKey(b.key))).toBe(false);
    expect(hashesMatch('', '')).toBe(false);
    expect(keyIdOf('ffk_short_x')).toBeUndefined();
  });

  it('are read from a Bearer header only', () => {
    expect(bearerOf('Bearer abc')).toBe('abc');
    expect(bearerOf('bearer abc')).toBeUndefined();
    expect(bearerOf('Bearer a b')).toBeUndefined();
    expect(bearerOf(undefined)).toBeUndefined();
  });
});

describe('tenant directory', () => {
  it('verifies a new key as its tenant and role, keeps only its hash, and survives a reload', async () => {
    const store = new MemoryMasterStore();
    const dir = await TenantDirectory.load(store);
    const made = await dir.createTenant('acme');
    expect(made.key.role).toBe('admin');
    expect(dir.verify(made.apiKey)).toEqual({
      tenant: 'acme',
      role: 'admin',
      keyId: made.key.id,
      cluster: false,
    });
    const stored = JSON.stringify(await store.getValue(AUTH_VALUE));
    expect(stored).not.toContain(made.apiKey);
    expect(stored).toContain(hashKey(made.apiKey));
    const invoke = await dir.createKey('acme', 'invoke');
    expect(JSON.stringify(dir.keys('acme'))).not.toContain('hash');
    expect(dir.keys('acme').map((k) => k.id)).toEqual([made.key.id, invoke.key.id]);

    const again = await TenantDirectory.load(store);
    expect(again.verify(invoke.apiKey)?.role).toBe('invoke');
    expect(again.tenants().map((t) => t.name)).toEqual(['acme', 'default']);
  });

  it('refuses a wrong secret under a real key id, and revoked and deleted keys', async () => {
    const dir = await TenantDirectory.load(new MemoryMasterStore());
    const { apiKey, key } = await dir.createTenant('acme', { role: 'deploy' });
    const forged = `ffk_${key.id}_${'A'.repeat(32)}`;
    expect(dir.verify(forged)).toBeUndefined();
    const second = await dir.createKey('acme', 'read');
    await dir.revokeKey('acme', key.id);
    expect(dir.verify(apiKey)).toBeUndefined();
    expect(dir.verify(second.apiKey)?.role).toBe('read');
    await dir.deleteTenant('acme');
    expect(dir.verify(second.apiKey)).toBeUndefined();
    expect(codeOf(() => dir.keys('acme'))).toBe('NOT_FOUND');
  });

  it("answers NOT_FOUND for another tenant's key id and CONFLICT for what may not change", async () => {
    const dir = await TenantDirectory.load(new MemoryMasterStore());
    const a = await dir.createTenant('acme');
    await dir.createTenant('beta');
    expect((await rejection(dir.revokeKey('beta', a.key.id))).code).toBe('NOT_FOUND');
    expect((await rejection(dir.createTenant('acme'))).code).toBe('CONFLICT');
    expect((await rejection(dir.createTenant('default'))).code).toBe('CONFLICT');
    expect((await rejection(dir.deleteTenant('default'))).code).toBe('CONFLICT');
    expect((await rejection(dir.createTenant('Not.Valid'))).code).toBe('BAD_REQUEST');
  });

  it('changes nothing when the store write fails', async () => {
    const store = new MemoryMasterStore();
    const dir = await TenantDirectory.load(store);
    const kept = await dir.createTenant('acme');
    await store.close();
    expect((await rejection(dir.createTenant('beta'))).code).toBe('STORE_UNAVAILABLE');
    expect((await rejection(dir.revokeKey('acme', kept.key.id))).code).toBe('STORE_UNAVAILABLE');
    expect(dir.has('beta')).toBe(false);
    expect(dir.verify(kept.apiKey)?.tenant).toBe('acme');
  });

  it('verifies the cluster admin key as the cluster, whatever its format', async () => {
    const dir = await TenantDirectory.load(new MemoryMasterStore(), {
      adminKey: 'a-hand-written-admin-key',
    });
    expect(dir.verify('a-hand-written-admin-key')).toMatchObject({
      cluster: true,
      tenant: 'default',
    });
    expect(dir.verify('a-hand-written-admin-kez')).toBeUndefined();
  });

  it("applies a tenant's own limits over the defaults", async () => {
    const dir = await TenantDirectory.load(new MemoryMasterStore());
    await dir.createTenant('acme', { limits: { maxConcurrent: 2 } });
    const defaults: TenantLimits = {
      maxConcurrent: 0,
      invocationsPerSec: 5,
      burst: 3,
      maxWorkflowBytes: 0,
      maxVersions: 0,
    };
    expect(dir.limits('acme', defaults)).toEqual({ ...defaults, maxConcurrent: 2 });
    expect(dir.limits('default', defaults)).toEqual(defaults);
  });
});

describe('limit gate', () => {
  const limits = (l: Partial<TenantLimits>): TenantLimits => ({
    maxConcurrent: 0,
    invocationsPerSec: 0,
    burst: 1,
    maxWorkflowBytes: 0,
    maxVersions: 0,
    ...l,
  });

  it('holds a slot per running invocation until it is released, per tenant', () => {
    const gate = new LimitGate(() => 0);
    const l = limits({ maxConcurrent: 2 });
    const r1 = gate.admit('acme', l);
    gate.admit('acme', l);
    expect(codeOf(() => gate.admit('acme', l))).toBe('LIMIT_EXCEEDED');
    gate.admit('beta', l);
    r1();
    r1();
    expect(gate.runningOf('acme')).toBe(1);
    gate.admit('acme', l);
    expect(gate.runningOf('acme')).toBe(2);
  });

  it('refills its token bucket at the rate and says how long to wait', () => {
    let now = 0;
    const gate = new LimitGate(() => now);
    const l = limits({ invocationsPerSec: 2, burst: 2 });
    gate.admit('acme', l)();
    gate.admit('acme', l)();
    let refused: AppError | undefined;
    try {
      gate.admit('acme', l);
    } catch (err) {
      refused = err as AppError;
    }
    expect(refused?.statusCode).toBe(429);
    expect(refused?.details).toEqual({ retryAfterSec: 1 });
    now = 499;
    expect(codeOf(() => gate.admit('acme', l))).toBe('LIMIT_EXCEEDED');
    now = 1000;
    expect(codeOf(() => gate.admit('acme', l))).toBeUndefined();
  });
});

describe('qualified workflow names', () => {
  it('leave the default tenant unchanged and split back', () => {
    expect(qualify('default', 'x')).toBe('x');
    expect(qualify('acme', 'x')).toBe('acme.x');
    expect(splitQualified('acme.x')).toEqual({ tenant: 'acme', name: 'x' });
    expect(splitQualified('x')).toEqual({ tenant: 'default', name: 'x' });
    expect(codeOf(() => splitQualified('a.b.c'))).toBe('BAD_REQUEST');
  });
});

describe('trigger tenancy', () => {
  const trigger = (workflow: string, tenant: string, key?: string, worker = 'w1') => ({
    invocationId: 'inv_1',
    workflow,
    ctx: { tenant },
    ...(key === undefined ? {} : { ref: { tier: 'redis', key, worker } }),
  });

  it("accepts a tenant's trigger with its own data", () => {
    expect(codeOf(() => checkTriggerTenancy(trigger('acme.x', 'acme', 'acme:inv_1:a')))).toBe(
      undefined,
    );
    expect(codeOf(() => checkTriggerTenancy(trigger('x', 'default', 'default:inv_1:a')))).toBe(
      undefined,
    );
    expect(
      codeOf(() => checkTriggerTenancy(trigger('x', 'default', 'input:inv_1:ab', 'master'))),
    ).toBe(undefined);
  });

  it("refuses a trigger of another tenant's workflow or naming another's objects", () => {
    expect(codeOf(() => checkTriggerTenancy(trigger('acme.x', 'beta')))).toBe('FORBIDDEN');
    expect(codeOf(() => checkTriggerTenancy(trigger('acme.x', 'acme', 'beta:inv_1:a')))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(() => checkTriggerTenancy(trigger('acme.x', 'acme', 'acme:inv_2:a')))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(() => checkTriggerTenancy(trigger('x', 'default', 'input:inv_1:ab')))).toBe(
      'FORBIDDEN',
    );
  });
});

describe('protected mode', () => {
  it('refuses a non-loopback master without an auth choice and accepts either choice', () => {
    expect(() => loadMasterConfig({ host: '10.0.0.5' }, {})).toThrow(
      /10\.0\.0\.5, which is not a loopback address.*--auth on/,
    );
    expect(() => loadMasterConfig({ host: '0.0.0.0' }, {})).toThrow(/--auth on/);
    expect(loadMasterConfig({ host: '10.0.0.5', auth: 'off' }, {}).auth).toBe('off');
    expect(loadMasterConfig({ host: '10.0.0.5', auth: 'on' }, {}).auth).toBe('on');
    expect(loadMasterConfig({ host: '127.0.0.1' }, {}).auth).toBeUndefined();
    expect(loadMasterConfig({}, { FAASFLOW_HOST: '::1' }).auth).toBeUndefined();
  });
});
