/**
 * Which functions of a deployment may read `ctx.workflowInput`, so that a node whose function
 * never does is not made to fetch the invocation's input (issue 12: nothing fetched that is not
 * used). Decided from the code the worker holds: a handler or inline-code function reads it when
 * its own code, or any other script uploaded with the workflow (a module it may import), names
 * `workflowInput`; builtins (their outputs may pass input fields through) and images (code the
 * worker cannot see) always do. A handler that reaches the property by a computed name must name
 * it somewhere in its code to get it (docs/reference/workflow.md).
 */
import type { WorkflowDag } from '../../shared/dag/types.js';

const NAME = 'workflowInput';
const SCRIPT = /\.(c|m)?js$/;

export function functionsReadingWorkflowInput(
  dag: Pick<WorkflowDag, 'functions'>,
  files: Readonly<Record<string, string>>,
): ReadonlySet<string> {
  const handlerPaths = new Set<string>();
  for (const fn of Object.values(dag.functions))
    if (fn.source.kind === 'handler') handlerPaths.add(fn.source.path);
  // A script that is not itself a handler may be imported by any of them.
  const sharedScriptReads = Object.entries(files).some(
    ([path, base64]) => SCRIPT.test(path) && !handlerPaths.has(path) && mentions(base64),
  );
  const reads = new Set<string>();
  for (const fn of Object.values(dag.functions)) {
    const s = fn.source;
    const yes =
      s.kind === 'builtin' ||
      s.kind === 'image' ||
      (s.kind === 'code' && s.code.includes(NAME)) ||
      (s.kind === 'handler' &&
        (sharedScriptReads || files[s.path] === undefined || mentions(files[s.path]!)));
    if (yes) reads.add(fn.name);
  }
  return reads;
}

function mentions(base64: string): boolean {
  return Buffer.from(base64, 'base64').includes(NAME);
}
