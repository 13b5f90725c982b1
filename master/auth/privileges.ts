/**
 * What a tenant may deploy when auth is on (docs/guides/tenants.md, "Unconfined functions").
 * Three settings take a function out of the sandbox's confinement: `isolation: trusted` runs it
 * on the worker's own event loop and `isolation: thread` in the worker's process (both as the
 * worker's user, with its network and files), and `network: host` gives it the host's network
 * (Redis and every port on loopback included). With API keys on, only the cluster's admin key
 * and the tenants the operator names (`privilegedTenants`) may deploy them. Pure.
 */
import type { FunctionSpec } from '../../shared/dag/types.js';
import { AppError } from '../../shared/errors.js';
import type { Principal } from '../../shared/auth.js';

/** Each function setting of `functions` that leaves the confinement, with its YAML path. */
export function unconfinedSettings(functions: Readonly<Record<string, FunctionSpec>>): string[] {
  const out: string[] = [];
  for (const f of Object.values(functions)) {
    if (f.isolation === 'trusted' || f.isolation === 'thread')
      out.push(`functions.${f.name}.isolation: ${f.isolation}`);
    if (f.network === 'host') out.push(`functions.${f.name}.network: host`);
  }
  return out;
}

/** The comma-separated `privilegedTenants` setting as a set of names. */
export function parsePrivileged(setting: string | undefined): ReadonlySet<string> {
  return new Set(
    (setting ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );
}

/** Throws FORBIDDEN, naming each setting, when `p` may not deploy these functions. */
export function checkUnconfined(
  p: Principal,
  privileged: ReadonlySet<string>,
  functions: Readonly<Record<string, FunctionSpec>>,
): void {
  if (p.cluster || privileged.has(p.tenant)) return;
  const settings = unconfinedSettings(functions);
  if (settings.length === 0) return;
  throw new AppError(
    'FORBIDDEN',
    `tenant ${p.tenant} may not deploy functions outside the sandbox's confinement: ${settings.join(', ')}; ` +
      "they run with the worker's user or network. Use isolation process or docker and network none, or ask the operator to add the tenant to --privileged-tenants",
    { details: { settings } },
  );
}
