/**
 * TLS of the master's and the workers' HTTP servers and of their undici clients
 * (docs/guides/tenants.md#tls): a certificate and key per process, an optional CA that clients
 * verify peers by, and optional mutual TLS, where servers also require a client certificate
 * signed by that CA (each process presents its own certificate as a client). The options are one
 * TypeBox fragment both processes' schemas spread in.
 */
import { readFileSync } from 'node:fs';
import { Type } from '@sinclair/typebox';
import { AppError } from './errors.js';

export const TlsOptions = {
  tlsCert: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "PEM certificate (chain) file: serve HTTPS, advertise https:// and present it as this process's client certificate under tlsMutual. Needs tlsKey.",
    }),
  ),
  tlsKey: Type.Optional(
    Type.String({ minLength: 1, description: 'PEM private key file of tlsCert.' }),
  ),
  tlsCa: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        "PEM CA file the process verifies the servers it calls by (instead of the system's); under tlsMutual also the clients it serves.",
    }),
  ),
  tlsMutual: Type.Boolean({
    default: false,
    description:
      'Mutual TLS: the server requires a client certificate signed by tlsCa (needs tlsCert, tlsKey and tlsCa).',
  }),
};

export interface TlsConfig {
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
  tlsCa?: string | undefined;
  tlsMutual: boolean;
}

/** What fastify's `https` option takes. */
export interface ServerTls {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  requestCert: boolean;
  rejectUnauthorized: boolean;
}

/** What undici's `connect` option takes. */
export interface ClientTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Problems of the TLS options, for a config loader to report with the others. */
export function tlsProblems(c: TlsConfig): string[] {
  const problems: string[] = [];
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined))
    problems.push('tlsCert and tlsKey go together: give both (PEM files) or neither');
  if (c.tlsMutual && (c.tlsCert === undefined || c.tlsCa === undefined))
    problems.push('tlsMutual needs tlsCert, tlsKey and tlsCa');
  return problems;
}

/** Reads the files once at startup; CONFIG_INVALID naming the file that cannot be read. */
export function loadTls(c: TlsConfig): { server?: ServerTls; client: ClientTls } {
  const read = (option: string, file: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new AppError(
        'CONFIG_INVALID',
        `${option} ${file} cannot be read: ${(err as Error).message}`,
      );
    }
  };
  const ca = c.tlsCa === undefined ? undefined : read('tlsCa', c.tlsCa);
  if (c.tlsCert === undefined || c.tlsKey === undefined)
    return { client: ca === undefined ? {} : { ca } };
  const cert = read('tlsCert', c.tlsCert);
  const key = read('tlsKey', c.tlsKey);
  return {
    server: {
      cert,
      key,
      ...(ca === undefined ? {} : { ca }),
      requestCert: c.tlsMutual,
      rejectUnauthorized: c.tlsMutual,
    },
    client: { ...(ca === undefined ? {} : { ca }), ...(c.tlsMutual ? { cert, key } : {}) },
  };
}
