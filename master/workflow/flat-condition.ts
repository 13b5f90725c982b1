/**
 * FaaSFlow switch conditions → JSONata. FaaSFlow writes conditions as Python expressions over
 * `INPUT.<parameter>` and evaluates them with Python; we never evaluate user text, so each
 * condition is parsed here (a small recursive-descent parser for the Python subset below) and
 * re-emitted as JSONata evaluated on the switch node's assembled input.
 *
 * Accepted Python → emitted JSONata:
 * - `INPUT.x`, `INPUT.x.y`, `INPUT['x']`  → `x`, `x.y`; names that are not plain identifiers or are
 *   JSONata words (`and`, `or`, `in`, `true`, `false`, `null`, `function`) are backtick-quoted;
 * - `==` → `=`; `!=`, `<`, `<=`, `>`, `>=`, `+`, `-`, `*`, `/`, `%` and `in` keep their spelling;
 *   `is` / `is not` → `=` / `!=`; `not in` → `$not(a in b)`; chained `a < b < c` → `(a < b and b < c)`;
 * - `and` / `or` stay; `not x` → `$not(x)`; `True` / `False` / `None` → `true` / `false` / `null`;
 * - numbers, quoted strings (re-quoted as JSON strings), list literals `[a, b]`, parentheses.
 * Anything else (calls, `//`, `**`, other names) is untranslatable and reported with its position.
 */

/** Longest condition accepted, in characters (matches the JSONata length limit). */
export const MAX_CONDITION_LENGTH = 4096;
const MAX_DEPTH = 32;
const JSONATA_WORDS = new Set(['and', 'or', 'in', 'true', 'false', 'null', 'function']);
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type TranslatedCondition =
  | {
      ok: true;
      jsonata: string;
      /** `INPUT` parameters read, top-level names only. */ reads: string[];
    }
  | { ok: false; message: string };

type Token =
  | { t: 'num'; v: string; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'name'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; at: number };

class Untranslatable extends Error {}

export function translateCondition(source: string): TranslatedCondition {
  if (source.length > MAX_CONDITION_LENGTH) {
    return {
      ok: false,
      message: `condition is ${source.length} characters; at most ${MAX_CONDITION_LENGTH}`,
    };
  }
  try {
    const parser = new Parser(tokenize(source));
    const jsonata = parser.parse();
    return { ok: true, jsonata, reads: [...parser.reads] };
  } catch (err) {
    if (err instanceof Untranslatable) return { ok: false, message: err.message };
    throw err;
  }
}

const OPERATORS = [
  '==',
  '!=',
  '<=',
  '>=',
  '//',
  '**',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '(',
  ')',
  '[',
  ']',
  '.',
  ',',
];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = source.slice(i);
    const num = /^\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(rest);
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (num) {
      tokens.push({ t: 'num', v: num[0], at: i });
      i += num[0].length;
    } else if (name) {
      tokens.push({ t: 'name', v: name[0], at: i });
      i += name[0].length;
    } else if (c === '"' || c === "'") {
      const { value, length } = readString(source, i);
      tokens.push({ t: 'str', v: value, at: i });
      i += length;
    } else {
      const op = OPERATORS.find((o) => rest.startsWith(o));
      if (op === undefined)
        throw new Untranslatable(`unexpected character ${JSON.stringify(c)} at ${i}`);
      tokens.push({ t: 'op', v: op, at: i });
      i += op.length;
    }
  }
  tokens.push({ t: 'end', at: source.length });
  return tokens;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

function readString(source: string, start: number): { value: string; length: number } {
  const quote = source[start]!;
  let value = '';
  for (let i = start + 1; i < source.length; i++) {
    const c = source[i]!;
    if (c === quote) return { value, length: i - start + 1 };
    if (c === '\\' && i + 1 < source.length) {
      const next = source[++i]!;
      value += Object.hasOwn(ESCAPES, next) ? ESCAPES[next] : `\\${next}`;
    } else {
      value += c;
    }
  }
  throw new Untranslatable(`string starting at ${start} is not closed`);
}

const COMPARISONS = new Set(['==', '!=', '<', '<=', '>', '>=']);

class Parser {
  readonly reads = new Set<string>();
  private pos = 0;
  private depth = 0;

  constructor(private readonly tokens: Token[]) {}

  parse(): string {
    const out = this.orExpr();
    const t = this.peek();
    if (t.t !== 'end') throw this.unexpected(t);
    return out;
  }

  private orExpr(): string {
    let left = this.andExpr();
    while (this.isName('or')) {
      this.pos++;
      left = `${left} or ${this.andExpr()}`;
    }
    return left;
  }

  private andExpr(): string {
    let left = this.notExpr();
    while (this.isName('and')) {
      this.pos++;
      left = `${left} and ${this.notExpr()}`;
    }
    return left;
  }

  private notExpr(): string {
    if (!this.isName('not')) return this.comparison();
    this.pos++;
    return this.nested(() => `$not(${this.notExpr()})`);
  }

  private comparison(): string {
    const operands = [this.arith()];
    const ops: string[] = [];
    for (let op = this.comparisonOp(); op !== null; op = this.comparisonOp()) {
      ops.push(op);
      operands.push(this.arith());
    }
    if (ops.length === 0) return operands[0]!;
    const parts = ops.map((op, k) => compare(operands[k]!, op, operands[k + 1]!));
    return parts.length === 1 ? parts[0]! : `(${parts.join(' and ')})`;
  }

