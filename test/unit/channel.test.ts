import { describe, expect, it } from 'vitest';
import { Channel, type ChannelHandlers } from '../../shared/channel/channel.js';
import { AppError } from '../../shared/errors.js';
import { duplexPair, type PairEnd } from '../helpers/duplex-pair.js';

function connect(
  server: ChannelHandlers,
  highWaterMark?: number,
): { client: Channel; server: Channel; a: PairEnd; b: PairEnd } {
  const [a, b] = duplexPair(highWaterMark);
  return {
    client: new Channel(a, {}, { peer: 'server', deadlineTickMs: 5 }),
    server: new Channel(b, server, { peer: 'client' }),
    a,
    b,
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('channel', () => {
  it('multiplexes requests by id: answers that come back out of order reach their callers', async () => {
    const { client } = connect({
      request: async (m) => {
        const ms = (m.body as { wait: number }).wait;
        await new Promise((r) => setTimeout(r, ms));
        return { body: { echo: m.body }, data: Buffer.from(`d${ms}`) };
      },
    });
    const [slow, fast] = await Promise.all([
      client.request('echo', { wait: 40 }, { timeoutMs: 2_000 }),
      client.request('echo', { wait: 1 }, { timeoutMs: 2_000 }),
    ]);
    expect(slow.body).toEqual({ echo: { wait: 40 } });
    expect(slow.data?.toString()).toBe('d40');
    expect(fast.data?.toString()).toBe('d1');
  });

  it('writes every frame queued in one tick in one socket write, answers too', async () => {
    const { client, a, b } = connect({ request: (m) => ({ body: m.body }) });
    const answers = Array.from({ length: 50 }, (_, i) =>
      client.request('n', i, { timeoutMs: 2_000 }),
    );
    expect(a.writes).toBe(0); // nothing is written before the tick ends
    expect((await Promise.all(answers)).map((r) => r.body)).toEqual(answers.map((_, i) => i));
    expect(a.writes).toBe(1);
    expect(b.writes).toBe(1); // the 50 acknowledgements left together
  });

  it('delivers one-way messages in order', async () => {
    const got: unknown[] = [];
    const { client } = connect({ message: (m) => got.push([m.op, m.body, m.data?.toString()]) });
    client.send('a', 1);
    client.send('b', 2, Buffer.from('raw'));
    await tick();
    await tick();
    expect(got).toEqual([
      ['a', 1, undefined],
      ['b', 2, 'raw'],
    ]);
  });

  it("rebuilds the peer's AppError with its code, details and retryability", async () => {
    const { client } = connect({
      request: (m) => {
        if (m.op === 'missing')
          throw new AppError('OBJECT_NOT_FOUND', 'no object k', { details: { key: 'k' } });
        throw new AppError('STORE_UNAVAILABLE', 'redis down');
      },
    });
    const e1 = await client
      .request('missing', null, { timeoutMs: 1_000 })
      .catch((e: AppError) => e);
    expect(e1).toMatchObject({
      code: 'OBJECT_NOT_FOUND',
      retryable: false,
      statusCode: 404,
      details: { key: 'k' },
    });
    const e2 = await client.request('x', null, { timeoutMs: 1_000 }).catch((e: AppError) => e);
    expect(e2).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true, statusCode: 503 });
  });

  it('fails a request that gets no answer by its deadline, retryably, and ignores a late answer', async () => {
    let answer: (() => void) | undefined;
    const { client } = connect({
      request: () => new Promise((resolve) => (answer = () => resolve({ body: 'late' }))),
    });
    const started = Date.now();
    const err = await client.request('slow', null, { timeoutMs: 30 }).catch((e: AppError) => e);
    expect(err).toMatchObject({ code: 'WORKER_UNREACHABLE', retryable: true });
    expect((err as AppError).message).toMatch(/slow .* deadline/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    answer!();
    await tick();
    expect(client.inFlight).toBe(0);
    expect(await client.request('slow', null, { timeoutMs: 1_000 }).catch(() => 'x')).toBeDefined();
  });

  it('respects backpressure: nothing more is written until the socket drains', async () => {
    const got: number[] = [];
    const { client, a } = connect({ message: (m) => got.push(m.data!.length) }, 1024);
    a.hold();
    client.send('big', null, Buffer.alloc(64 * 1024));
    await tick();
    expect(client.writable).toBe(false);
    const writes = a.writes;
    client.send('next', null, Buffer.alloc(10));
    await tick();
    await tick();
    expect(a.writes).toBe(writes); // held in the queue, not pushed onto a full socket
    a.release();
    await client.drained();
    await tick();
    await tick();
    expect(client.writable).toBe(true);
    expect(got).toEqual([64 * 1024, 10]);
  });

  it('fails pending requests when the connection is lost, and refuses new ones', async () => {
    const { client, b } = connect({ request: () => new Promise(() => undefined) });
    const pending = client.request('hang', null, { timeoutMs: 10_000 });
    await tick();
    b.destroy();
    await expect(pending).rejects.toMatchObject({ code: 'WORKER_UNREACHABLE', retryable: true });
    expect(client.open).toBe(false);
    await expect(client.request('x', null, { timeoutMs: 100 })).rejects.toMatchObject({
      code: 'WORKER_UNREACHABLE',
    });
  });

  it('closes cleanly: a request being handled is still answered, then both ends see the end', async () => {
    let release!: () => void;
    const { client, server } = connect({
      request: () => new Promise((r) => (release = () => r({ body: 'done' }))),
    });
    const pending = client.request('work', null, { timeoutMs: 5_000 });
    await tick();
    await tick();
    const closing = server.close();
    release();
    expect((await pending).body).toBe('done');
    await closing;
    await new Promise<void>((r) => client.onClose(r));
    expect(server.open).toBe(false);
    await server.close(); // idempotent
  });

  it('closes the connection on a broken frame and says why', async () => {
    const [a, b] = duplexPair();
    const errors: string[] = [];
    const server = new Channel(
      b,
      {},
      { peer: 'x', onProtocolError: (e) => errors.push(e.message) },
    );
    a.write(Buffer.from([10, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    await new Promise<void>((r) => server.onClose(r));
    expect(errors[0]).toMatch(/unknown frame type 99/);
  });
});
