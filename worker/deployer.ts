/**
 * Takes deployments from the master: writes the handler files under the worker's data folder,
 * indexes the DAG for the engine and registers every function with the sandbox.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Deployment } from '../shared/schema/wire.js';
import {
  deploymentKey,
  functionKey,
  indexDeployment,
  type IndexedDeployment,
} from './engine/deployments.js';
import type { Engine } from './engine/engine.js';
import type { Sandbox } from './sandbox/types.js';

/** The node_modules faasflow runs from: the first one above this file. */
export function ownModules(): string | null {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'node_modules'))) return join(dir, 'node_modules');
    if (dirname(dir) === dir) return null;
  }
}

/**
 * Lets handlers under `dataDir` import packages from `modules`: Node resolves a bare import by
 * walking up from the handler's folder, so one `dataDir/node_modules` link serves every
 * deployment. An existing entry there is left as it is.
 */
export async function linkFunctionModules(dataDir: string, modules: string | null): Promise<void> {
  if (modules === null) return;
  if (!existsSync(modules))
    throw new AppError(
      'BAD_REQUEST',
      `functionModules ${modules} does not exist; give a node_modules folder, or none`,
    );
  await mkdir(dataDir, { recursive: true });
  const link = join(dataDir, 'node_modules');
  const present = await lstat(link).then(
    () => true,
    () => false,
  );
  if (!present) await symlink(resolve(modules), link, 'dir');
}

export class DeploymentManager {
  private readonly held = new Map<string, IndexedDeployment>();

  constructor(
    private readonly engine: Engine,
    private readonly sandbox: Sandbox,
    private readonly dataDir: string,
    private readonly logger: Logger,
  ) {}

  /** Returns true when the version is new here. Idempotent. */
  async deploy(d: Deployment): Promise<boolean> {
    const key = deploymentKey(d.workflow, d.version);
    if (this.held.has(key)) return false;
    const baseDir = join(this.dataDir, d.workflow, String(d.version));
    // Everything is checked before anything is written: a rejected deployment leaves no files.
    const files = Object.entries(d.files).map(([rel, base64]) => {
      const target = resolve(baseDir, rel);
      if (!target.startsWith(baseDir + sep))
        throw new AppError(
          'BAD_REQUEST',
          `file path ${JSON.stringify(rel)} escapes the deployment folder`,
        );
      return { target, base64 };
    });
    const indexed = indexDeployment(d, baseDir);
    // Readable by the sandbox's unprivileged user (sandboxUser), whatever the worker's umask.
    await mkdir(baseDir, { recursive: true, mode: 0o755 });
    for (const { target, base64 } of files) {
      await mkdir(dirname(target), { recursive: true, mode: 0o755 });
      await writeFile(target, Buffer.from(base64, 'base64'), { mode: 0o644 });
    }
    for (const fn of Object.values(d.dag.functions)) {
      await this.sandbox.deploy({
        key: functionKey(d.workflow, d.version, fn.name),
        workflow: d.workflow,
        version: d.version,
        fn,
        baseDir,
      });
    }
    this.held.set(key, indexed);
    this.engine.addDeployment(indexed);
    this.logger.info(
      { workflow: d.workflow, version: d.version, nodes: d.dag.nodes.length },
      'deployment added',
    );
    return true;
  }

  async remove(workflow: string): Promise<void> {
    for (const dep of this.engine.removeDeployments(workflow)) {
      this.held.delete(deploymentKey(dep.workflow, dep.version));
      for (const fn of Object.keys(dep.dag.functions))
        await this.sandbox.undeploy(functionKey(dep.workflow, dep.version, fn));
    }
    const dir = resolve(this.dataDir, workflow);
    if (!dir.startsWith(resolve(this.dataDir) + sep) || workflow === 'node_modules')
      throw new AppError('BAD_REQUEST', `workflow name ${JSON.stringify(workflow)} is invalid`);
    await rm(dir, { recursive: true, force: true });
  }
}
