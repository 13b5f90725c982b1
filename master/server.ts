/** A running master: owns the registry sweep, the invocation manager and the HTTP server. */
import type { FastifyInstance } from 'fastify';
import { HttpClient } from '../shared/http-client.js';
import type { Logger } from '../shared/logger.js';
import { TriggerSender } from '../shared/trigger-sender.js';
import { buildMasterApp } from './app.js';
import type { MasterConfig } from './config.js';
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
  ) {}

  static async start(config: MasterConfig, logger: Logger): Promise<MasterServer> {
    const http = new HttpClient(config.token === undefined ? {} : { token: config.token });
    const sender = new TriggerSender(http);
    const catalog = new WorkflowCatalog();
    const registry = new WorkerRegistry(config.workerTimeoutMs);
    const deployments = new DeploymentTracker(http, logger);
    let url = config.advertiseUrl ?? '';
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
    });
    const app = buildMasterApp({ config, catalog, registry, deployments, invocations }, logger);
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    if (url === '') url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
    const sweep = setInterval(
      () => registry.sweep(),
      Math.max(100, Math.floor(config.workerTimeoutMs / 4)),
    );
    sweep.unref();
    logger.info({ url, mode: config.mode, placement: config.placement }, 'master listening');
    return new MasterServer(url, app, invocations, http, sender, sweep, logger);
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      this.invocations.close();
      await this.app.close();
      this.sender.close();
      await this.http.close();
      this.logger.info('master stopped');
    })();
    return this.closing;
  }
}
