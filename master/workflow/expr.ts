/**
 * JSONata at validation time: every expression in a workflow is compiled here so a syntax error
 * is a validation error with its path. Nothing is evaluated here, and nothing is ever eval()'d.
 */
import jsonata from 'jsonata';
import type { Issues } from './diagnostics.js';

/** Largest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 4096;

/** Compiles `source`; on failure adds an issue at `path` and returns false. */
export function checkExpression(source: string, path: string, issues: Issues): boolean {
  if (source.trim() === '') {
    issues.add(path, 'expression is empty; expected a JSONata expression such as "$.items"');
    return false;
  }
  if (source.length > MAX_EXPRESSION_LENGTH) {
    issues.add(path, `expression is ${source.length} characters; at most ${MAX_EXPRESSION_LENGTH}`);
    return false;
  }
  try {
    jsonata(source);
    return true;
  } catch (err) {
    const e = err as { message?: string; position?: number; token?: string };
    const pos = e.position === undefined ? '' : ` at character ${e.position}`;
    issues.add(path, `invalid JSONata expression${pos}: ${e.message ?? String(err)}`);
    return false;
  }
}
