/**
 * TypeBox schemas of the Kubernetes fields faasflow's manifests use. Objects we describe fully
 * reject unknown fields, so a misspelt field (`readinesProbe`) fails the check instead of being
 * ignored by the API server; add a field here when a manifest starts using it.
 */
import { Type, type TProperties } from '@sinclair/typebox';

const Str = Type.String({ minLength: 1 });
const Strict = { additionalProperties: false };
const PortRef = Type.Union([
  Type.Integer({ minimum: 1, maximum: 65535 }),
  Type.String({ pattern: '^[a-z0-9-]{1,15}$' }),
]);
const Labels = Type.Record(Type.String(), Type.String());
const Quantity = Type.Union([Type.String({ pattern: '^[0-9.]+(m|Ki|Mi|Gi|Ti)?$' }), Type.Number()]);

export const Metadata = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 }),
    namespace: Type.Optional(Str),
    labels: Type.Optional(Labels),
    annotations: Type.Optional(Labels),
  },
  Strict,
);

const Probe = Type.Object(
  {
    httpGet: Type.Optional(Type.Object({ path: Str, port: PortRef }, Strict)),
    tcpSocket: Type.Optional(Type.Object({ port: PortRef }, Strict)),
    initialDelaySeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    periodSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1 })),
    failureThreshold: Type.Optional(Type.Integer({ minimum: 1 })),
  },
  Strict,
);

export const EnvVar = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }),
    value: Type.Optional(Type.String()),
    valueFrom: Type.Optional(
      Type.Object(
        {
          secretKeyRef: Type.Optional(Type.Object({ name: Str, key: Str }, Strict)),
          configMapKeyRef: Type.Optional(Type.Object({ name: Str, key: Str }, Strict)),
          fieldRef: Type.Optional(Type.Object({ fieldPath: Str }, Strict)),
          resourceFieldRef: Type.Optional(
            Type.Object(
              {
                containerName: Type.Optional(Str),
                resource: Str,
                divisor: Type.Optional(Quantity),
              },
              Strict,
            ),
          ),
        },
        Strict,
      ),
    ),
  },
  Strict,
);

const Resources = Type.Object(
  {
    requests: Type.Optional(
      Type.Object({ cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) }, Strict),
    ),
    limits: Type.Optional(
      Type.Object({ cpu: Type.Optional(Quantity), memory: Type.Optional(Quantity) }, Strict),
    ),
  },
  Strict,
);

export const Container = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$' }),
    image: Str,
    args: Type.Optional(Type.Array(Type.String())),
    command: Type.Optional(Type.Array(Type.String())),
    ports: Type.Optional(
      Type.Array(
        Type.Object(
          {
            name: Type.Optional(Type.String({ pattern: '^[a-z0-9-]{1,15}$' })),
            containerPort: Type.Integer({ minimum: 1, maximum: 65535 }),
            protocol: Type.Optional(Type.Union([Type.Literal('TCP'), Type.Literal('UDP')])),
          },
          Strict,
        ),
      ),
    ),
    env: Type.Optional(Type.Array(EnvVar)),
    envFrom: Type.Optional(
      Type.Array(
        Type.Object(
          {
            configMapRef: Type.Optional(Type.Object({ name: Str }, Strict)),
            secretRef: Type.Optional(Type.Object({ name: Str }, Strict)),
          },
          Strict,
        ),
      ),
    ),
    readinessProbe: Type.Optional(Probe),
    livenessProbe: Type.Optional(Probe),
    resources: Type.Optional(Resources),
    volumeMounts: Type.Optional(
      Type.Array(
        Type.Object({ name: Str, mountPath: Str, readOnly: Type.Optional(Type.Boolean()) }, Strict),
      ),
    ),
  },
  Strict,
);

const PodTemplate = Type.Object(
  {
    metadata: Type.Object({ labels: Labels, annotations: Type.Optional(Labels) }, Strict),
    spec: Type.Object(
      {
        containers: Type.Array(Container, { minItems: 1 }),
        terminationGracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
        volumes: Type.Optional(
          Type.Array(
            Type.Object(
              {
                name: Str,
                emptyDir: Type.Optional(Type.Object({}, Strict)),
                hostPath: Type.Optional(
                  Type.Object({ path: Str, type: Type.Optional(Type.String()) }, Strict),
                ),
              },
              Strict,
            ),
          ),
        ),
      },
      Strict,
    ),
  },
  Strict,
);

const Selector = Type.Object({ matchLabels: Labels }, Strict);

const kind = <K extends string, P extends TProperties>(apiVersion: string, k: K, spec: P) =>
  Type.Object(
    { ...spec, apiVersion: Type.Literal(apiVersion), kind: Type.Literal(k), metadata: Metadata },
    Strict,
  );

export const KINDS = {
  Namespace: kind('v1', 'Namespace', {}),
  ConfigMap: kind('v1', 'ConfigMap', { data: Type.Record(Type.String(), Type.String()) }),
  Secret: kind('v1', 'Secret', {
    type: Type.Optional(Type.String()),
    stringData: Type.Optional(Type.Record(Type.String(), Type.String())),
    data: Type.Optional(Type.Record(Type.String(), Type.String())),
  }),
  Service: kind('v1', 'Service', {
    spec: Type.Object(
      {
        type: Type.Optional(
          Type.Union([
            Type.Literal('ClusterIP'),
            Type.Literal('NodePort'),
            Type.Literal('LoadBalancer'),
          ]),
        ),
        selector: Labels,
        ports: Type.Array(
          Type.Object(
            {
              name: Type.Optional(Str),
              port: Type.Integer({ minimum: 1, maximum: 65535 }),
              targetPort: PortRef,
            },
            Strict,
          ),
          { minItems: 1 },
        ),
      },
      Strict,
    ),
  }),
  Deployment: kind('apps/v1', 'Deployment', {
    spec: Type.Object(
      {
        replicas: Type.Integer({ minimum: 0 }),
        strategy: Type.Optional(
          Type.Object(
            { type: Type.Union([Type.Literal('Recreate'), Type.Literal('RollingUpdate')]) },
            Strict,
          ),
        ),
        selector: Selector,
        template: PodTemplate,
      },
      Strict,
    ),
  }),
  DaemonSet: kind('apps/v1', 'DaemonSet', {
    spec: Type.Object(
      {
        selector: Selector,
        updateStrategy: Type.Optional(
          Type.Object(
            {
              type: Type.Literal('RollingUpdate'),
              rollingUpdate: Type.Optional(
                Type.Object(
                  { maxUnavailable: Type.Union([Type.Integer(), Type.String()]) },
                  Strict,
                ),
              ),
            },
            Strict,
          ),
        ),
        template: PodTemplate,
      },
      Strict,
    ),
  }),
  Kustomization: Type.Object(
    {
      apiVersion: Type.Literal('kustomize.config.k8s.io/v1beta1'),
      kind: Type.Literal('Kustomization'),
      resources: Type.Array(Str, { minItems: 1 }),
    },
    Strict,
  ),
} as const;

export type KindName = keyof typeof KINDS;
