/**
 * Runs the agent on one host: spawns the transport (`ssh … bash -s`), writes the script and the
 * optional release payload to its stdin, and parses the agent's `@verb …` report lines. Every
 * call has a deadline; a failure names the host and carries the agent's error or stderr.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

export type ReportLine =
  | { verb: 'fact'; key: string; value: string }
  | { verb: 'ok'; text: string }
  | { verb: 'change'; text: string }
  | {
      verb: 'state';
      kind: string;
      name: string;
      running: boolean;
      pid: string;
      release: string;
      health: string;
      workers: string;
      /** `current`, `old-release` or `new-config` (restart pending), `-` when stopped. */
      freshness: string;
    }
  | { verb: 'error'; text: string };

export interface AgentResult {
  reports: ReportLine[];
  /** Lines that were not reports (the agent's or ssh's own output). */
  other: string[];
  stderr: string;
}

export class HostError extends Error {
  override readonly name = 'HostError';
  constructor(
    readonly host: string,
    message: string,
    readonly result?: AgentResult,
  ) {
    super(`${host}: ${message}`);
  }
}

export function parseReport(line: string): ReportLine | null {
  const m = /^@(\w+) ?(.*)$/.exec(line);
  if (!m) return null;
  const verb = m[1] ?? '';
  const rest = m[2] ?? '';
  switch (verb) {
    case 'fact': {
      const [key = '', ...value] = rest.split(' ');
      return { verb: 'fact', key, value: value.join(' ') };
    }
    case 'ok':
      return { verb: 'ok', text: rest };
    case 'change':
      return { verb: 'change', text: rest };
    case 'error':
      return { verb: 'error', text: rest };
    case 'state': {
      const [
        kind = '',
        name = '',
        state = '',
        pid = '-',
        release = '-',
        health = '-',
        workers = '-',
        freshness = '-',
      ] = rest.split(' ');
      return {
        verb: 'state',
        kind,
        name,
        running: state === 'running',
        pid,
        release,
        health,
        workers,
        freshness,
      };
    }
    default:
      return null;
  }
}

export async function runAgent(
  host: string,
  argv: readonly string[],
  script: string,
  payloadPath: string | null,
  timeoutMs: number,
): Promise<AgentResult> {
  const [file, ...args] = argv;
  if (file === undefined) throw new HostError(host, 'empty transport command');
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  const feed = (async (): Promise<void> => {
    child.stdin.write(script);
    if (payloadPath) await pipeline(createReadStream(payloadPath), child.stdin);
    else child.stdin.end();
  })().catch(() => undefined); // a transport that exits early closes stdin; its exit code tells why
  const { code, error } = await exited;
  clearTimeout(timer);
  await feed;
  const reports: ReportLine[] = [];
  const other: string[] = [];
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const r = parseReport(line);
    if (r) reports.push(r);
    else other.push(line);
  }
  const result = { reports, other, stderr };
  if (error)
    throw new HostError(host, `cannot run \`${argv.join(' ')}\`: ${error.message}`, result);
  if (code !== 0) {
    const agentError = reports.find((r) => r.verb === 'error');
    const why =
      agentError?.verb === 'error'
        ? agentError.text
        : code === null
          ? `no answer within ${timeoutMs} ms`
          : `\`${argv.join(' ')}\` exited with code ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ') || other.slice(-3).join(' | ') || 'no output'}`;
    throw new HostError(host, why, result);
  }
  return result;
}
