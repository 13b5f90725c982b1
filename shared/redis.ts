/**
 * The one file that imports ioredis: connecting to Redis the way every faasflow component does.
 *
 * The connection is made eagerly with a bounded timeout and no retries, so a wrong or
 * unreachable URL is a clear error at start. Once connected the offline queue is off: while the
 * connection is down every command fails at once instead of hanging, and ioredis reconnects in
 * the background with capped backoff; losing and regaining it is logged once each.
 */
import { Redis } from 'ioredis';
import { AppError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

export type { Redis } from 'ioredis';

export interface RedisConnectOptions {
  /** Limit on establishing the connection. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Limit on one command's reply; large values need room. Default 30000 ms. */
  commandTimeoutMs?: number;
  /** Ceiling of the reconnect backoff after a lost connection. Default 2000 ms. */
  maxReconnectDelayMs?: number;
  logger?: Logger;
  /** Who connects, for messages: `FaaStore`, `harvesting`. */
  purpose: string;
}

/** `redis://user:secret@host` → `redis://user:***@host`; never echoes a password. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable redis url>';
  }
}

/**
 * A connected client and the URL with its password redacted. Rejects with CONFIG_INVALID for a
 * URL ioredis cannot take, STORE_UNAVAILABLE (retryable) when Redis does not answer in time.
 */
export async function connectRedis(
  url: string,
  o: RedisConnectOptions,
): Promise<{ client: Redis; safeUrl: string }> {
  const safeUrl = redactRedisUrl(url);
  const connectTimeoutMs = o.connectTimeoutMs ?? 2000;
  const maxReconnectDelayMs = o.maxReconnectDelayMs ?? 2000;
  let connected = false;
  let client: Redis;
  try {
    client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: connectTimeoutMs,
      commandTimeout: o.commandTimeoutMs ?? 30_000,
      maxRetriesPerRequest: 1,
      // Before the first connect succeeds, fail instead of retrying: the caller reports it.
      retryStrategy: (times) => (connected ? Math.min(times * 100, maxReconnectDelayMs) : null),
    });
  } catch (err) {
    throw new AppError(
      'CONFIG_INVALID',
      `${o.purpose}: invalid Redis URL ${safeUrl}: ${messageOf(err)}`,
      {
        cause: err,
      },
    );
  }
  const logger = (o.logger ?? silentLogger).child({ redis: safeUrl });
  let reportedDown = false;
  client.on('error', (err: Error) => {
    if (!connected || reportedDown) return;
    reportedDown = true;
    logger.warn({ err }, `${o.purpose}: redis connection lost`);
  });
  client.on('ready', () => {
    if (reportedDown) logger.info(`${o.purpose}: redis connection restored`);
    reportedDown = false;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new AppError(
      'STORE_UNAVAILABLE',
      `${o.purpose} cannot connect to Redis at ${safeUrl}: ${messageOf(err)}`,
      { cause: err, details: { url: safeUrl } },
    );
  } finally {
    clearTimeout(timer);
  }
  connected = true;
  client.options.enableOfflineQueue = false;
  return { client, safeUrl };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One command of a Redis-backed component: STORE_UNAVAILABLE (retryable) once `closed`, or when
 * the driver fails; AppErrors pass as they are.
 */
export async function redisCall<T>(
  what: string,
  closed: boolean,
  op: () => Promise<T>,
): Promise<T> {
  if (closed) throw new AppError('STORE_UNAVAILABLE', `the ${what} is closed`);
  try {
    return await op();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('STORE_UNAVAILABLE', `${what}: Redis failed: ${messageOf(err)}`, {
      cause: err,
    });
  }
}

/** Closes a client politely, or at once when Redis does not answer. */
export async function quitRedis(client: Redis): Promise<void> {
  await client.quit().catch(() => client.disconnect());
}
