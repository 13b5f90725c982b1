/**
 * Redis for the benchmarks and the tests: where it is, a unique key prefix per run, and the
 * inspection (SCAN, cleanup of one prefix) that the runtime itself must never do. The tests'
 * "is it up, and may we skip" rule lives in test/helpers/redis.ts.
 *
 * It speaks RESP over a plain socket so that ioredis stays imported by one adapter file only
 * (faastore/redis.ts). One connection per command: slow, simple, and fine off the hot path.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';

export function redisUrl(): string {
  return process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
}

/** `ff-test:<name>:<random>:`, unique per call. */
export function uniquePrefix(name: string): string {
  return `ff-test:${name}:${randomBytes(4).toString('hex')}:`;
}

/** Every key under `prefix`, found with SCAN (tests only). */
export async function scanKeys(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = await redisCommand([
      'SCAN',
      cursor,
      'MATCH',
      `${escapeGlob(prefix)}*`,
      'COUNT',
      '1000',
    ]);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || !Array.isArray(reply[1])) {
      throw new Error(`unexpected SCAN reply ${JSON.stringify(reply)}`);
    }
    cursor = reply[0];
    for (const key of reply[1]) if (typeof key === 'string') keys.push(key);
  } while (cursor !== '0');
  return keys;
}

/** Removes every key under `prefix` and nothing else. */
export async function deletePrefix(prefix: string): Promise<void> {
  const keys = await scanKeys(prefix);
  for (let i = 0; i < keys.length; i += 500)
    await redisCommand(['UNLINK', ...keys.slice(i, i + 500)]);
}

/** Remaining TTL of `key` in ms (-2 missing, -1 no TTL). */
export async function pttl(key: string): Promise<number> {
  const reply = await redisCommand(['PTTL', key]);
  if (typeof reply !== 'number') throw new Error(`unexpected PTTL reply ${JSON.stringify(reply)}`);
  return reply;
}

type Reply = string | number | null | Reply[];

/** Sends one command (after AUTH and SELECT from the URL) and returns its reply. */
export async function redisCommand(args: readonly string[], timeoutMs = 2000): Promise<Reply> {
  const url = new URL(redisUrl());
  const commands: string[][] = [];
  if (url.password !== '') {
    const password = decodeURIComponent(url.password);
    commands.push(
      url.username === ''
        ? ['AUTH', password]
        : ['AUTH', decodeURIComponent(url.username), password],
    );
  }
  const db = url.pathname.replace('/', '');
  if (db !== '') commands.push(['SELECT', db]);
  commands.push([...args]);

  const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
  socket.setTimeout(timeoutMs);
  try {
    const replies = await new Promise<Reply[]>((resolve, reject) => {
      let buffer = Buffer.alloc(0);
      socket.on('timeout', () => reject(new Error(`no reply within ${timeoutMs} ms`)));
      socket.on('error', reject);
      socket.on('connect', () => socket.write(commands.map(encodeCommand).join('')));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        const parsed: Reply[] = [];
        let at = 0;
        try {
          while (parsed.length < commands.length) {
            const next = parseReply(buffer, at);
            if (next === null) return;
            parsed.push(next.value);
            at = next.end;
          }
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        resolve(parsed);
      });
    });
    return replies[replies.length - 1] ?? null;
  } finally {
    socket.destroy();
  }
}

function encodeCommand(args: readonly string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Parses one reply starting at `at`; null when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, at: number): { value: Reply; end: number } | null {
  const lineEnd = buf.indexOf('\r\n', at);
  if (lineEnd === -1) return null;
  const type = String.fromCharCode(buf[at]!);
  const line = buf.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      throw new Error(`redis error: ${line}`);
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buf.length < next + length + 2) return null;
      return { value: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (item === null) return null;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
