/**
 * OpenTelemetry traces from real processes to a real OTLP/HTTP receiver (a fastify server on
 * loopback that accepts `POST /v1/traces` in the exporter's JSON encoding):
 * - the master exports with `--otel-endpoint`, the workers with OTEL_EXPORTER_OTLP_ENDPOINT;
 * - one invocation whose two nodes run on two workers gives one trace: the invocation's root
 *   span on the master, a child of the client's `traceparent`, and one node span per node,
 *   each a child of the root, from two worker processes, with their phases as child spans and
 *   the attributes the reference names;
 * - a failing node's span and the root carry the error code and an error status, and a
 *   skipped node (after the failure, never run) has no span.
 */
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../deploy/local-cluster.js';
import { repoRoot } from '../../bench/paths.js';
import { eventually, startCluster, type Api } from '../helpers/cluster.js';

const fixtures = join(repoRoot(), 'test/fixtures/workflows');

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
  status?: { code?: number; message?: string };
}
interface Received extends OtlpSpan {
  service: string;
  attrs: Record<string, string | number | boolean | undefined>;
}

function valueOf(v: OtlpValue): string | number | boolean | undefined {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

describe('OpenTelemetry traces over OTLP/HTTP', () => {
  let receiver: FastifyInstance;
  let endpoint: string;
  const spans: Received[] = [];
  let posts = 0;
  let cluster: LocalCluster;
  let api: Api;

  beforeAll(async () => {
    receiver = Fastify();
    receiver.post('/v1/traces', (req, reply) => {
      posts++;
      const body = req.body as {
        resourceSpans: {
          resource: { attributes: { key: string; value: OtlpValue }[] };
          scopeSpans: { spans: OtlpSpan[] }[];
        }[];
      };
      for (const rs of body.resourceSpans) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name');
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans)
            spans.push({
              ...s,
              service: String(service ? valueOf(service.value) : ''),
              attrs: Object.fromEntries(s.attributes.map((a) => [a.key, valueOf(a.value)])),
            });
      }
      void reply.send({});
    });
    endpoint = await receiver.listen({ host: '127.0.0.1', port: 0 });
    ({ cluster, api } = await startCluster({
      workers: 2,
      // Each function of e2e-big asks for 2 GB, a worker offers 3: its two nodes use both workers.
      workerFlags: () => ['--memory-mb=3072'],
      masterFlags: [`--otel-endpoint=${endpoint}`],
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
    }));
    await api.deploy(join(fixtures, 'big-payload.yaml'));
    await api.deploy(join(fixtures, 'failing.yaml'));
  });
  afterAll(async () => {
    await cluster?.stop();
    await receiver?.close();
  });

  const traceOf = (traceId: string): Received[] => spans.filter((s) => s.traceId === traceId);

  it('exports one trace per invocation: the root on the master, a node span per node on two workers', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const r = await api.request(
      'POST',
      '/v1/workflows/e2e-big/invocations',
      { input: { bytes: 4096 } },
      { traceparent: `00-${traceId}-${clientSpan}-01` },
    );
    expect(r.body).toMatchObject({ status: 'succeeded', output: { bytes: 4096 } });
    const inv = await api.invocation(r.body.invocationId);
    const workers = new Set(inv.steps.map((s: { worker: string }) => s.worker));
    expect(workers.size).toBe(2);

    // Three processes export on their own schedules: wait for the root and both node spans.
    await eventually(
      () =>
        Promise.resolve(
          traceOf(traceId).filter(
            (s) => s.name.startsWith('invocation ') || s.name.startsWith('node '),
          ).length >= 3,
        ),
      15_000,
    );
    const all = traceOf(traceId);
    const root = all.find((s) => s.name === 'invocation e2e-big')!;
    expect(root).toBeDefined();
    expect(root.service).toBe('faasflow-master');
    expect(root.parentSpanId).toBe(clientSpan);
    expect(root.attrs).toMatchObject({
      'faasflow.invocation.id': r.body.invocationId,
      'faasflow.workflow': 'e2e-big',
      'faasflow.workflow.version': 1,
      'faasflow.status': 'succeeded',
    });

    const nodes = all.filter((s) => s.name.startsWith('node '));
    expect(nodes.map((s) => s.name).sort()).toEqual(['node consume', 'node produce']);
    for (const n of nodes) {
      expect(n.service).toBe('faasflow-worker');
      expect(n.parentSpanId).toBe(root.spanId);
      const step = inv.steps.find((s: { node: string }) => `node ${s.node}` === n.name);
      expect(n.attrs).toMatchObject({
        'faasflow.invocation.id': r.body.invocationId,
        'faasflow.workflow': 'e2e-big',
        'faasflow.workflow.version': 1,
        'faasflow.worker': step.worker,
        'faasflow.status': 'succeeded',
        'faasflow.attempt': 1,
        'faasflow.cold': step.cold,
        'faasflow.tier': step.tier,
        'faasflow.node.kind': 'task',
      });
      // Within the root, in time.
      expect(BigInt(n.startTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(root.startTimeUnixNano));
      expect(BigInt(n.endTimeUnixNano)).toBeLessThanOrEqual(BigInt(root.endTimeUnixNano));
      // Its phases are its children: at least the handler's run.
      const phases = all.filter((s) => s.parentSpanId === n.spanId).map((s) => s.name);
      expect(phases).toContain('run');
      for (const p of phases) expect(['get', 'queue', 'init', 'run', 'put']).toContain(p);
    }
    expect(new Set(nodes.map((n) => n.attrs['faasflow.worker']))).toEqual(workers);
    expect(posts).toBeGreaterThanOrEqual(2);
  });

  it('marks a failed node and its invocation with the error code; a node after it has no span', async () => {
    const r = await api.invoke('e2e-failing', { x: 1 });
    expect(r.status).toBe('failed');
    const root = await eventually(
      () =>
        Promise.resolve(
          spans.find(
            (s) =>
              s.name === 'invocation e2e-failing' &&
              s.attrs['faasflow.invocation.id'] === r.invocationId,
          ),
        ),
      15_000,
    );
    // No client traceparent: the master's span is the trace's root.
    expect(root.parentSpanId ?? '').toBe('');
    expect(root.status?.code).toBe(2);
    expect(root.attrs['faasflow.status']).toBe('failed');
    expect(root.attrs['faasflow.error.code']).toBe('FUNCTION_FAILED');
    const boom = await eventually(
      () =>
        Promise.resolve(
          traceOf(root.traceId).find(
            (s) => s.name === 'node boom' && s.attrs['faasflow.status'] === 'failed',
          ),
        ),
      15_000,
    );
    expect(boom.parentSpanId).toBe(root.spanId);
    expect(boom.status?.code).toBe(2);
    expect(boom.attrs['faasflow.error.code']).toBe('FUNCTION_FAILED');
    const names = traceOf(root.traceId)
      .filter((s) => s.name.startsWith('node '))
      .map((s) => s.name);
    expect(names.filter((n) => n === 'node ok')).toHaveLength(1);
  });
});
