/**
 * The tenants and their API keys, persisted in the master store as one named value
 * (`auth.tenants`; memory, lmdb and Redis all keep it) and verified from memory.
 *
 * Invariants:
 * - a change is written to the store first and shown after: a failed write changes nothing
 *   (STORE_UNAVAILABLE), and writes are serialised, so no change overwrites another;
 * - a key's secret is returned once, by the call that made it; only its sha256 is kept;
 * - the `default` tenant always exists (what an auth-off master and pre-tenant data belong to)
 *   and cannot be deleted;
 * - the cluster's admin key is not in the store: it comes from the admin key file each start.
 */
import { AppError } from '../../shared/errors.js';
import {
  hashesMatch,
  hashKey,
  keyIdOf,
  newApiKey,
  type KeyVerifier,
  type Principal,
  type Role,
} from '../../shared/auth.js';
import { DEFAULT_TENANT, parseTenantId, type TenantId } from '../../shared/ids.js';
import type { MasterStore } from '../store/types.js';
import { limitsOf, type TenantLimits } from './limits.js';

/** The master store value holding every tenant and key record. */
export const AUTH_VALUE = 'auth.tenants';

export interface TenantRecord {
  name: string;
  createdAt: string;
  /** Overrides of the cluster's default limits (absent: the defaults). */
  limits?: Partial<TenantLimits>;
}

export interface KeyRecord {
  id: string;
  tenant: string;
  role: Role;
  /** sha256 of the whole key, hex. */
  hash: string;
  createdAt: string;
}

/** What a listing shows of a key: never the secret or its hash. */
export type KeyView = Omit<KeyRecord, 'hash'>;

interface AuthState {
  tenants: Record<string, TenantRecord>;
  keys: Record<string, KeyRecord>;
}

type Store = Pick<MasterStore, 'getValue' | 'setValue'>;

