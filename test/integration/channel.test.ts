/**
 * Channels over real loopback sockets, opened by HTTP Upgrade on a server's own HTTP port:
 * - a request and a large object travel over the channel while the port still answers HTTP;
 * - the cluster token is enforced on the handshake (no token: UNAUTHORIZED, not retried);
 * - a peer without channels (404 to the upgrade) and a peer that does not know an operation
 *   are reached over HTTP instead, with the same results;
 * - a lost channel is opened again; while the peer is down, attempts are spaced by backoff;
 * - trigger batches carry an invocation's context once per connection; a receiver that forgot
 *   it gets it again, and every trigger arrives whole;
 * - prepares ahead reach the worker's scheduler on the `prepares` op.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ChannelServer } from '../../shared/channel/handshake.js';
import { op, OPS, serveOps, TriggerReceiver, type Op } from '../../shared/channel/ops.js';
import { PeerClient } from '../../shared/channel/peers.js';
import { ChannelPool } from '../../shared/channel/pool.js';
import type { AppError } from '../../shared/errors.js';
import { HttpClient } from '../../shared/http-client.js';
import {
  ReportBatch,
  type ChannelTriggerBatch,
  type Report,
  type Trigger,
} from '../../shared/schema/wire.js';
import type { InvocationId } from '../../shared/ids.js';
import { Type } from '@sinclair/typebox';
import { silentLogger } from '../../shared/logger.js';
import { PrepareScheduler } from '../../worker/sandbox/ahead.js';
import { workerChannelOps } from '../../worker/remote/channel-ops.js';
import type { Engine } from '../../worker/engine/engine.js';
import type { FaaStore } from '../../faastore/index.js';

interface Peer {
  url: string;
  server: Server;
  channels?: ChannelServer;
  httpHits: string[];
}

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of open.splice(0).reverse()) await close();
});

async function peer(o: {
  ops?: Record<string, Op>;
  token?: string;
  channels?: boolean;
  port?: number;
}): Promise<Peer> {
  const httpHits: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    httpHits.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      if (req.url === '/v1/internal/reports') {
        res.statusCode = 202;
        res.end('{"accepted":1}');
      } else {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ code: 'NOT_FOUND', message: `no route ${req.url}` }));
      }
    });
  });
  const channels =
    o.channels === false
      ? undefined
      : new ChannelServer(server, {
          handlers: serveOps(o.ops ?? {}),
          ...(o.token === undefined ? {} : { token: o.token }),
        });
  await new Promise<void>((r) => server.listen(o.port ?? 0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const p: Peer = { url, server, httpHits, ...(channels ? { channels } : {}) };
  open.push(() => stop(p));
  return p;
}

async function stop(p: Peer): Promise<void> {
  await p.channels?.close();
  p.server.closeAllConnections();
  await new Promise<void>((r) => p.server.close(() => r()));
}

function client(
  o: { token?: string; backoff?: { baseMs: number; maxMs: number } } = {},
): PeerClient {
  const http = new HttpClient(o.token === undefined ? {} : { token: o.token });
  const pool = new ChannelPool({
    ...(o.token === undefined ? {} : { token: o.token }),
    ...(o.backoff ? { backoff: o.backoff } : {}),
  });
  const c = new PeerClient(http, pool);
  open.push(async () => {
    await c.close();
    await http.close();
  });
  return c;
}

const reportsOp = (got: unknown[]): Op =>
  op(ReportBatch, (b) => {
    got.push(...b.reports);
    return { body: { accepted: b.reports.length } };
  });

const report: Report = {
  kind: 'sink',
  invocationId: 'i1' as InvocationId,
  node: 'n',
  skipped: true,
};

describe('channels', () => {
  it('carries requests and large objects on the HTTP port, which still answers HTTP', async () => {
    const got: unknown[] = [];
    const big = Buffer.alloc(8 * 1024 * 1024 + 3, 7);
    const p = await peer({
      ops: {
        [OPS.reports]: reportsOp(got),
        [OPS.objectGet]: op(Type.Object({ key: Type.String() }), (b) => ({
          data: b.key === 'big' ? big : Buffer.from(b.key),
        })),
      },
    });
    const c = client();
    await c.reports(p.url, [report], 1_000);
    expect(got).toEqual([report]);
    expect((await c.getObject(p.url, 'big', 5_000)).equals(big)).toBe(true);
    expect(p.httpHits).toEqual([]);
    expect(p.channels!.channels.size).toBe(1); // one connection for all of it
    const res = await fetch(`${p.url}/healthz`);
    expect(res.status).toBe(404); // plain HTTP on the same port
    expect(p.httpHits).toEqual(['GET /healthz']);
  });

  it('carries prepares ahead to the worker’s scheduler, which starts them on its sandbox', async () => {
    const asked: { key: string; ttlMs: number; want: number; needBy: number }[] = [];
    const ahead = new PrepareScheduler({
      sandbox: {
        prepareAhead: (key, ttlMs, want = 1, needBy = 0) => {
          asked.push({ key, ttlMs, want, needBy });
          return Promise.resolve(true);
        },
      },
      logger: silentLogger,
    });
    open.push(() => Promise.resolve(ahead.close()));
    const p = await peer({
      ops: {
        [OPS.prepares]: workerChannelOps({
          engine: {} as Engine,
          store: () => ({}) as FaaStore,
          release: () => Promise.resolve(),
          triggers: new TriggerReceiver(() => undefined),
          ahead,
        })[OPS.prepares]!,
      },
    });
    const startedAt = Date.now();
    await client().prepares(
      p.url,
      [
        {
          workflow: 'wf',
          version: 2,
          function: 'f',
          node: 'n',
          startedAt,
          atMs: 0,
          needMs: 40,
          ttlMs: 900,
        },
        {
          workflow: 'wf',
          version: 2,
          function: 'g',
          node: 'm',
          startedAt,
          atMs: 0,
          ttlMs: 900,
          count: 2,
        },
      ],
      1_000,
    );
    expect(p.httpHits).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
    expect(asked.map(({ key, ttlMs, want }) => ({ key, ttlMs, want }))).toEqual([
      { key: 'wf@2/f', ttlMs: 900, want: 1 },
      { key: 'wf@2/g', ttlMs: 900, want: 2 },
      { key: 'wf@2/g', ttlMs: 900, want: 2 },
    ]);
    // The deadline at the gate is the node's predicted start (needMs), else when it fires.
    expect(asked[0]!.needBy).toBe(startedAt + 40);
    expect(asked[1]!.needBy).toBe(startedAt);
    await expect(
      client().prepares(p.url, [{ workflow: 'wf' } as never], 1_000),
    ).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('refuses a channel without the cluster token, and accepts it with the token', async () => {
    const got: unknown[] = [];
    const p = await peer({ ops: { [OPS.reports]: reportsOp(got) }, token: 'secret-token' });
    const err = await client()
      .reports(p.url, [report], 1_000)
      .catch((e: AppError) => e);
    expect(err).toMatchObject({ code: 'UNAUTHORIZED', retryable: false });
    expect(p.channels!.channels.size).toBe(0);
    const wrong = await client({ token: 'wrong-token!' })
      .reports(p.url, [report], 1_000)
      .catch((e: AppError) => e);
    expect(wrong).toMatchObject({ code: 'UNAUTHORIZED' });
    await client({ token: 'secret-token' }).reports(p.url, [report], 1_000);
    expect(got).toHaveLength(1);
  });

  it('falls back to HTTP for a peer without channels and for an operation the peer does not know', async () => {
    const old = await peer({ channels: false });
    const c = client();
    await c.reports(old.url, [report], 1_000);
    expect(old.httpHits).toEqual(['GET /v1/channel', 'POST /v1/internal/reports']);
    await c.reports(old.url, [report], 1_000); // no second handshake
    expect(old.httpHits.filter((h) => h === 'GET /v1/channel')).toHaveLength(1);

    const partial = await peer({ ops: {} });
    await c.reports(partial.url, [report], 1_000);
    await c.reports(partial.url, [report], 1_000);
    expect(partial.httpHits).toEqual(['POST /v1/internal/reports', 'POST /v1/internal/reports']);
  });

  it('opens a lost channel again, spacing attempts by backoff while the peer is down', async () => {
    const got: unknown[] = [];
    const ops = { [OPS.reports]: reportsOp(got) };
    const p = await peer({ ops });
    const c = client({ backoff: { baseMs: 200, maxMs: 200 } });
    await c.reports(p.url, [report], 1_000);
    const first = [...p.channels!.channels][0]!;
    first.destroy();
    await c.reports(p.url, [report], 1_000).catch(() => undefined); // may race the loss
    await c.reports(p.url, [report], 1_000);
    expect([...p.channels!.channels][0]).not.toBe(first);

    const port = Number(new URL(p.url).port);
    await stop(p);
    open.pop();
    const down = await c.reports(p.url, [report], 500).catch((e: AppError) => e);
    expect(down).toMatchObject({ code: 'WORKER_UNREACHABLE', retryable: true });
    const fast = await c.reports(p.url, [report], 500).catch((e: AppError) => e);
    expect((fast as AppError).message).toMatch(/reconnecting in \d+ ms/);

    const back = await peer({ ops, port });
    const until = Date.now() + 5_000;
    for (;;) {
      try {
        await c.reports(back.url, [report], 500);
        break;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(back.channels!.channels.size).toBe(1);
  });

  it('sends an invocation context once per connection, and again to a receiver that forgot it', async () => {
    const accepted: Trigger[] = [];
    const batches: ChannelTriggerBatch[] = [];
    const receiver = new TriggerReceiver((t) => accepted.push(...t));
    const p = await peer({
      ops: {
        [OPS.triggers]: {
          check: receiver.op.check,
          handle: (body, data, ch) => {
            batches.push(body as ChannelTriggerBatch);
            return receiver.op.handle(body, data, ch);
          },
        },
      },
    });
    const ctx = {
      tenant: 'default',
      deadline: Date.now() + 60_000,
      input: { tier: 'inline' as const, data: 'e30=', sizeBytes: 2 },
      master: 'http://127.0.0.1:1',
      mode: 'worker' as const,
    };
    const placement = { groups: ['w1'], workers: { w1: p.url } };
    const t = (node: string): Trigger => ({
      invocationId: 'inv-1' as InvocationId,
      workflow: 'wf',
      version: 1,
      node,
      from: 'a',
      skip: true,
      placement,
      ctx,
    });
    const c = client();
    await c.triggers(p.url, [t('b'), t('c')], 1_000);
    await c.triggers(p.url, [t('d')], 1_000);
    expect(batches.map((b) => b.contexts?.length ?? 0)).toEqual([1, 0]);
    receiver.forget('inv-1');
    await c.triggers(p.url, [t('e')], 1_000);
    expect(batches.map((b) => b.contexts?.length ?? 0)).toEqual([1, 0, 0, 1]);
    expect(accepted).toEqual([t('b'), t('c'), t('d'), t('e')]);
  });
});
