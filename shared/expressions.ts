/**
 * The one JSONata evaluator of master and worker (the only file that imports jsonata): the
 * master checks every expression of a workflow at validation time (a syntax error is a
 * validation issue with its path) and evaluates `inputSize:` and the output expression; the
 * engine evaluates templates, switch conditions and foreach items. Expressions are compiled once
 * and cached by source; evaluation errors become FUNCTION_FAILED errors naming the place and
 * the expression. Nothing is ever eval()'d.
 */
import jsonata from 'jsonata';
import { AppError } from './errors.js';

/** Largest expression accepted, in characters. */
export const MAX_EXPRESSION_LENGTH = 4096;

/** Where validation problems go (master/workflow/diagnostics.ts `Issues`). */
export interface IssueSink {
  add(path: string, message: string): void;
}

/** Compiles `source`; on failure adds an issue at `path` and returns false. */
export function checkExpression(source: string, path: string, issues: IssueSink): boolean {
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

type Compiled = ReturnType<typeof jsonata>;

export class Expressions {
  private readonly cache = new Map<string, Compiled>();

  compile(source: string): Compiled {
    let c = this.cache.get(source);
    if (!c) {
      c = jsonata(source);
      this.cache.set(source, c);
    }
    return c;
  }

  async evaluate(source: string, input: unknown, where: string): Promise<unknown> {
    try {
      const value = (await this.compile(source).evaluate(input)) as unknown;
      return toPlain(value);
    } catch (err) {
      const message = (err as { message?: string }).message ?? String(err);
      throw new AppError(
        'FUNCTION_FAILED',
        `${where}: expression ${JSON.stringify(source)} failed: ${message}`,
        {
          retryable: false,
          cause: err,
        },
      );
    }
  }

  /** Evaluates a switch condition; JSONata truthiness (empty sequence, null, false, 0, '' are false). */
  async test(source: string, input: unknown, where: string): Promise<boolean> {
    return truthy(await this.evaluate(source, input, where));
  }
}

/** JSONata's effective boolean value (`$boolean`): empty objects, and arrays of only falsy members, are false. */
function truthy(v: unknown): boolean {
  if (Array.isArray(v)) return v.some(truthy);
  if (typeof v === 'object' && v !== null) return Object.keys(v).length > 0;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  return typeof v === 'string' ? v.length > 0 : v === true;
}

/** JSONata marks result sequences with extra properties; normalise to plain values. */
function toPlain(value: unknown): unknown {
  if (value === undefined) return null;
  if (Array.isArray(value))
    return Array.from(value as unknown[], (v) => (v === undefined ? null : v));
  return value;
}
