/**
 * JSONata evaluation for the engine: expressions are compiled once per deployment and cached by
 * source. Evaluation errors become FUNCTION_FAILED errors naming the node and the expression.
 */
import jsonata from 'jsonata';
import { AppError } from '../../shared/errors.js';

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
