/**
 * Redis on a namespace host, for clusters whose workers exchange data through it: started bound
 * to the host's address only, without persistence, and ready when it answers PING through the
 * uplink.
 */
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostSet, NetnsHost } from './hosts.js';

export interface NetnsRedis {
  url: string;
  child: ChildProcess;
  /** SIGTERM, and waits for the exit. Idempotent. */
  stop(): Promise<void>;
}

export async function startRedis(
  hosts: HostSet,
  host: NetnsHost,
  o: { port?: number; logFile?: string; readyTimeoutMs?: number } = {},
): Promise<NetnsRedis> {
  const port = o.port ?? 6379;
  const child = hosts.spawn(
    host,
    // Protected mode refuses every non-loopback client without a password; the host is isolated.
    [
      'redis-server',
      '--bind',
      host.address,
      '--port',
      String(port),
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ],
    { stdio: ['ignore', o.logFile ? 'pipe' : 'ignore', o.logFile ? 'pipe' : 'ignore'] },
  );
  if (o.logFile) {
    const out = createWriteStream(o.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const timeoutMs = o.readyTimeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(
        `redis-server on ${host.name} (${host.address}) exited with code ${child.exitCode}`,
      );
    if (await ping(host.address, port))
      return { url: `redis://${host.address}:${port}`, child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `redis-server on ${host.address}:${port} did not answer PING within ${timeoutMs} ms`,
      );
    }
    await sleep(50);
  }
}

function ping(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1_000 });
    let reply = '';
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}