export class TenantDirectory implements KeyVerifier {
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly store: Store,
    private state: AuthState,
    private readonly adminHash: string | undefined,
    private readonly now: () => Date,
  ) {}

  /** The directory as the store holds it; `adminKey` is the cluster admin's (from its file). */
  static async load(
    store: Store,
    o: { adminKey?: string; now?: () => Date } = {},
  ): Promise<TenantDirectory> {
    const state = stateOf(await store.getValue(AUTH_VALUE));
    return new TenantDirectory(
      store,
      state,
      o.adminKey === undefined ? undefined : hashKey(o.adminKey),
      o.now ?? (() => new Date()),
    );
  }

  verify(key: string): Principal | undefined {
    const hash = hashKey(key);
    if (this.adminHash !== undefined && hashesMatch(hash, this.adminHash))
      return { tenant: DEFAULT_TENANT, role: 'admin', keyId: 'admin', cluster: true };
    const id = keyIdOf(key);
    const record = id === undefined ? undefined : this.state.keys[id];
    if (record === undefined || !hashesMatch(hash, record.hash)) return undefined;
    if (!this.has(record.tenant)) return undefined;
    return {
      tenant: record.tenant as TenantId,
      role: record.role,
      keyId: record.id,
      cluster: false,
    };
  }

  has(tenant: string): boolean {
    return tenant === DEFAULT_TENANT || this.state.tenants[tenant] !== undefined;
  }

  /** 404 NOT_FOUND unless the tenant exists. */
  tenant(name: string): TenantRecord {
    if (name === DEFAULT_TENANT)
      return this.state.tenants[name] ?? { name, createdAt: new Date(0).toISOString() };
    const t = this.state.tenants[name];
    if (!t) throw tenantNotFound(name);
    return t;
  }

  /** The limits that apply to `tenant`: its overrides over `defaults`. */
  limits(tenant: string, defaults: TenantLimits): TenantLimits {
    return limitsOf(defaults, this.state.tenants[tenant]?.limits);
  }

  tenants(): TenantRecord[] {
    const listed = { [DEFAULT_TENANT]: this.tenant(DEFAULT_TENANT), ...this.state.tenants };
    return Object.values(listed).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** A new tenant with its first key (role `admin` unless told). CONFLICT if it exists. */
  createTenant(
    name: string,
    o: { role?: Role; limits?: Partial<TenantLimits> } = {},
  ): Promise<{ tenant: TenantRecord; key: KeyView; apiKey: string }> {
    return this.change((s) => {
      const tenant = parseTenantId(name);
      if (this.has(tenant))
        throw new AppError('CONFLICT', `tenant ${JSON.stringify(tenant)} exists already`);
      const record: TenantRecord = {
        name: tenant,
        createdAt: this.now().toISOString(),
        ...(o.limits === undefined ? {} : { limits: o.limits }),
      };
      s.tenants[tenant] = record;
      const made = this.addKey(s, tenant, o.role ?? 'admin');
      return { tenant: record, ...made };
    });
  }

  /** Removes the tenant and every key of it. */
  deleteTenant(name: string): Promise<{ keys: number }> {
    return this.change((s) => {
      if (name === DEFAULT_TENANT)
        throw new AppError('CONFLICT', 'the default tenant cannot be deleted');
      if (!s.tenants[name]) throw tenantNotFound(name);
      delete s.tenants[name];
      let keys = 0;
      for (const [id, k] of Object.entries(s.keys))
        if (k.tenant === name) {
          delete s.keys[id];
          keys++;
        }
      return { keys };
    });
  }

  createKey(tenant: string, role: Role): Promise<{ key: KeyView; apiKey: string }> {
    return this.change((s) => {
      this.tenant(tenant);
      return this.addKey(s, tenant, role);
    });
  }

  keys(tenant: string): KeyView[] {
    this.tenant(tenant);
    return Object.values(this.state.keys)
      .filter((k) => k.tenant === tenant)
      .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))
      .map(view);
  }

  /** Revokes one key of the tenant; NOT_FOUND when the tenant has no key of that id. */
  revokeKey(tenant: string, id: string): Promise<KeyView> {
    return this.change((s) => {
      this.tenant(tenant);
      const k = s.keys[id];
      if (!k || k.tenant !== tenant)
        throw new AppError(
          'NOT_FOUND',
          `tenant ${JSON.stringify(tenant)} has no key ${JSON.stringify(id)} (GET /v1/tenants/${tenant}/keys lists them)`,
        );
      delete s.keys[id];
      return view(k);
    });
  }

  private addKey(s: AuthState, tenant: string, role: Role): { key: KeyView; apiKey: string } {
    const { id, key } = newApiKey();
    const record: KeyRecord = {
      id,
      tenant,
      role,
      hash: hashKey(key),
      createdAt: this.now().toISOString(),
    };
    s.keys[id] = record;
    return { key: view(record), apiKey: key };
  }

  /** Applies `fn` to a copy, stores the copy, then makes it the state. */
  private change<T>(fn: (draft: AuthState) => T): Promise<T> {
    const run = this.writes.then(async () => {
      const draft = structuredClone(this.state);
      const result = fn(draft);
      try {
        await this.store.setValue(AUTH_VALUE, draft);
      } catch (err) {
        throw AppError.from(err);
      }
      this.state = draft;
      return result;
    });
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function view(k: KeyRecord): KeyView {
  return { id: k.id, tenant: k.tenant, role: k.role, createdAt: k.createdAt };
}

function tenantNotFound(name: string): AppError {
  return new AppError(
    'NOT_FOUND',
    `tenant ${JSON.stringify(name)} does not exist (GET /v1/tenants lists them)`,
  );
}

/** The stored value, read defensively: records that do not have the expected shape are skipped. */
function stateOf(value: unknown): AuthState {
  const state: AuthState = { tenants: {}, keys: {} };
  if (typeof value !== 'object' || value === null) return state;
  const v = value as { tenants?: unknown; keys?: unknown };
  if (typeof v.tenants === 'object' && v.tenants !== null)
    for (const [name, t] of Object.entries(v.tenants as Record<string, TenantRecord>))
      if (typeof t?.name === 'string' && t.name === name) state.tenants[name] = t;
  if (typeof v.keys === 'object' && v.keys !== null)
    for (const [id, k] of Object.entries(v.keys as Record<string, KeyRecord>))
      if (typeof k?.hash === 'string' && k.id === id) state.keys[id] = k;
  return state;
}
