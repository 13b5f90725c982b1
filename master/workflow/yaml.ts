/**
 * YAML text → plain JS document, with limits and positions. Syntax errors become issues with line
 * and column; `locate(path)` maps an issue path back to a line and column in the text.
 */
import { isAlias, isCollection, LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { Issues } from './diagnostics.js';
import { LIMITS } from './limits.js';

export interface ParsedYaml {
  value: unknown;
  locate(path: string): { line: number; column: number } | undefined;
}

export function parseYaml(text: string, issues: Issues): ParsedYaml | null {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > LIMITS.documentBytes) {
    issues.add('', `document is ${bytes} bytes; the limit is ${LIMITS.documentBytes} bytes`);
    return null;
  }
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, strict: true });
  } catch (err) {
    issues.add('', `YAML could not be parsed: ${(err as Error).message}`);
    return null;
  }
  if (doc.errors.length > 0) {
    for (const e of doc.errors.slice(0, 20)) {
      const pos = lineCounter.linePos(e.pos[0]);
      issues.add('', `YAML syntax error: ${firstLine(e.message)}`, {
        line: pos.line,
        column: pos.col,
      });
    }
    return null;
  }
  // A list or map as a mapping key has no JSON form (toJS would stringify it, with a process
  // warning): say where it is instead.
  let complexKey: number | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      if (!isCollection(key)) return undefined;
      complexKey = (pair.key as { range?: [number, number, number] }).range?.[0] ?? 0;
      return visit.BREAK;
    },
  });
  if (complexKey !== undefined) {
    const pos = lineCounter.linePos(complexKey);
    issues.add('', 'a mapping key must be a plain value (a name), not a list or a mapping', {
      line: pos.line,
      column: pos.col,
    });
    return null;
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: LIMITS.yamlAliases });
  } catch (err) {
    issues.add('', `YAML could not be loaded: ${firstLine((err as Error).message)}`);
    return null;
  }
  return {
    value,
    locate(path: string) {
      const node = doc.getIn(splitPath(path), true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (!range) return undefined;
      const pos = lineCounter.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    },
  };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/** Inverse of `at()`: `functions.split.memory`, `flow.sequence[2]`, `dag."a.b".task`. */
export function splitPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\[(\d+)\]|"((?:[^"\\]|\\.)*)"|([^.[\]"]+)/g;
  for (let m = re.exec(path); m !== null; m = re.exec(path)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined) out.push(m[3]);
  }
  return out;
}

/** Attaches line and column to issues that have none, using the parsed document. */
export function locateIssues(issues: Issues, parsed: ParsedYaml): void {
  for (const issue of issues.list) {
    if (issue.line !== undefined || issue.path === '') continue;
    // Walk up the path until a node exists (a missing key is reported at its parent).
    let parts = splitPath(issue.path);
    while (parts.length > 0) {
      const pos = parsed.locate(joinPath(parts));
      if (pos) {
        issue.line = pos.line;
        issue.column = pos.column;
        break;
      }
      parts = parts.slice(0, -1);
    }
  }
}

function joinPath(parts: (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? JSON.stringify(p) : `.${JSON.stringify(p)}`;
  }
  return out;
}
