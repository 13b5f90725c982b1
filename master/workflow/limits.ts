/**
 * Hard limits on workflow documents. They bound parse time and memory for any input, so a
 * hostile or broken upload is rejected with a clear message instead of exhausting the master.
 */
import { WORKFLOW_NAME_PATTERN } from '../../shared/schema/wire.js';

export const LIMITS = {
  /** Bytes of YAML text. */
  documentBytes: 4 * 1024 * 1024,
  /** Compiled nodes, counting foreach bodies. */
  nodes: 20_000,
  /** Edges of the compiled DAG. */
  edges: 100_000,
  /** Nesting depth of steps (sequence/parallel/switch/foreach inside each other). */
  stepDepth: 32,
  /** YAML alias expansions (billion-laughs protection). */
  yamlAliases: 10_000,
  /** Functions in the catalogue. */
  functions: 5_000,
  /** Characters of inline function code. */
  inlineCodeChars: 256 * 1024,
  /** Length of function and node names. */
  nameChars: 63,
} as const;

export const WORKFLOW_NAME_RE = new RegExp(WORKFLOW_NAME_PATTERN);
export const FUNCTION_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;
export const STEP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,62}$/;
