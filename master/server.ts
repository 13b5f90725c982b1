/**
 * A running master: owns its store, the registry sweep, the invocation manager and the HTTP
 * server. The store opens first (the catalogue is restored from it before anything listens)
 * and closes last, after everything that writes to it has stopped.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { routesOf, type RouteInfo } from '../shared/http.js';
import { AppError } from '../shared/errors.js';
import { HttpClient } from '../shared/http-client.js';
import type { Journal } from '../shared/journal.js';
import { RedisLease } from '../shared/lease.js';
import { RedisJournal } from '../shared/journal-redis.js';
import type { Logger } from '../shared/logger.js';
import { loadTls } from '../shared/tls.js';
import { TriggerSender } from '../shared/trigger-sender.js';
import { ChannelServer } from '../shared/channel/handshake.js';
import { ChannelStats, serveOps } from '../shared/channel/ops.js';
import { PeerClient } from '../shared/channel/peers.js';
import { ChannelPool } from '../shared/channel/pool.js';
import { buildMasterApp } from './app.js';
import { masterChannelOps } from './routes/channel.js';
import { readOrCreateAdminKey } from './auth/admin-key.js';
import { AuditLog } from './auth/audit.js';
import { TenantDirectory } from './auth/directory.js';
import { LimitGate } from './auth/limits.js';
import { authOn, type MasterConfig } from './config.js';
import { join, resolve } from 'node:path';
import { sendPrepares } from './chains/prepares.js';
import { ChainService } from './chains/service.js';
import { HotWorkers } from './shard/hot.js';
import { KeyedShards } from './shard/keyed.js';
import { CompositionService } from './compose/service.js';
import { Harvester } from './harvest/harvester.js';
import { harvestGridOf } from './harvest/options.js';
import { createRedisHarvestStore } from './harvest/redis-store.js';
import { defaultTrainer } from './harvest/trainer.js';
import { InvocationManager } from './invocations/manager.js';
import { DeploymentTracker } from './registry/deployments.js';
import { ViewPublisher } from './registry/view.js';
import { WorkerRegistry } from './registry/workers.js';
import { Leadership } from './leadership.js';
import { openMasterStore } from './store/open.js';
import { storeKind, type MasterStore } from './store/types.js';
import { WorkflowCatalog } from './workflow/catalog.js';

export class MasterServer {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly url: string,
    private readonly app: FastifyInstance,
    private readonly invocations: InvocationManager,
    private readonly view: ViewPublisher,
    private readonly peers: PeerClient,
    private readonly channels: ChannelServer | undefined,
    private readonly sender: TriggerSender,
    private readonly sweep: NodeJS.Timeout,
    private readonly logger: Logger,
    private readonly harvest: Harvester | undefined,
    private readonly store: MasterStore,
    private readonly journal: Journal | undefined,
    private readonly audit: AuditLog,
    private readonly compose: CompositionService,
    private readonly chains: ChainService,
    private readonly keyed: KeyedShards,
    private leadership: Leadership | undefined = undefined,
  ) {}

  /**
   * Starts the master. With the Redis store it first waits, as a standby, until it holds the
   * leadership lease (at once when no other master does); `onLeaseLost` is called if another
   * master takes it later, and must stop this process.
   */
  static async start(
    config: MasterConfig,
    logger: Logger,
    o: { onLeaseLost?: () => void } = {},
  ): Promise<MasterServer> {
    let leadership: Leadership | undefined;
    if (storeKind(config) === 'redis' && config.redisUrl !== undefined) {
      const lease = await RedisLease.connect(config.redisUrl, {
        prefix: config.redisPrefix,
        logger,
        purpose: 'master lease',
      });
      leadership = await Leadership.acquire(
        lease,
        Leadership.idFor(config),
        config.leaseMs,
        logger,
      );
    }
    let store: MasterStore | undefined;
    let harvest: Harvester | undefined;
    try {
      store = await openMasterStore(config, logger);
      const catalog = await WorkflowCatalog.load(store);
      logger.info(
        { store: store.description, workflows: catalog.current().length },
        'master state loaded',
      );
      const tenants = await openTenants(config, logger, store);
      harvest = await startHarvest(config, logger, store);
      const server = await MasterServer.listen(config, logger, store, catalog, harvest, tenants);
      if (leadership) {
        server.leadership = leadership;
        await leadership.serve(server.url, o.onLeaseLost ?? (() => void server.close()));
      }
      return server;
    } catch (err) {
      await harvest?.close();
      await store?.close();
      await leadership?.close();
      throw err;
    }
  }

  private static async listen(
    config: MasterConfig,
    logger: Logger,
    store: MasterStore,
    catalog: WorkflowCatalog,
    harvest: Harvester | undefined,
    tenants: TenantDirectory,
  ): Promise<MasterServer> {
    const audit = AuditLog.open(config.auditLog, logger);
    const tls = loadTls(config);
    const http = new HttpClient({
      ...(config.token === undefined ? {} : { token: config.token }),
      tls: tls.client,
    });
    const warn = (what: string, details: Record<string, unknown>): void =>
      logger.warn(details, what);
    const token = config.token === undefined ? {} : { token: config.token };
    const peers = new PeerClient(
      http,
      config.transport === 'channel' ? new ChannelPool({ ...token, onWarning: warn }) : null,
    );
    const sender = new TriggerSender(peers);
    const registry = new WorkerRegistry(config.workerTimeoutMs);
    const deployments = new DeploymentTracker(http, logger);
    let url = config.advertiseUrl ?? '';
    const journal =
      config.redisUrl === undefined
        ? undefined
        : await RedisJournal.connect(config.redisUrl, {
            prefix: config.redisPrefix,
            logger,
            purpose: 'journal (master)',
          });
    const compose = new CompositionService({ store, logger });
    const chains = new ChainService({ store, logger });
    await chains.load();
    // Hot workers: a flip pushes the view (declared below; called only once heartbeats come).
    const hot = new HotWorkers({ onChange: () => view.changed() });
    const invocations = new InvocationManager({
      catalog,
      hot,
      registry,
      deployments,
      peers,
      sender,
      logger,
      masterUrl: () => url,
      mode: config.mode,
      placement: config.placement,
      inlineMaxBytes: config.inlineMaxBytes,
      retain: config.retainInvocations,
      durability: config.durability,
      workerTimeoutMs: config.workerTimeoutMs,
      records: store,
      ...(journal ? { journal } : {}),
      ...(harvest ? { harvest } : {}),
      compose,
      chains: {
        finished: (r, dag) => chains.finished(r, dag),
        started: (r, v, inputBytes, predict) => {
          sendPrepares(chains, peers, logger, r, v, inputBytes, predict);
        },
      },
    });
    const keyed = new KeyedShards({
      store,
      logger,
      catalog,
      workers: () => registry.ready().map((w) => w.id),
      onChange: () => view.changed(),
      reshard: config.keyedControl,
      isHot: (id) => hot.isHot(id),
    });
    await keyed.load();
    registry.onHeartbeat((w, loads) => {
      hot.observe(w.id, w.load.utilization);
      keyed.heartbeat(w.id, loads, w.load.utilization);
    });
    registry.onDeath((w) => hot.forget(w.id));
    const view = new ViewPublisher({
      routing: () => keyed.routing(),
      hot: (id) => hot.isHot(id),
      registry,
      deployments,
      catalog,
      http,
      logger,
      config,
      intervalMs: config.viewIntervalMs,
      masterUrl: () => url,
      journal: journal !== undefined,
      auth: authOn(config),
      ...(harvest ? { harvest } : {}),
    });
    if (harvest) harvest.onModels = () => view.changed();
    registry.onChange(() => view.changed());
    deployments.onChange = () => view.changed();
    const restored = await invocations.restore();
    const context = {
      config,
      catalog,
      registry,
      deployments,
      invocations,
      store,
      compose,
      chains,
      keyed,
      hot,
      ...(harvest ? { harvest } : {}),
      ...(config.transport === 'channel' ? { channelStats: new ChannelStats() } : {}),
      tenants,
      auth: authOn(config),
      audit,
      gate: new LimitGate(),
    };
    const app = buildMasterApp(
      { ...context, view },
      logger,
      tls.server === undefined ? {} : { https: tls.server },
    );
    let channels: ChannelServer | undefined;
    if (config.transport === 'channel') {
      const { ops, triggers } = masterChannelOps(context);
      // The relay's context caches forget an invocation when the master releases it.
      peers.onForget((id) => triggers.forget(id));
      channels = new ChannelServer(app.server, {
        ...token,
        handlers: serveOps(ops, context.channelStats),
        onWarning: warn,
        ...(context.channelStats ? { stats: context.channelStats } : {}),
        maxFrameBytes: config.bodyLimitBytes,
      });
    }
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      view.close();
      invocations.close();
      await compose.close();
      await chains.close();
      await keyed.close();
      sender.close();
      await peers.close();
      await http.close();
      await journal?.close();
      audit.close();
      throw err;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const scheme = tls.server === undefined ? 'http' : 'https';
    if (url === '')
      url = `${scheme}://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    const sweep = setInterval(
      () => registry.sweep(),
      Math.max(100, Math.floor(config.workerTimeoutMs / 4)),
    );
    sweep.unref();
    keyed.start();
    logger.info(
      {
        url,
        mode: config.mode,
        placement: config.placement,
        harvest: config.harvest,
        store: store.kind,
        journal: journal ? 'redis' : 'none',
        auth: authOn(config) ? 'on' : 'off',
        restored,
      },
      'master listening',
    );
    return new MasterServer(
      url,
      app,
      invocations,
      view,
      peers,
      channels,
      sender,
      sweep,
      logger,
      harvest,
      store,
      journal,
      audit,
      compose,
      chains,
      keyed,
    );
  }

  /** A request handled in-process, without a socket (the fuzzing of every door uses it). */
  inject(request: InjectOptions): Promise<LightMyRequestResponse> {
    return this.app.inject(request);
  }

  /** The routes this server declares. */
  get routes(): readonly RouteInfo[] {
    return routesOf(this.app);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.leadership?.close();
      clearInterval(this.sweep);
      this.view.close();
      this.invocations.close();
      await this.channels?.close();
      await this.app.close();
      await this.compose.close();
      await this.chains.close();
      await this.keyed.close();
      await this.harvest?.close();
      await this.journal?.close();
      this.sender.close();
      await this.peers.close();
      await this.peers.http.close();
      await this.store.close();
      this.audit.close();
      this.logger.info('master stopped');
    })();
    return this.closing;
  }
}

/** The tenant directory, with the cluster admin key from its file when auth is on. */
async function openTenants(
  config: MasterConfig,
  logger: Logger,
  store: MasterStore,
): Promise<TenantDirectory> {
  if (!authOn(config)) return TenantDirectory.load(store);
  const file = resolve(config.adminKeyFile ?? join(config.dataDir, 'admin.key'));
  const adminKey = await readOrCreateAdminKey(file, logger);
  logger.info({ adminKeyFile: file }, 'auth on');
  return TenantDirectory.load(store, { adminKey });
}

/** Harvesting's service when it is on: its Redis store (required, checked now) and trainer. */
async function startHarvest(
  config: MasterConfig,
  logger: Logger,
  masterStore: MasterStore,
): Promise<Harvester | undefined> {
  if (config.harvest === 'off') return undefined;
  if (config.redisUrl === undefined)
    throw new AppError(
      'CONFIG_INVALID',
      'harvest "on" needs redisUrl (--redis-url redis://HOST:6379)',
    );
  const store = await createRedisHarvestStore(config.redisUrl, {
    prefix: config.redisPrefix,
    profileLimit: config.profileLimit,
    logger,
  });
  const child = logger.child({ component: 'harvest' });
  logger.info(
    {
      retrainEvery: config.retrainEvery,
      profileLimit: config.profileLimit,
      trainLimit: config.trainLimit,
    },
    'harvesting on',
  );
  return new Harvester({
    store,
    counters: {
      initial: countsOf(await masterStore.getValue(RETRAIN_COUNTERS)),
      save: (counts) => masterStore.setValue(RETRAIN_COUNTERS, counts),
    },
    trainer: defaultTrainer(child),
    logger: child,
    retrainEvery: config.retrainEvery,
    trainLimit: config.trainLimit,
    grid: harvestGridOf(config),
    cpuPolicy: config.harvestPolicy,
    freezeModels: config.freezeModels,
    profileSiblings: config.profileSiblings,
  });
}

/** The master store value holding harvesting's records-since-training counts per workflow. */
const RETRAIN_COUNTERS = 'harvest.retrain-counters';

function countsOf(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === 'number') out[k] = v;
  return out;
}
