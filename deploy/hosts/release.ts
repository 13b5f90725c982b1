/**
 * The release every host runs: a gzipped tar of the compiled code (dist/), package.json and its
 * lock, the production dependencies (node_modules entries the lock does not mark `dev`) and this
 * folder's agent. The tar is byte-for-byte reproducible (sorted names, fixed mtime and owner, no
 * gzip timestamp), so its id — version and sha256 — only changes when the content does, and
 * installing the same build twice changes nothing.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export interface Release {
  /** `<version>-<first 12 hex of sha256>`. */
  id: string;
  path: string;
  sizeBytes: number;
  sha256: string;
}

/** The repository (or installed package) root: the nearest folder above this file with a package.json. */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${from}`);
    dir = up;
  }
  return dir;
}

/** Top-level paths that go into the release, relative to `root`. */
export function releasePaths(root: string): string[] {
  for (const entry of [
    'dist/master/main.js',
    'dist/worker/main.js',
    'deploy/hosts/agent.sh',
    'package-lock.json',
  ]) {
    if (!existsSync(join(root, entry))) {
      throw new Error(
        `${join(root, entry)} is missing: run \`npm ci && npm run build\` in ${root} first`,
      );
    }
  }
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages?: Record<string, { dev?: boolean; optional?: boolean }>;
  };
  const modules = Object.entries(lock.packages ?? {})
    .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev !== true)
    // Nested packages travel inside their parent's folder.
    .filter(([path]) => !path.slice('node_modules/'.length).includes('/node_modules/'))
    // Optional packages of other platforms (lmdb's, msgpackr's prebuilt binaries) are not
    // installed here, and the hosts run this platform's.
    .filter(([path, meta]) => meta.optional !== true || existsSync(join(root, path)))
    .map(([path]) => path);
  const missing = modules.filter((m) => !existsSync(join(root, m)));
  if (missing.length > 0) {
    throw new Error(
      `production dependencies missing under ${root}: ${missing.slice(0, 5).join(', ')}; run \`npm ci\``,
    );
  }
  return ['dist', 'package.json', 'package-lock.json', 'deploy/hosts/agent.sh', ...modules].sort();
}

/** Builds the release tarball of `root` into the temp folder and names it by its content. */
export async function buildRelease(root = packageRoot()): Promise<Release> {
  const version =
    (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string })
      .version ?? '0.0.0';
  const paths = releasePaths(root);
  const tmp = join(tmpdir(), `faasflow-release-${process.pid}-${Date.now()}.tgz`);
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const tar = spawn(
    'tar',
    [
      '--create',
      '--file=-',
      '--sort=name',
      '--mtime=@0',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mode=go-w',
      '-C',
      root,
      '--',
      ...paths,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  tar.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.once('error', (err) =>
      reject(new Error(`cannot run tar (GNU tar is needed): ${err.message}`)),
    );
    tar.once('close', (code) => resolve(code));
  });
  const gzip = createGzip({ level: 6 });
  gzip.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    sizeBytes += chunk.length;
  });
  await pipeline(tar.stdout, gzip, createWriteStream(tmp));
  const code = await exited;
  if (code !== 0) throw new Error(`tar failed with code ${String(code)}: ${stderr.trim()}`);
  const sha256 = hash.digest('hex');
  const id = `${version}-${sha256.slice(0, 12)}`;
  const path = join(tmpdir(), `faasflow-release-${id}.tgz`);
  renameSync(tmp, path);
  return { id, path, sizeBytes, sha256 };
}
