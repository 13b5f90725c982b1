/**
 * A running worker: owns the store, the sandbox, the engine, the HTTP server and the membership
 * loop, and closes them in reverse order. `main.ts` only reads config and signals.
 */
import { parseLabels } from '../shared/labels.js';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { routesOf, type RouteInfo } from '../shared/http.js';
import { AppError } from '../shared/errors.js';
import { parseWorkerId, type InvocationId, type WorkerId } from '../shared/ids.js';
import type { Logger } from '../shared/logger.js';
import { createRedisTier, FaaStore } from '../faastore/index.js';
import { buildWorkerApp } from './app.js';
import type { WorkerConfig } from './config.js';
import { DeploymentManager, linkFunctionModules, ownModules } from './deployer.js';
import { Engine } from './engine/engine.js';
import { errorFromResponse, HttpClient } from '../shared/http-client.js';
import { Expressions } from '../shared/expressions.js';
import { ReleaseBatcher } from '../shared/invocation/releases.js';
import { IngressCoordinator } from './ingress/coordinator.js';
import { IngressModels } from './ingress/harvest.js';
import { RecordShipper } from './ingress/records.js';
import { PrepareScheduler } from './sandbox/ahead.js';
import { ViewHolder } from './ingress/view.js';
import { checkTriggerTenancy } from '../shared/tenancy.js';
import { loadTls } from '../shared/tls.js';
import type { Journal } from '../shared/journal.js';
import { RedisJournal } from '../shared/journal-redis.js';
import { RedisLease } from '../shared/lease.js';
import { ChannelServer } from '../shared/channel/handshake.js';
import { ChannelStats, serveOps, TriggerReceiver } from '../shared/channel/ops.js';
import { PeerClient } from '../shared/channel/peers.js';
import { KeyedMeter, RoutingTables } from './engine/keyed.js';
import { TreeCpuSampler } from './tree-cpu.js';
import { ChannelPool } from '../shared/channel/pool.js';
import { workerChannelOps } from './remote/channel-ops.js';
import { MasterClient } from './remote/master-client.js';
import { ChannelTransport } from './remote/transport.js';
import { openSandbox } from './sandbox/docker-select.js';
import { IngressChains } from './ingress/chains.js';
import type { Sandbox } from './sandbox/types.js';

/** Load added to a hot worker's replicas when a keyed call picks one (docs/guides/sharding.md). */
const HOT_REPLICA_PENALTY = 1_000_000;

export const WORKER_VERSION = '0.1.0';

export class WorkerServer {
  private closing: Promise<void> | null = null;
  private registered = false;

  private constructor(
    readonly id: WorkerId,
    readonly url: string,
    private readonly app: FastifyInstance,
    private readonly engine: Engine,
    private readonly store: FaaStore,
    private readonly sandbox: Sandbox,
    private readonly peers: PeerClient,
    private readonly transport: ChannelTransport,
    private readonly channels: ChannelServer | undefined,
    private readonly master: MasterClient,
    private readonly dataDir: { path: string; owned: boolean },
    private readonly logger: Logger,
    private readonly journal: Journal | undefined,
    private readonly drainTimeoutMs: number,
    private readonly lease: RedisLease | undefined,
    private readonly coordinator: IngressCoordinator,
    private readonly shipper: RecordShipper,
  ) {}

