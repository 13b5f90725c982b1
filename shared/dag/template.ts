/**
 * Evaluates an `InputTemplate` once a node's parent edges have arrived. Pure: parent outputs are
 * given by a resolver, so the same code serves the worker engine (per-edge arrivals) and the
 * master (per-node outcomes when it assembles the invocation output).
 */
import type { NodeId } from '../ids.js';
import type { InputTemplate } from './types.js';

/** What arrived from one parent: its output, or a skip. Undefined: nothing (treated as skip). */
export type Arrival = { skip: false; value: unknown } | { skip: true };

export type Resolver = (node: NodeId) => Arrival | undefined;

export function assemble(t: InputTemplate, resolve: Resolver, workflowInput: unknown): unknown {
  switch (t.kind) {
    case 'input':
      return workflowInput;
    case 'const':
      return t.value;
    case 'node': {
      const a = resolve(t.node);
      return a === undefined || a.skip ? null : a.value;
    }
    case 'array':
      return t.items.map((i) => assemble(i, resolve, workflowInput));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(t.fields)) out[k] = assemble(v, resolve, workflowInput);
      return out;
    }
    case 'first': {
      for (const option of t.options) {
        if (isLive(option, resolve)) return assemble(option, resolve, workflowInput);
      }
      return null;
    }
    case 'merge': {
      const out: Record<string, unknown> = {};
      for (const item of t.items) {
        const v = assemble(item, resolve, workflowInput);
        if (
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v) &&
          !(v instanceof Uint8Array)
        ) {
          Object.assign(out, v);
        }
      }
      return out;
    }
  }
}

/** An option is live when it reads no node, or at least one node it reads was not skipped. */
export function isLive(t: InputTemplate, resolve: Resolver): boolean {
  let sawNode = false;
  let live = false;
  const walk = (x: InputTemplate): void => {
    if (live) return;
    switch (x.kind) {
      case 'node': {
        sawNode = true;
        const a = resolve(x.node);
        if (a !== undefined && !a.skip) live = true;
        return;
      }
      case 'array':
      case 'merge':
        x.items.forEach(walk);
        return;
      case 'first':
        x.options.forEach(walk);
        return;
      case 'object':
        Object.values(x.fields).forEach(walk);
        return;
      case 'input':
      case 'const':
        return;
    }
  };
  walk(t);
  return live || !sawNode;
}

/** The single parent whose encoded output can be passed through untouched, if the template is one. */
export function passthroughParent(t: InputTemplate): NodeId | null {
  return t.kind === 'node' ? t.node : null;
}

/** True when the template reads the invocation input. */
export function readsWorkflowInput(t: InputTemplate): boolean {
  switch (t.kind) {
    case 'input':
      return true;
    case 'node':
    case 'const':
      return false;
    case 'array':
    case 'merge':
      return t.items.some(readsWorkflowInput);
    case 'first':
      return t.options.some(readsWorkflowInput);
    case 'object':
      return Object.values(t.fields).some(readsWorkflowInput);
  }
}
