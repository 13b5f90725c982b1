import { describe, expect, it } from 'vitest';
import type { FunctionSpec, WorkflowDag } from '../../shared/dag/types.js';
import { functionsReadingWorkflowInput } from '../../worker/engine/reads-input.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

function fn(name: string, source: FunctionSpec['source']): FunctionSpec {
  return {
    name,
    source,
    cpu: 1,
    memoryMb: 128,
    timeoutMs: 1_000,
    retries: 0,
    network: 'none',
    runtimeMs: 1,
    outputBytes: 1,
  };
}

function dag(...fns: FunctionSpec[]): Pick<WorkflowDag, 'functions'> {
  return { functions: Object.fromEntries(fns.map((f) => [f.name, f])) };
}

describe('functionsReadingWorkflowInput', () => {
  it('finds the functions whose code names ctx.workflowInput, and only those', () => {
    const reads = functionsReadingWorkflowInput(
      dag(
        fn('usesIt', { kind: 'handler', path: 'functions/a.js' }),
        fn('destructures', { kind: 'handler', path: 'functions/b.mjs' }),
        fn('ignores', { kind: 'handler', path: 'functions/c.js' }),
        fn('inlineUses', { kind: 'code', code: 'export default (x, ctx) => ctx.workflowInput.n' }),
        fn('inlineIgnores', { kind: 'code', code: 'export default (x) => x' }),
      ),
      {
        'functions/a.js': b64('export default (x, ctx) => ({ ...x, n: ctx.workflowInput.n })'),
        'functions/b.mjs': b64('export default (x, { workflowInput }) => workflowInput'),
        'functions/c.js': b64('export default (x) => x'),
        'data/notes.txt': b64('workflowInput is not code here'),
      },
    );
    expect([...reads].sort()).toEqual(['destructures', 'inlineUses', 'usesIt']);
  });

  it('counts builtins, images and handlers it cannot see as readers', () => {
    const reads = functionsReadingWorkflowInput(
      dag(
        fn('synthetic', { kind: 'builtin', builtin: { sleepMs: 0 } }),
        fn('container', { kind: 'image', image: 'acme/fn:1' }),
        fn('notUploaded', { kind: 'handler', path: 'functions/missing.js' }),
      ),
      {},
    );
    expect([...reads].sort()).toEqual(['container', 'notUploaded', 'synthetic']);
  });

  it('makes every handler a reader when a module they may import names it', () => {
    const reads = functionsReadingWorkflowInput(
      dag(fn('main', { kind: 'handler', path: 'functions/main.js' })),
      {
        'functions/main.js': b64(
          "import { pick } from './lib.js'; export default (x, ctx) => pick(ctx)",
        ),
        'functions/lib.js': b64('export const pick = (ctx) => ctx.workflowInput'),
      },
    );
    expect([...reads]).toEqual(['main']);
  });
});
