/** The auth parts of a MasterContext for tests that build the master's app themselves. */
import { AuditLog } from '../../master/auth/audit.js';
import { TenantDirectory } from '../../master/auth/directory.js';
import { LimitGate } from '../../master/auth/limits.js';
import { MemoryMasterStore } from '../../master/store/memory.js';
import { silentLogger } from '../../shared/logger.js';

/** Auth off: every request acts as the cluster admin of the default tenant. */
export async function authOff(): Promise<{
  tenants: TenantDirectory;
  auth: false;
  audit: AuditLog;
  gate: LimitGate;
}> {
  return {
    tenants: await TenantDirectory.load(new MemoryMasterStore()),
    auth: false,
    audit: AuditLog.open(undefined, silentLogger),
    gate: new LimitGate(),
  };
}
