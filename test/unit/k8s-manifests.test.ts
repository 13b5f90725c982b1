import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkManifests, type ManifestFile } from '../../deploy/k8s/check.js';
import { quantity } from '../../deploy/k8s/check-workloads.js';
import { repoRoot } from '../../bench/paths.js';

const dir = join(repoRoot(), 'deploy', 'k8s');
const shipped: ManifestFile[] = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));

/** The shipped manifests with one text replacement in one file. */
function edited(file: string, from: string | RegExp, to: string): ManifestFile[] {
  return shipped.map((f) => {
    if (f.name !== file) return f;
    const text = f.text.replace(from, to);
    if (text === f.text) throw new Error(`${String(from)} not found in ${file}`);
    return { name: f.name, text };
  });
}

describe('Kubernetes manifests', () => {
  it('ship the master Deployment and Service, the worker DaemonSet, Redis and their configuration', () => {
    expect(shipped.map((f) => f.name)).toEqual([
      'config.yaml',
      'kustomization.yaml',
      'master.yaml',
      'namespace.yaml',
      'redis.yaml',
      'workers.yaml',
    ]);
    const all = shipped.map((f) => f.text).join('\n');
    for (const kind of ['Deployment', 'DaemonSet', 'Service', 'ConfigMap', 'Secret', 'Namespace'])
      expect(all).toContain(`kind: ${kind}`);
  });

  it('pass the schema and every cross-reference check', () => {
    expect(checkManifests(shipped)).toEqual([]);
  });

  it('reject a FAASFLOW_* name the component does not read', () => {
    expect(
      checkManifests(edited('config.yaml', 'FAASFLOW_PLACEMENT:', 'FAASFLOW_PLACMENT:')),
    ).toEqual([
      expect.stringMatching(
        /^master\.yaml#1 container master: FAASFLOW_PLACMENT is not an option of the master; valid: .*FAASFLOW_PLACEMENT/,
      ),
    ]);
  });

  it("reject a value the component's config loader rejects", () => {
    expect(
      checkManifests(edited('config.yaml', 'FAASFLOW_MODE: worker', 'FAASFLOW_MODE: wroker')),
    ).toEqual([
      expect.stringMatching(
        /master\.yaml#1 container master: master configuration: mode: .*one of "worker", "master"/,
      ),
    ]);
  });

  it('reject a misspelt field instead of ignoring it', () => {
    const problems = checkManifests(edited('master.yaml', 'readinessProbe:', 'readinesProbe:'));
    expect(problems).toEqual([
      expect.stringMatching(
        /^master\.yaml#1 \/spec\/template\/spec\/containers\/0\/readinesProbe: Unexpected property/,
      ),
      'cross-document checks skipped until these are fixed',
    ]);
  });

  it('reject a service whose targetPort no container declares', () => {
    expect(checkManifests(edited('master.yaml', 'targetPort: http', 'targetPort: web'))).toEqual([
      'master.yaml#2: targetPort web of service faasflow-master is no container port of faasflow-master',
    ]);
  });

  it('reject a secret key that does not exist, and a token given as a literal', () => {
    expect(checkManifests(edited('workers.yaml', /key: token/, 'key: tokn'))).toContainEqual(
      expect.stringMatching(
        /workers\.yaml#1 container worker: env FAASFLOW_TOKEN names key tokn of secret faasflow-token, which no manifest defines/,
      ),
    );
    const literal = edited(
      'master.yaml',
      /valueFrom:\n\s+secretKeyRef:\n\s+name: faasflow-token\n\s+key: token/,
      "value: 'a-literal-token'",
    );
    expect(checkManifests(literal)).toEqual([
      expect.stringMatching(
        /master\.yaml#1 container master: FAASFLOW_TOKEN must come from a secret/,
      ),
    ]);
  });

  it('reject workers pointed at a service that is not the master', () => {
    expect(
      checkManifests(
        edited(
          'workers.yaml',
          'value: http://faasflow-master.faasflow.svc:8080',
          'value: http://faasflow-redis:6379',
        ),
      ),
    ).toEqual([
      'workers.yaml#1 container worker: FAASFLOW_MASTER_URL points at service faasflow-redis, which does not select the master',
    ]);
  });

  it('reject a $(VAR) reference to a variable not defined before it', () => {
    expect(
      checkManifests(
        edited('workers.yaml', 'value: http://$(POD_IP):8090', 'value: http://$(POD_ADDRESS):8090'),
      ),
    ).toContainEqual(
      'workers.yaml#1 container worker: env FAASFLOW_ADVERTISE_URL refers to $(POD_ADDRESS), which is not defined before it',
    );
  });

  it('reject a manifest missing from the kustomization', () => {
    expect(checkManifests(edited('kustomization.yaml', '  - redis.yaml\n', ''))).toEqual([
      'kustomization.yaml#1: redis.yaml is not listed in resources (kubectl apply -k would skip it)',
    ]);
  });

  it('reject unknown kinds and YAML errors', () => {
    expect(
      checkManifests([{ name: 'x.yaml', text: 'kind: Ingress\napiVersion: v1\n' }])[0],
    ).toMatch(/^x\.yaml#1: unknown kind "Ingress"; known kinds: Namespace, ConfigMap/);
    expect(checkManifests([{ name: 'y.yaml', text: 'a: [1,\n' }])[0]).toMatch(/^y\.yaml#1: YAML: /);
  });

  it('read Kubernetes quantities', () => {
    expect([
      quantity('500m'),
      quantity('4'),
      quantity('1Mi'),
      quantity('8Gi'),
      quantity(2),
    ]).toEqual([0.5, 4, 1048576, 8589934592, 2]);
  });
});