  static async start(config: WorkerConfig, rootLogger: Logger): Promise<WorkerServer> {
    const port = config.port;
    const provisionalId = config.workerId ?? `w-${process.pid}`;
    const id = parseWorkerId(provisionalId);
    // A bad label stops the start, naming it (before anything is opened).
    const labels = parseLabels(config.labels, '--labels');
    const logger = rootLogger.child({ workerId: id });
    const tls = loadTls(config);
    const http = new HttpClient({
      ...(config.token === undefined ? {} : { token: config.token }),
      tls: tls.client,
    });
    const warn = (what: string, details: Record<string, unknown>): void =>
      logger.warn(details, what);
    const peers = new PeerClient(
      http,
      config.transport === 'channel'
        ? new ChannelPool({
            ...(config.token === undefined ? {} : { token: config.token }),
            onWarning: warn,
          })
        : null,
    );
    const transport = new ChannelTransport(peers, logger);
    const dataDir = config.dataDir
      ? { path: config.dataDir, owned: false }
      : { path: await mkdtemp(join(tmpdir(), `faasflow-${id}-`)), owned: true };
    // Sandboxes run as an unprivileged user (sandboxUser): it may pass through the folder and
    // read the handlers under it, not list it.
    if (dataDir.owned) await chmod(dataDir.path, 0o711);
    await linkFunctionModules(
      dataDir.path,
      config.functionModules === 'none' ? null : (config.functionModules ?? ownModules()),
    );
    // runtime docker falls back to the process sandbox, with a warning, when no engine answers.
    const sandbox = await openSandbox({
      runtime: config.runtime,
      workerId: id,
      logger,
      maxConcurrencyPerFunction: config.maxConcurrencyPerFunction,
      idleMs: config.idleMs,
      profileIntervalMs: config.profileIntervalMs,
      confine: { user: config.sandboxUser, network: config.sandboxNetwork },
      ...(config.dockerSocket === undefined ? {} : { dockerSocket: config.dockerSocket }),
      runtimeImage: config.runtimeImage,
      prewarm: config.prewarm,
      startConcurrency: config.startConcurrency,
    });
    // The store writes this worker's URL into peer refs, and the URL is known only after listen
    // (port 0), so the store is created after listen; the engine and routes reach it through
    // `late`, which nothing calls before it is set (no trigger can arrive before registration).
    const redis = config.redisUrl
      ? await createRedisTier(config.redisUrl, { prefix: config.redisPrefix })
      : null;
    // The leading master's address after a failover (docs/durability.md, "Two masters").
    const lease = config.redisUrl
      ? await RedisLease.connect(config.redisUrl, {
          prefix: config.redisPrefix,
          logger,
          purpose: 'master lease (worker)',
        })
      : undefined;
    const following: { master?: MasterClient } = {};
    const journal = config.redisUrl
      ? await RedisJournal.connect(config.redisUrl, {
          prefix: config.redisPrefix,
          logger,
          purpose: 'journal (worker)',
        })
      : undefined;
    let url = config.advertiseUrl ?? '';
    const late: { store?: FaaStore; coordinator?: IngressCoordinator } = {};
    const store = (): FaaStore => {
      if (!late.store) throw new AppError('STORE_UNAVAILABLE', 'the worker is still starting');
      return late.store;
    };
    const routing = new RoutingTables();
    const keyedMeter = new KeyedMeter();
    const engine = new Engine({
      workerId: id,
      sandbox,
      store: {
        put: (...a) => store().put(...a),
        getBuffer: (r) => store().getBuffer(r),
        releaseInvocation: async (i) => {
          await store().releaseInvocation(i);
        },
      },
      // Reports addressed to this worker (the invocations it coordinates) stay in the process.
      transport: {
        sendTriggers: (...a) => transport.sendTriggers(...a),
        report: (to, report) => {
          const coordinator = late.coordinator;
          if (to === url && coordinator) queueMicrotask(() => coordinator.accept([report]));
          else transport.report(to, report);
        },
      },
      logger,
      sinkInlineMaxBytes: config.sinkInlineMaxBytes,
      rebalance: config.rebalance,
      fetchAhead: config.fetchAhead,
      maxCpu: config.cpu,
      ...(journal ? { journal } : {}),
      masterUrl: () => following.master?.followed,
      // A sharded foreach spreads over the view's workers that hold the workflow version.
      shards: {
        workers: (workflow, version) =>
          (view.last?.workers ?? []).filter(
            (w) => w.status === 'ready' && w.holds.includes(`${workflow}@${version}`),
          ),
        run: (to, req) =>
          peers.shardRun(to, req, Math.max(1, Math.ceil(req.deadline - Date.now()))),
      },
      // A keyed function's call goes to the replica its key's range names (the view's tables).
      keyed: {
        table: (workflow, fn) => routing.get(workflow, fn),
        // A replica on a hot worker is the last choice among its range's replicas.
        load: (w) => {
          const x = view.last?.workers.find((v) => v.id === w);
          return (x?.load ?? 0) + (x?.hot === true ? HOT_REPLICA_PENALTY : 0);
        },
        run: (to, req) => {
          const target = view.last?.workers.find((x) => x.id === to);
          if (target === undefined)
            return Promise.reject(
              new AppError('NO_WORKERS', `keyed replica ${to} is not in the placement view`),
            );
          return peers.keyedRun(target.url, req, req.timeoutMs + 5_000);
        },
        meter: keyedMeter,
      },
    });
    const deployer = new DeploymentManager(engine, sandbox, dataDir.path, logger);
    const view = new ViewHolder();
    const shipper = new RecordShipper(http, () => view.last?.master, logger);
    const ahead = new PrepareScheduler({ sandbox, logger, http, master: () => view.last?.master });
    const releases = new ReleaseBatcher(peers, logger, journal);
    const masterNow = (): string => {
      const m = view.last?.master;
      if (m === undefined) throw new AppError('NO_WORKERS', 'no master known yet');
      return m;
    };
    const models = new IngressModels(
      async (master, workflow) =>
        http.json(
          `${master}/v1/internal/models/${encodeURIComponent(workflow)}`,
          'GET',
          undefined,
          30_000,
        ),
      logger,
    );
    const chainKits = new IngressChains(
      async (master, workflow) =>
        http.json(
          `${master}/v1/internal/chains/${encodeURIComponent(workflow)}`,
          'GET',
          undefined,
          10_000,
        ),
      logger,
    );
    view.onView((v) => models.onView(v));
    view.onView((v) => routing.update(v.routing));
    const coordinator = new IngressCoordinator({
      models,
      chains: chainKits,
      workerId: id,
      url: () => url,
      view,
      deployments: engine,
      peers,
      exprs: new Expressions(),
      logger,
      inlineMaxBytes: config.inlineMaxBytes,
      ...(journal ? { journal } : {}),
      ports: {
        local: (triggers) => engine.accept(triggers),
        send: (to, triggers, deadline) => transport.sendTriggers(to, triggers, deadline),
        put: (...a) => store().put(...a),
        read: (ref) =>
          (ref.tier === 'redis' && redis !== null) ||
          ((ref.tier === 'memory' || ref.tier === 'peer') && ref.worker === id)
            ? store().getBuffer(ref)
            : undefined,
        release: (invocationId, urls) => releases.release(invocationId, urls),
        claimKey: async (key, invocationId, ttlMs) =>
          (
            (await http.json(
              `${masterNow()}/v1/internal/idempotency`,
              'POST',
              { key, invocationId, ttlMs },
              10_000,
            )) as { invocationId: string }
          ).invocationId as InvocationId,
        lookup: async (invocationId) => {
          const res = await http.request(
            `${masterNow()}/v1/invocations/${encodeURIComponent(invocationId)}`,
            { method: 'GET', timeoutMs: 10_000 },
          );
          if (res.status === 404) return undefined;
          if (res.status >= 400) throw errorFromResponse('master', res.status, res.body);
          return JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
        },
        ship: (doc) => shipper.ship(doc),
        prepare: (to, prepares) => {
          if (to === url) return ahead.schedule(prepares);
          peers
            .prepares(to, prepares, 5_000)
            .catch((err: unknown) => logger.debug({ err, url: to }, 'prepares not delivered'));
        },
      },
    });
    late.coordinator = coordinator;
    // The same all-or-nothing tenancy check as the HTTP trigger route (worker/app.ts).
    const triggers = new TriggerReceiver((batch) => {
      for (const t of batch) checkTriggerTenancy(t);
      engine.accept(batch);
    });
    const channelStats = config.transport === 'channel' ? new ChannelStats() : undefined;
    // An invocation ends here: drop its state and what the channels remember of its context.
    const release = async (invocationId: InvocationId): Promise<void> => {
      triggers.forget(invocationId);
      transport.forget(invocationId);
      await engine.release(invocationId);
    };
    const app = buildWorkerApp({
      workerId: id,
      engine,
      store,
      sandbox,
      deployer,
      logger,
      bodyLimitBytes: config.bodyLimitBytes,
      ingress: { coordinator, view, http },
      ahead,
      ...(config.token === undefined ? {} : { token: config.token }),
      release,
      ...(channelStats ? { channelStats } : {}),
      ...(tls.server === undefined ? {} : { https: tls.server }),
    });
    const channels =
      config.transport === 'channel'
        ? new ChannelServer(app.server, {
            ...(config.token === undefined ? {} : { token: config.token }),
            handlers: serveOps(
              workerChannelOps({ engine, store, release, triggers, ahead }),
              channelStats,
            ),
            onWarning: warn,
            ...(channelStats ? { stats: channelStats } : {}),
            maxFrameBytes: config.bodyLimitBytes,
          })
        : undefined;
    await app.listen({ host: config.host, port });
    const address = app.server.address();
    const boundPort = typeof address === 'object' && address ? address.port : port;
    if (url === '')
      url = `${tls.server === undefined ? 'http' : 'https'}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${boundPort}`;
    late.store = await FaaStore.create({
      workerId: id,
      workerUrl: url,
      redis,
      peer: transport,
      inlineMaxBytes: config.inlineMaxBytes,
      memoryQuotaBytes: config.memoryQuotaMb * 1024 * 1024,
      logger,
    });
    engine.start();
    const master = new MasterClient(
      peers,
      config.masterUrl,
      {
        id,
        url,
        capacity: { cpu: config.cpu, memoryMb: config.memoryMb },
        runtime: sandbox.kind,
        version: WORKER_VERSION,
        journal: journal !== undefined,
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
      },
      logger,
      lease ? async () => (await lease.leader())?.url || undefined : undefined,
    );
    following.master = master;
    const server = new WorkerServer(
      id,
      url,
      app,
      engine,
      late.store,
      sandbox,
      peers,
      transport,
      channels,
      master,
      dataDir,
      logger,
      journal,
      config.drainTimeoutMs,
      lease,
      coordinator,
      shipper,
    );
    logger.info(
      {
        url,
        master: config.masterUrl,
        runtime: sandbox.kind,
        redis: config.redisUrl ? 'configured' : 'none (peer tier)',
      },
      'worker listening',
    );
    try {
      await master.register();
      server.registered = true;
    } catch (err) {
      // Refused by the master (e.g. a wrong cluster token): leave nothing behind.
      await server.close();
      throw err;
    }
    const cpu = new TreeCpuSampler(config.cpu);
    cpu.sample();
    master.startHeartbeats(config.heartbeatMs, () => {
      const s = sandbox.stats();
      const utilization = cpu.sample();
      const keyed = keyedMeter.drain();
      return {
        running: engine.load.running,
        queued: Object.values(s.perFunction).reduce((a, f) => a + f.queued, 0),
        invocations: engine.load.invocations,
        memoryBytes: store().stats().memoryBytes,
        ...(utilization === undefined ? {} : { utilization }),
        ...(keyed.length === 0 ? {} : { keyed }),
      };
    });
    return server;
  }

