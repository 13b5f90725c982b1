/**
 * Requests for every route a server declares, and the property every answer must keep
 * (issue 14 item 6): no 5xx, an answer within the per-case timeout, the `{code, message}` error
 * shape on every 4xx, and nothing stored by a rejected request — the server's observable state
 * (`snapshot`) is the same before and after a 4xx.
 *
 * Each request picks one declared route, fills its path parameters (values the route's schema
 * accepts, values of things that exist, or odd text), its query and its body: valid by the
 * schema, near-valid (one field wrong, missing or extra) or junk; sent as JSON, YAML, text,
 * bytes or malformed JSON, with odd headers now and then. A few requests go to no route at all.
 */
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import type { RouteInfo } from '../../shared/http.js';
import { junk, near, valid } from './schema-arb.js';

/** What the properties need of a server: in-process requests, its routes, its stored state. */
export interface FuzzTarget {
  readonly name: string;
  readonly routes: readonly RouteInfo[];
  inject(request: InjectOptions): Promise<LightMyRequestResponse>;
  /** The state a rejected request must leave untouched, as comparable text. */
  snapshot(): Promise<string>;
  /** Values of things that exist, by path parameter name (`name` → deployed workflows, …). */
  known: Readonly<Record<string, readonly string[]>>;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/yaml',
  'text/plain',
  'text/csv',
  'application/x-ndjson',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  'image/png',
  ';;;',
];

const ODD_SEGMENTS = ['..', '.', '%2e%2e', '%', '%zz', '%00', 'a%2Fb', ' ', '~', 'x'.repeat(3000)];

function segment(route: RouteInfo, param: string, known: readonly string[]): fc.Arbitrary<string> {
  const props = (route.schema.params as { properties?: Record<string, unknown> } | undefined)
    ?.properties;
  const typed = valid(props?.[param] ?? { type: 'string' }).map((v) =>
    encodeURIComponent(String(v)),
  );
  const arbs: fc.Arbitrary<string>[] = [typed, fc.constantFrom(...ODD_SEGMENTS)];
  if (known.length > 0) arbs.push(fc.constantFrom(...known.map((k) => encodeURIComponent(k))));
  return fc.oneof(...arbs).filter((s) => s.length > 0);
}

function query(route: RouteInfo): fc.Arbitrary<string> {
  const schema = route.schema.querystring;
  const fromSchema = (schema === undefined ? fc.constant({}) : near(schema)).map((q) =>
    typeof q === 'object' && q !== null && !Array.isArray(q)
      ? new URLSearchParams(
          Object.entries(q as Record<string, unknown>).map(([k, v]): [string, string] => [
            k,
            typeof v === 'string' ? v : String(JSON.stringify(v)),
          ]),
        ).toString()
      : `q=${encodeURIComponent(JSON.stringify(q))}`,
  );
  return fc.oneof(
    { weight: 6, arbitrary: fc.constant('') },
    { weight: 3, arbitrary: fromSchema },
    { weight: 1, arbitrary: fc.constantFrom('a=1&a=2', 'limit=-1', 'limit=1e9', '%zz=1', '&&&=') },
  );
}

type Body = { payload?: string | Buffer; contentType?: string };

function body(route: RouteInfo): fc.Arbitrary<Body> {
  const schema = route.schema.body;
  const json = (v: unknown): Body => ({
    payload: JSON.stringify(v) ?? 'null',
    contentType: 'application/json',
  });
  const typed: fc.Arbitrary<Body>[] =
    schema === undefined ? [] : [valid(schema).map(json), near(schema).map(json)];
  return fc.oneof(
    ...typed,
    junk().map(json),
    fc.constant<Body>({}),
    fc
      .tuple(fc.string({ maxLength: 200 }), fc.constantFrom(...CONTENT_TYPES))
      .map(([payload, contentType]) => ({ payload, contentType })),
    fc
      .tuple(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...CONTENT_TYPES))
      .map(([bytes, contentType]) => ({ payload: Buffer.from(bytes), contentType })),
    fc.constantFrom<Body>(
      { payload: '{"a":', contentType: 'application/json' },
      { payload: '', contentType: 'application/json' },
      { payload: 'name: [', contentType: 'application/yaml' },
      { payload: '{"__proto__":{"x":1}}', contentType: 'application/json' },
    ),
  );
}

