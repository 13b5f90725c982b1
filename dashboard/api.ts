/**
 * The dashboard's API client: same origin, the user's API key (kept in localStorage) as
 * `authorization: Bearer <key>` when one is set, a deadline on every call, and the API's
 * `{code, message}` errors turned into `ApiError`s the views can show.
 */

const KEY = 'faasflow.apiKey';
const TIMEOUT_MS = 10_000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export function apiKey(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setApiKey(key: string | null): void {
  if (key === null || key.trim() === '') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, key.trim());
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const key = apiKey();
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const res = await fetch(path, {
    headers,
    signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  if (!res.ok) {
    const e = (body ?? {}) as { code?: unknown; message?: unknown };
    throw new ApiError(
      res.status,
      typeof e.code === 'string' ? e.code : `HTTP_${res.status}`,
      typeof e.message === 'string' ? e.message : `${path} answered ${res.status}`,
    );
  }
  return body as T;
}

/** `?a=1&b=2` from the defined entries of `q`. */
export function query(q: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q))
    if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}
