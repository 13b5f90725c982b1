/**
 * The HTTP client of master and workers (the only undici import): one keep-alive Pool per peer
 * origin, JSON and binary requests with a per-attempt deadline, and errors rebuilt from the
 * `{code, message, details}` bodies peers answer with.
 */
import { Pool, type Dispatcher } from 'undici';
import { AppError, isWireError } from './errors.js';
import type { ClientTls } from './tls.js';

export interface HttpClientOptions {
  /** Sent as `authorization: Bearer <token>` on every request. */
  token?: string;
  /** Connections per peer. Default 16. */
  connections?: number;
  /** For https peers: the CA to verify them by, and the client certificate (mutual TLS). */
  tls?: ClientTls;
}

export class HttpClient {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly options: HttpClientOptions = {}) {}

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) {
      if (this.closed) throw new AppError('WORKER_UNREACHABLE', 'http client is closed');
      p = new Pool(origin, {
        connections: this.options.connections ?? 16,
        keepAliveTimeout: 30_000,
        pipelining: 1,
        connect: { timeout: 5_000, ...(this.options.tls ?? {}) },
      });
      this.pools.set(origin, p);
    }
    return p;
  }

  /** Sends a request; resolves with status and body bytes. Network failures become WORKER_UNREACHABLE. */
  async request(
    url: string,
    init: {
      method: Dispatcher.HttpMethod;
      body?: string | Buffer;
      contentType?: string;
      timeoutMs: number;
      /**
       * Sent as the `authorization` header instead of the cluster token: a client's own header,
       * passed on by a route that answers for the master (the master judges it); null sends none.
       */
      authorization?: string | null;
    },
  ): Promise<{ status: number; body: Buffer }> {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (init.contentType) headers['content-type'] = init.contentType;
    if (init.authorization !== undefined) {
      if (init.authorization !== null) headers['authorization'] = init.authorization;
    } else if (this.options.token) headers['authorization'] = `Bearer ${this.options.token}`;
    try {
      const res = await this.pool(u.origin).request({
        path: u.pathname + u.search,
        method: init.method,
        headers,
        body: init.body ?? null,
        // undici's own timers; an AbortSignal per request would cost a timer on the hot path.
        headersTimeout: init.timeoutMs,
        bodyTimeout: init.timeoutMs,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, body };
    } catch (err) {
      throw new AppError(
        'WORKER_UNREACHABLE',
        `${init.method} ${u.origin}${u.pathname} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  async json(
    url: string,
    method: Dispatcher.HttpMethod,
    payload: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    const res = await this.request(url, {
      method,
      timeoutMs,
      ...(payload === undefined
        ? {}
        : { body: JSON.stringify(payload), contentType: 'application/json' }),
    });
    if (res.status >= 400) throw errorFromResponse(url, res.status, res.body);
    return res.body.length === 0 ? null : (JSON.parse(res.body.toString('utf8')) as unknown);
  }

  async close(): Promise<void> {
    this.closed = true;
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((p) => p.close()));
  }
}

/** Rebuilds the peer's AppError; 5xx, 429 and network errors stay retryable. */
export function errorFromResponse(url: string, status: number, body: Buffer): AppError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const retryable = status >= 500 || status === 429;
  if (isWireError(parsed)) {
    const e = AppError.fromWire(parsed, status);
    return new AppError(e.code, e.message, { details: e.details, statusCode: status, retryable });
  }
  return new AppError(
    retryable ? 'WORKER_UNREACHABLE' : 'BAD_REQUEST',
    `${url} answered ${status}`,
    { statusCode: status, retryable },
  );
}
