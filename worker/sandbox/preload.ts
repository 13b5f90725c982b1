/**
 * `preload:` files of a function (docs/guides/chains.md): where its sandbox reads them. They
 * are part of the deployment (uploaded with the handlers), so each must lie inside the
 * deployment folder and exist; anything else is WORKFLOW_INVALID naming the file.
 */
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AppError } from '../../shared/errors.js';
import type { PreloadFile } from './runtime/protocol.js';
import type { FunctionDeployment } from './types.js';

/**
 * The function's preload files, each read at `mount` + its path inside the deployment folder
 * when the sandbox sees that folder elsewhere (a container), or at its own path on this host.
 */
export function preloadFiles(d: FunctionDeployment, mount?: string): PreloadFile[] {
  return (d.fn.preload ?? []).map((name) => {
    const path = resolve(d.baseDir, name);
    const inside = relative(d.baseDir, path);
    if (inside === '' || inside.startsWith('..') || isAbsolute(inside))
      throw new AppError(
        'WORKFLOW_INVALID',
        `preload file ${name} of function ${d.key} lies outside its deployment folder ${d.baseDir}`,
        { details: { key: d.key, preload: name } },
      );
    if (!existsSync(path) || !statSync(path).isFile())
      throw new AppError(
        'WORKFLOW_INVALID',
        `preload file ${name} of function ${d.key} not found: ${path} (upload it with the workflow: faasflow deploy sends every preload: file)`,
        { details: { key: d.key, preload: name, path } },
      );
    return { name, path: mount === undefined ? path : [mount, ...inside.split(sep)].join('/') };
  });
}

/** `source` with its preload files, when the function declares any. */
export function withPreload<S extends object>(
  source: S,
  files: PreloadFile[],
): S & { preload?: PreloadFile[] } {
  return files.length === 0 ? source : { ...source, preload: files };
}