function headers(): fc.Arbitrary<Record<string, string>> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.constant({}) },
    {
      weight: 2,
      arbitrary: fc.dictionary(
        fc.constantFrom('x-faasflow-tenant', 'accept', 'authorization', 'x-forwarded-for', 'x-y'),
        fc.stringMatching(/^[\x20-\x7e]{0,40}$/),
        { maxKeys: 3 },
      ),
    },
  );
}

/** One request to one of `target`'s routes (or, rarely, to none). */
export function requestArb(target: FuzzTarget): fc.Arbitrary<FuzzRequest> {
  const routes = target.routes.filter((r) => !r.url.includes('*'));
  const perRoute = routes.map((route) => {
    const params = [...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
    return fc
      .record({
        values: fc.tuple(...params.map((p) => segment(route, p, target.known[p] ?? []))),
        query: query(route),
        body: body(route),
        headers: headers(),
      })
      .map(({ values, query: q, body: b, headers: h }): FuzzRequest => {
        let url = route.url;
        params.forEach((p, i) => (url = url.replace(`:${p}`, values[i] ?? 'x')));
        const all = {
          ...h,
          ...(b.contentType !== undefined ? { 'content-type': b.contentType } : {}),
        };
        return {
          method: route.method,
          url: q === '' ? url : `${url}?${q}`,
          headers: all,
          ...(b.payload !== undefined && route.method !== 'GET' ? { payload: b.payload } : {}),
        };
      });
  });
  const nowhere = fc
    .tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), fc.webPath())
    .map(([method, path]): FuzzRequest => ({ method, url: `/${path}`, headers: {} }));
  return fc.oneof(
    { weight: 20, arbitrary: fc.oneof(...perRoute) },
    { weight: 1, arbitrary: nowhere },
  );
}

/** Where a route answers something other than the JSON error shape on a 4xx, by design. */
const NON_JSON_4XX = [/^\/ui(\/|$)/];

/** Checks one request against the property; throws, saying what broke, when it does not hold. */
export async function checkRequest(
  target: FuzzTarget,
  req: FuzzRequest,
  timeoutMs: number,
): Promise<void> {
  const before = await target.snapshot();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms (a hang)`)),
      timeoutMs,
    );
  });
  let res: LightMyRequestResponse;
  try {
    res = await Promise.race([
      target.inject({
        method: req.method,
        url: req.url,
        headers: req.headers,
        ...(req.payload !== undefined ? { payload: req.payload } : {}),
      }),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  const what = `${req.method} ${req.url.slice(0, 200)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  if (res.statusCode >= 500) throw new Error(`server error: ${what}`);
  if (res.statusCode < 400) return;
  const path = req.url.split('?')[0] ?? '';
  if (!NON_JSON_4XX.some((re) => re.test(path))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      throw new Error(`a 4xx that is not the JSON error shape: ${what}`);
    }
    const e = parsed as { code?: unknown; message?: unknown };
    if (typeof e.code !== 'string' || typeof e.message !== 'string')
      throw new Error(`a 4xx without {code, message}: ${what}`);
  }
  const after = await target.snapshot();
  if (after !== before)
    throw new Error(
      `a rejected request changed what is stored: ${what}\nbefore ${before}\nafter  ${after}`,
    );
}

/** The property over `target`: every generated request keeps it. */
export function httpProperty(
  target: FuzzTarget,
  timeoutMs: number,
): fc.IAsyncPropertyWithHooks<[FuzzRequest]> {
  return fc.asyncProperty(requestArb(target), (req) => checkRequest(target, req, timeoutMs));
}
