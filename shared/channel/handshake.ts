/**
 * Opening a channel on the process's own HTTP port (docs/design.md §4, "Channels"): the client
 * sends `GET /v1/channel` with `connection: upgrade`, `upgrade: faasflow-frames/1` and, in a
 * cluster with a token, `authorization: Bearer <token>` (checked exactly as the internal HTTP
 * routes check it); the server answers `101 Switching Protocols` and both ends speak frames.
 * Any other answer is a refusal: 401 means a wrong token, 5xx a peer that is stopping (try
 * again later); anything else (an older peer's 404, a peer with channels off) means "use HTTP".
 */
import { request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { AppError, isWireError } from '../errors.js';
import { tokenMatches } from '../http.js';
import { Channel, type ChannelHandlers } from './channel.js';

export const CHANNEL_PATH = '/v1/channel';
export const CHANNEL_PROTOCOL = 'faasflow-frames/1';

/** The peer answered the upgrade with something other than 101 (and not 401): use HTTP. */
export class ChannelRefused extends Error {
  override readonly name = 'ChannelRefused';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AcceptOptions {
  token?: string;
  handlers: ChannelHandlers;
  /** Told about refused handshakes and broken frames (the process's logger). */
  onWarning?: (what: string, details: Record<string, unknown>) => void;
  maxFrameBytes?: number;
  /** Counts the open channels. */
  stats?: { open: number };
}

/** The channels a server accepted; `close()` ends them all. */
export class ChannelServer {
  readonly channels = new Set<Channel>();
  private closed = false;

  constructor(
    server: Server,
    private readonly o: AcceptOptions,
  ) {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.upgrade(req, socket, head),
    );
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const protocol = (req.headers.upgrade ?? '').toLowerCase();
    if (this.closed) {
      // Stopping, not unwilling: the caller retries (and finds our successor), it does not fall back.
      refuse(socket, 503, { code: 'WORKER_UNREACHABLE', message: 'the process is stopping' });
      return;
    }
    if (path !== CHANNEL_PATH || protocol !== CHANNEL_PROTOCOL) {
      refuse(socket, 404, {
        code: 'NOT_FOUND',
        message: `no upgrade to ${protocol || '(none)'} at ${path ?? ''}; channels are GET ${CHANNEL_PATH} with upgrade: ${CHANNEL_PROTOCOL}`,
      });
      return;
    }
    if (this.o.token !== undefined && !tokenMatches(req.headers.authorization, this.o.token)) {
      this.o.onWarning?.('rejected channel without a valid cluster token', {
        ip: req.socket.remoteAddress,
      });
      refuse(socket, 401, {
        code: 'UNAUTHORIZED',
        message: 'missing or wrong cluster token (authorization: Bearer <token>)',
      });
      return;
    }
    if (socket instanceof Socket) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: ${CHANNEL_PROTOCOL}\r\n\r\n`,
    );
    const peer = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    const channel = new Channel(
      socket,
      this.o.handlers,
      {
        peer,
        ...(this.o.maxFrameBytes === undefined ? {} : { maxFrameBytes: this.o.maxFrameBytes }),
        onProtocolError: (err) =>
          this.o.onWarning?.('channel closed on a broken frame', { peer, err: err.message }),
      },
      head,
    );
    this.channels.add(channel);
    if (this.o.stats) this.o.stats.open++;
    channel.onClose(() => {
      this.channels.delete(channel);
      if (this.o.stats) this.o.stats.open--;
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.channels].map((c) => c.close()));
  }
}

function refuse(socket: Duplex, status: number, body: { code: string; message: string }): void {
  const text = JSON.stringify(body);
  const reason =
    status === 401 ? 'Unauthorized' : status === 503 ? 'Service Unavailable' : 'Not Found';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
}

export interface DialOptions {
  token?: string;
  handlers: ChannelHandlers;
  timeoutMs: number;
  maxFrameBytes?: number;
  onProtocolError?: (err: Error) => void;
}

/**
 * Opens a channel to the process at `origin` (`http://host:port`). Rejects with ChannelRefused
 * when the peer does not speak channels, UNAUTHORIZED on a wrong token, WORKER_UNREACHABLE when
 * it cannot be reached.
 */
export function dial(origin: string, o: DialOptions): Promise<Channel> {
  const u = new URL(origin);
  if (u.protocol !== 'http:')
    return Promise.reject(new ChannelRefused(0, `channels need an http: origin, got ${origin}`));
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {
      connection: 'upgrade',
      upgrade: CHANNEL_PROTOCOL,
    };
    if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
    const req = httpRequest({
      host: u.hostname,
      port: u.port === '' ? 80 : Number(u.port),
      path: CHANNEL_PATH,
      method: 'GET',
      headers,
      timeout: o.timeoutMs,
    });
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      req.destroy();
      reject(err);
    };
    req.on('timeout', () =>
      fail(new AppError('WORKER_UNREACHABLE', `channel handshake with ${origin} timed out`)),
    );
    req.on('error', (err) =>
      fail(
        new AppError('WORKER_UNREACHABLE', `channel to ${origin} failed: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        if (status >= 500)
          fail(
            new AppError(
              'WORKER_UNREACHABLE',
              `${origin} answered the channel upgrade with ${status}`,
              {
                statusCode: status,
              },
            ),
          );
        else if (status === 401)
          fail(
            isWireError(body)
              ? AppError.fromWire(body, 401)
              : new AppError('UNAUTHORIZED', `${origin} refused the channel: wrong cluster token`),
          );
        else
          fail(new ChannelRefused(status, `${origin} answered the channel upgrade with ${status}`));
      });
    });
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      if (settled) {
        socket.destroy();
        return;
      }
      settled = true;
      socket.setTimeout(0);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      resolve(
        new Channel(
          socket,
          o.handlers,
          {
            peer: origin,
            ...(o.maxFrameBytes === undefined ? {} : { maxFrameBytes: o.maxFrameBytes }),
            ...(o.onProtocolError === undefined ? {} : { onProtocolError: o.onProtocolError }),
          },
          head,
        ),
      );
      void res;
    });
    req.end();
  });
}
