/**
 * Where the CLI finds an API key by itself: `faasflow up --auth on` writes the cluster admin
 * key of its master here, keyed by the master's URL, and every client command looks its
 * `--master` up when no `--api-key` (or FAASFLOW_API_KEY) is given. The file is JSON
 * `{ "<master url>": { "apiKey": "..." } }`, mode 0600, at FAASFLOW_CREDENTIALS or
 * `~/.faasflow/credentials.json`.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env['FAASFLOW_CREDENTIALS'] ?? join(homedir(), '.faasflow', 'credentials.json');
}

type Credentials = Record<string, { apiKey: string }>;

function read(file: string): Credentials {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Credentials)
      : {};
  } catch {
    throw new Error(`credentials file ${file} is not JSON; fix or delete it`);
  }
}

/** `http://127.0.0.1:8080/` and `http://127.0.0.1:8080` are one master. */
function normal(url: string): string {
  return url.replace(/\/+$/, '');
}

export function apiKeyFor(master: string, file: string = credentialsFile()): string | undefined {
  const entry = read(file)[normal(master)];
  return typeof entry?.apiKey === 'string' ? entry.apiKey : undefined;
}

/** Records `apiKey` for `master` (replacing its earlier one), atomically and 0600. */
export function saveApiKey(master: string, apiKey: string, file: string = credentialsFile()): void {
  const all = { ...read(file), [normal(master)]: { apiKey } };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