  /** Consumes a comparison operator and returns its JSONata-neutral name, or null. */
  private comparisonOp(): string | null {
    const t = this.peek();
    if (t.t === 'op' && COMPARISONS.has(t.v)) {
      this.pos++;
      return t.v;
    }
    if (t.t !== 'name') return null;
    const next = this.tokens[this.pos + 1];
    if (t.v === 'in') {
      this.pos++;
      return 'in';
    }
    if (t.v === 'not' && next?.t === 'name' && next.v === 'in') {
      this.pos += 2;
      return 'not in';
    }
    if (t.v === 'is') {
      const negated = next?.t === 'name' && next.v === 'not';
      this.pos += negated ? 2 : 1;
      return negated ? '!=' : '==';
    }
    return null;
  }

  private arith(): string {
    let left = this.term();
    for (let t = this.peek(); t.t === 'op' && (t.v === '+' || t.v === '-'); t = this.peek()) {
      this.pos++;
      left = `${left} ${t.v} ${this.term()}`;
    }
    return left;
  }

  private term(): string {
    let left = this.unary();
    for (let t = this.peek(); t.t === 'op' && ['*', '/', '%'].includes(t.v); t = this.peek()) {
      this.pos++;
      left = `${left} ${t.v} ${this.unary()}`;
    }
    return left;
  }

  private unary(): string {
    const t = this.peek();
    if (t.t === 'op' && (t.v === '-' || t.v === '+')) {
      this.pos++;
      return this.nested(() => (t.v === '-' ? `-${this.unary()}` : this.unary()));
    }
    return this.primary();
  }

  private primary(): string {
    const t = this.next();
    switch (t.t) {
      case 'num':
        return t.v;
      case 'str':
        return JSON.stringify(t.v);
      case 'name':
        return this.name(t);
      case 'op':
        if (t.v === '(') return this.nested(() => this.parenthesised());
        if (t.v === '[') return this.nested(() => this.list());
        throw this.unexpected(t);
      case 'end':
        throw this.unexpected(t);
    }
  }

  private parenthesised(): string {
    const inner = this.orExpr();
    this.expect(')');
    return `(${inner})`;
  }

  private list(): string {
    const items: string[] = [];
    while (!this.isOp(']')) {
      items.push(this.orExpr());
      if (!this.isOp(',')) break;
      this.pos++;
    }
    this.expect(']');
    return `[${items.join(', ')}]`;
  }

  private name(t: Token & { t: 'name' }): string {
    switch (t.v) {
      case 'True':
        return 'true';
      case 'False':
        return 'false';
      case 'None':
        return 'null';
      case 'INPUT':
        return this.inputPath(t);
      default:
        throw new Untranslatable(
          `unknown name "${t.v}" at ${t.at}; refer to parameters as INPUT.<name> (True, False, None, and, or, not, in, is are the other words allowed)`,
        );
    }
  }

  private inputPath(input: Token): string {
    const segments: string[] = [];
    for (;;) {
      if (this.isOp('.')) {
        this.pos++;
        const seg = this.next();
        if (seg.t !== 'name')
          throw new Untranslatable(`expected a parameter name after "." at ${seg.at}`);
        segments.push(seg.v);
      } else if (this.isOp('[') && this.tokens[this.pos + 1]?.t === 'str') {
        this.pos++;
        segments.push((this.next() as Token & { t: 'str' }).v);
        this.expect(']');
      } else {
        break;
      }
    }
    const first = segments[0];
    if (first === undefined) {
      throw new Untranslatable(`INPUT at ${input.at} must name a parameter, as in INPUT.flag`);
    }
    this.reads.add(first);
    return segments.map(pathSegment).join('.');
  }

  private nested(f: () => string): string {
    if (++this.depth > MAX_DEPTH)
      throw new Untranslatable(`condition nests deeper than ${MAX_DEPTH} levels`);
    const out = f();
    this.depth--;
    return out;
  }

  private expect(op: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.v !== op) throw this.unexpected(t, `"${op}"`);
  }

  private peek(): Token {
    return this.tokens[this.pos] ?? { t: 'end', at: -1 };
  }

  private next(): Token {
    const t = this.peek();
    if (t.t !== 'end') this.pos++;
    return t;
  }

  private isName(v: string): boolean {
    const t = this.peek();
    return t.t === 'name' && t.v === v;
  }

  private isOp(v: string): boolean {
    const t = this.peek();
    return t.t === 'op' && t.v === v;
  }

  private unexpected(t: Token, expected?: string): Untranslatable {
    const what = t.t === 'end' ? 'end of condition' : `"${t.v}" at ${t.at}`;
    const hint = expected ?? 'a Python comparison over INPUT.<name>, such as INPUT.a < INPUT.b';
    return new Untranslatable(`unexpected ${what}; expected ${hint}`);
  }
}

function compare(left: string, op: string, right: string): string {
  switch (op) {
    case '==':
      return `${left} = ${right}`;
    case 'not in':
      return `$not(${left} in ${right})`;
    default:
      return `${left} ${op} ${right}`;
  }
}

function pathSegment(name: string): string {
  if (IDENT_RE.test(name) && !JSONATA_WORDS.has(name)) return name;
  if (name.includes('`'))
    throw new Untranslatable(`parameter name ${JSON.stringify(name)} contains a backtick`);
  return `\`${name}\``;
}

/** JSONata path for a parameter name: plain when it is an identifier, else backtick-quoted. */
export function jsonataName(name: string): string | null {
  try {
    return pathSegment(name);
  } catch {
    return null;
  }
}
