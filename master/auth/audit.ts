/**
 * The audit log: one structured line per event that changes who may do what or what is
 * deployed, and per refused credential (docs/guides/tenants.md). To its own file (`auditLog`)
 * or, without one, into the master's log with `component: audit`.
 */
import { createFileLogger, type Logger } from '../../shared/logger.js';

export type AuditEvent =
  | 'tenant.created'
  | 'tenant.deleted'
  | 'key.created'
  | 'key.revoked'
  | 'workflow.deployed'
  | 'workflow.deleted'
  | 'auth.failed';

export interface AuditFields {
  /** The tenant acted on (or, for auth failures, unknown). */
  tenant?: string;
  /** The key that acted: its id, `admin` for the cluster admin key, `none` with auth off. */
  by?: string;
  /** The caller's address. */
  ip?: string;
  [field: string]: unknown;
}

export class AuditLog {
  private constructor(
    private readonly logger: Logger,
    private readonly closeFile: (() => void) | undefined,
  ) {}

  static open(file: string | undefined, masterLogger: Logger): AuditLog {
    if (file === undefined) return new AuditLog(masterLogger.child({ log: 'audit' }), undefined);
    const f = createFileLogger(file, { log: 'audit' });
    return new AuditLog(f.logger, f.close);
  }

  record(event: AuditEvent, fields: AuditFields): void {
    if (event === 'auth.failed') this.logger.warn({ event, ...fields }, 'audit');
    else this.logger.info({ event, ...fields }, 'audit');
  }

  close(): void {
    this.closeFile?.();
  }
}
