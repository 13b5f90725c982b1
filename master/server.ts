/** A running master: owns the registry sweep, the invocation manager and the HTTP server. */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../shared/errors.js';
import { HttpClient } from '../shared/http-client.js';
import type { Logger } from '../shared/logger.js';
import { TriggerSender } from '../shared/trigger-sender.js';
import { buildMasterApp } from './app.js';
import type { MasterConfig } from './config.js';
import { Harvester } from './harvest/harvester.js';
import { harvestGridOf } from './harvest/options.js';
import { createRedisHarvestStore } from './harvest/redis-store.js';
import { defaultTrainer } from './harvest/trainer.js';
import { InvocationManager } from './invocations/manager.js';
import { DeploymentTracker } from './registry/deployments.js';
import { WorkerRegistry } from './registry/workers.js';
import { WorkflowCatalog } from './workflow/catalog.js';

export class MasterServer {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly url: string,
    private readonly app: FastifyInstance,
    private readonly invocations: InvocationManager,
    private readonly http: HttpClient,
    private readonly sender: TriggerSender,
    private readonly sweep: NodeJS.Timeout,
    private readonly logger: Logger,
    private readonly harvest: Harvester | undefined,
  ) {}

  static async start(config: MasterConfig, logger: Logger): Promise<MasterServer> {
    const http = new HttpClient(config.token === undefined ? {} : { token: config.token });
    const sender = new TriggerSender(http);
    const catalog = new WorkflowCatalog();
    const registry = new WorkerRegistry(config.workerTimeoutMs);
    const deployments = new DeploymentTracker(http, logger);
    let url = config.advertiseUrl ?? '';
    const harvest = await startHarvest(config, logger);
    const invocations = new InvocationManager({
      catalog,
      registry,
      deployments,
      http,
      sender,
      logger,
      masterUrl: () => url,
      mode: config.mode,
      placement: config.placement,
      inlineMaxBytes: config.inlineMaxBytes,
      retain: config.retainInvocations,
      ...(harvest ? { harvest } : {}),
    });
    const app = buildMasterApp(
      { config, catalog, registry, deployments, invocations, ...(harvest ? { harvest } : {}) },
      logger,
    );
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (err) {
      await harvest?.close();
      throw err;
    }
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    if (url === '') url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    const sweep = setInterval(
      () => registry.sweep(),
      Math.max(100, Math.floor(config.workerTimeoutMs / 4)),
    );
    sweep.unref();
    logger.info(
      { url, mode: config.mode, placement: config.placement, harvest: config.harvest },
      'master listening',
    );
    return new MasterServer(url, app, invocations, http, sender, sweep, logger, harvest);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      this.invocations.close();
      await this.app.close();
      await this.harvest?.close();
      this.sender.close();
      await this.http.close();
      this.logger.info('master stopped');
    })();
    return this.closing;
  }
}

/** Harvesting's service when it is on: its Redis store (required, checked now) and trainer. */
async function startHarvest(config: MasterConfig, logger: Logger): Promise<Harvester | undefined> {
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
