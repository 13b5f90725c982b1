/**
 * The one error type of the project. Every failure that crosses a module or process boundary is
 * an AppError with a stable `code`; retry policy reads `retryable`, HTTP reads `statusCode`.
 * Errors cross HTTP as `{code, message, details}` and are rebuilt with `AppError.fromWire`.
 */

export const ERROR_CODES = {
  BAD_REQUEST: { statusCode: 400, retryable: false },
  CONFIG_INVALID: { statusCode: 400, retryable: false },
  WORKFLOW_INVALID: { statusCode: 400, retryable: false },
  INPUT_INVALID: { statusCode: 400, retryable: false },
  UNAUTHORIZED: { statusCode: 401, retryable: false },
  FORBIDDEN: { statusCode: 403, retryable: false },
  WORKFLOW_NOT_FOUND: { statusCode: 404, retryable: false },
  INVOCATION_NOT_FOUND: { statusCode: 404, retryable: false },
  NOT_FOUND: { statusCode: 404, retryable: false },
  OBJECT_NOT_FOUND: { statusCode: 404, retryable: false },
  CONFLICT: { statusCode: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { statusCode: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { statusCode: 415, retryable: false },
  LIMIT_EXCEEDED: { statusCode: 429, retryable: true },
  FUNCTION_FAILED: { statusCode: 500, retryable: true },
  FUNCTION_TIMEOUT: { statusCode: 504, retryable: true },
  FUNCTION_OOM: { statusCode: 500, retryable: true },
  FUNCTION_CRASHED: { statusCode: 500, retryable: true },
  INVOCATION_TIMEOUT: { statusCode: 504, retryable: false },
  CANCELLED: { statusCode: 409, retryable: false },
  NO_WORKERS: { statusCode: 503, retryable: true },
  WORKER_UNREACHABLE: { statusCode: 503, retryable: true },
  STORE_UNAVAILABLE: { statusCode: 503, retryable: true },
  SANDBOX_UNAVAILABLE: { statusCode: 503, retryable: true },
  INTERNAL: { statusCode: 500, retryable: false },
} as const satisfies Record<string, { statusCode: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The shape errors take on the wire (HTTP bodies, IPC, stored invocation records). */
export interface WireError {
  code: string;
  message: string;
  details?: unknown;
}

export interface AppErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Overrides the code's default. */
  retryable?: boolean;
  /** Overrides the code's default. */
  statusCode?: number;
}

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly statusCode: number;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.statusCode = options.statusCode ?? ERROR_CODES[code].statusCode;
    this.details = options.details;
  }

  toWire(): WireError {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromWire(wire: WireError, statusCode?: number): AppError {
    const code = isErrorCode(wire.code) ? wire.code : 'INTERNAL';
    return new AppError(code, wire.message, {
      details: wire.details,
      ...(statusCode === undefined ? {} : { statusCode }),
    });
  }

  /** Wraps anything thrown into an AppError, keeping AppErrors as they are. */
  static from(err: unknown, code: ErrorCode = 'INTERNAL'): AppError {
    if (err instanceof AppError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new AppError(code, message, { cause: err });
  }
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

export function isWireError(value: unknown): value is WireError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { code?: unknown }).code === 'string' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

export function assertNever(value: never, what = 'value'): never {
  throw new AppError('INTERNAL', `unexpected ${what}: ${JSON.stringify(value)}`);
}
