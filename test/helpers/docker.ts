/**
 * Docker for tests: whether an engine and the runtime image are there, and the test-side
 * inspection of what a worker left on the engine. A missing engine or image fails under
 * `CI=true` and skips with a printed reason elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { DockerClient, type ContainerSummary } from '../../worker/sandbox/docker-client.js';
import { BUILD_COMMAND, DEFAULT_RUNTIME_IMAGE, LABELS } from '../../worker/sandbox/docker-spec.js';

export const RUNTIME_IMAGE = process.env['FAASFLOW_RUNTIME_IMAGE'] ?? DEFAULT_RUNTIME_IMAGE;

/**
 * True when the engine answers and the runtime image is on it. Otherwise throws under
 * `CI=true` (Docker is required there), or prints why and returns false so suites can skip.
 */
export async function requireDocker(): Promise<boolean> {
  const client = new DockerClient({ requestTimeoutMs: 5000 });
  let reason: string | null = null;
  try {
    await client.version();
    if (!(await client.imageExists(RUNTIME_IMAGE))) {
      reason = `runtime image ${RUNTIME_IMAGE} is missing: build it with \`${BUILD_COMMAND}\``;
    }
  } catch (err) {
    reason = `Docker engine at ${client.socketPath} is unreachable: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (reason === null) return true;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: Docker is required)`);
  console.warn(`skipping Docker tests: ${reason}`);
  return false;
}

/** Containers (any state) labelled with `workerId`: what that worker owns on the engine. */
export function ownedContainers(workerId: string): Promise<ContainerSummary[]> {
  return new DockerClient().list({ [LABELS.worker]: workerId });
}

/** Removes what a test's worker id still owns (after a failed test), returning the count. */
export async function removeOwned(workerId: string): Promise<number> {
  const client = new DockerClient();
  const left = await client.list({ [LABELS.worker]: workerId });
  await Promise.all(left.map((c) => client.remove(c.id)));
  return left.length;
}

/** The docker CLI, for what the sandbox itself never does (commit, rmi, run outside it). */
export function dockerCli(args: readonly string[], input?: string): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(input === undefined ? {} : { input }),
  }).trim();
}

/**
 * An image made from the runtime image with `file` at `/fn/index.js`, for `image:` functions
 * (`docker create` + `cp` + `commit`: no registry, no build). Returns the tag; remove it with
 * `dockerCli(['rmi', tag])`.
 */
export function imageWithHandler(file: string, tag: string): string {
  const id = dockerCli(['create', RUNTIME_IMAGE]);
  try {
    dockerCli(['cp', file, `${id}:/fn/index.js`]);
    dockerCli(['commit', id, tag]);
  } finally {
    dockerCli(['rm', '-f', id]);
  }
  return tag;
}
