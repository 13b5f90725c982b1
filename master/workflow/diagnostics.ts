/**
 * Validation findings. Every problem found in a workflow document is an `Issue` with the path of
 * the offending place (`functions.split.memory`, `flow.sequence[2].parallel[0].task`), what is
 * wrong and, where it helps, what would be valid. Parsing collects them all and reports at once.
 */
import { AppError } from '../../shared/errors.js';

export interface Issue {
  /** Dotted path into the document; `''` for the document itself. */
  path: string;
  message: string;
  /** 1-based position in the YAML text, when known. */
  line?: number;
  column?: number;
}

export class Issues {
  readonly list: Issue[] = [];

  add(path: string, message: string, position?: { line: number; column: number }): void {
    this.list.push(position ? { path, message, ...position } : { path, message });
  }

  get ok(): boolean {
    return this.list.length === 0;
  }
}

/** Joins a parent path and a key or index the way issues print them. */
export function at(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  const safe = /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? safe : `${path}.${safe}`;
}

export function formatIssue(issue: Issue): string {
  const where = issue.path === '' ? '(document)' : issue.path;
  const pos = issue.line === undefined ? '' : ` (line ${issue.line}, column ${issue.column ?? 1})`;
  return `${where}${pos}: ${issue.message}`;
}

export function invalidWorkflow(issues: readonly Issue[]): AppError {
  const first = issues[0];
  const summary =
    issues.length === 1 && first
      ? `workflow is invalid: ${formatIssue(first)}`
      : `workflow is invalid: ${issues.length} problems`;
  return new AppError('WORKFLOW_INVALID', summary, { details: { issues } });
}
