/**
 * Which requests a worker leaves to its master's judgement (worker/ingress/dashboard.ts): the
 * dashboard's files and the read routes it passes on, GETs only; nothing that writes, and none
 * of the worker's own cluster routes.
 */
import { describe, expect, it } from 'vitest';
import { isDashboardRequest } from '../../worker/ingress/dashboard.js';

describe('isDashboardRequest', () => {
  it('takes the dashboard files and the reads the page makes', () => {
    for (const path of [
      '/ui',
      '/ui/',
      '/ui/app.js',
      '/v1/cluster',
      '/v1/workflows',
      '/v1/workflows/moderation',
      '/v1/workflows/moderation/models',
      '/v1/workflows/e2e-compose/composition',
      '/v1/invocations',
      '/v1/workers',
    ])
      expect(isDashboardRequest('GET', path), path).toBe(true);
  });

  it('leaves writes, the worker’s own routes and one invocation’s read to the worker', () => {
    expect(isDashboardRequest('POST', '/v1/workflows/moderation/invocations')).toBe(false);
    expect(isDashboardRequest('POST', '/v1/workflows')).toBe(false);
    expect(isDashboardRequest('PUT', '/v1/cluster/view')).toBe(false);
    for (const path of [
      '/v1/cluster/view',
      '/v1/invocations/inv_0000000001abcdef',
      '/v1/objects/k',
      '/v1/workflows/a/profiles',
      '/v1/debug/cpu',
      '/uix',
    ])
      expect(isDashboardRequest('GET', path), path).toBe(false);
  });
});