  /**
   * Graceful stop (SIGTERM): drain — no new invocations come here, running work may finish for
   * up to `drainTimeoutMs` — then leave the cluster (the master re-places what is left) and
   * release everything: sandboxes and their containers, the store, the data folder.
   */
  /** A request handled in-process, without a socket (the fuzzing of every door uses it). */
  inject(request: InjectOptions): Promise<LightMyRequestResponse> {
    return this.app.inject(request);
  }

  /** The folder deployments are written to (handler files, spills). */
  get dataPath(): string {
    return this.dataDir.path;
  }

  /** The routes this server declares. */
  get routes(): readonly RouteInfo[] {
    return routesOf(this.app);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.registered) {
        const draining = await this.master.drain();
        const idle = draining ? await this.engine.idle(this.drainTimeoutMs) : false;
        this.logger.info(
          { idle, load: this.engine.load },
          idle ? 'drained' : 'drain ended with work running; handing it back',
        );
        await this.master.deregister();
      }
      this.master.close();
      await this.channels?.close();
      await this.app.close();
      this.coordinator.close();
      await this.shipper.close();
      this.engine.close();
      this.transport.close();
      await this.sandbox.close();
      await this.store.close();
      await this.journal?.close();
      await this.lease?.close();
      await this.peers.close();
      await this.peers.http.close();
      if (this.dataDir.owned) await rm(this.dataDir.path, { recursive: true, force: true });
      this.logger.info('worker stopped');
    })();
    return this.closing;
  }
}
