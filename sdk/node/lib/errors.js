// Every error the package throws has one root, HushError. Two families hang from it:
// - API errors, one class per code of hush-wire's ErrorCode, grouped as the Rust SDK groups
//   them (and as the Python SDK does): RevokedError is a ForbiddenError (403); ExistsError,
//   StaleVersionError, InUseError and AuditBrokenError are ConflictErrors (409);
//   BadRequestError, TooLargeError and UnsupportedMediaTypeError are InvalidErrors (400, 413,
//   415 beside 422); DecryptFailedError is an InternalError (500). ConnectionError when no
//   answer came at all;
// - workload errors (SecretsError), the kinds of the Rust SDK's secrets::Error.
// No message ever carries a value or a token.

/** An API failure: the HTTP status, the API's `code` and its message. */
export class HushError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number | null, code?: string, retryAfter?: number | null, details?: object, cause?: unknown}} [opts]
   */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    /** HTTP status; null when no server answered (refused before sending, unreachable, a workload error). */
    this.status = opts.status ?? null;
    /** A stable machine code: the API's (`not_found`, `exists`, …) or the SDK's own. */
    this.code = opts.code ?? new.target.codeName ?? 'unknown';
    /** Seconds to wait, from `Retry-After` (429 and 503); null otherwise. */
    this.retryAfter = opts.retryAfter ?? null;
    /** Any other field of the error body. */
    this.details = { ...(opts.details ?? {}) };
  }
}

function named(cls, name) {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
  Object.defineProperty(cls, 'name', { value: name, configurable: true });
  return cls;
}
named(HushError, 'HushError');

/** The request did not get an answer: connection refused, DNS, TLS, timeout. */
export class ConnectionError extends HushError {
  /**
   * @param {string} address the server address (never a path or a token)
   * @param {string} reason
   * @param {unknown} [cause]
   */
  constructor(address, reason, cause) {
    super(`cannot reach the hush server at ${address}: ${reason}`, { code: 'connection', cause });
    /** The server address. */
    this.addr = address;
    /** Why no answer came (`connection refused`, `timeout after 30 s`, …). */
    this.reason = reason;
  }
}
named(ConnectionError, 'ConnectionError');

/** An API error class for `code`, under `parent`. */
function apiError(name, code, parent = HushError) {
  const cls = named(class extends parent {}, name);
  cls.codeName = code;
  return cls;
}

export const InvalidError = apiError('InvalidError', 'invalid_field');
export const BadRequestError = apiError('BadRequestError', 'bad_request', InvalidError);
export const TooLargeError = apiError('TooLargeError', 'too_large', InvalidError);
export const UnsupportedMediaTypeError = apiError('UnsupportedMediaTypeError', 'unsupported_media_type', InvalidError);
export const UnauthorizedError = apiError('UnauthorizedError', 'unauthorized');
export const ForbiddenError = apiError('ForbiddenError', 'forbidden');
export const RevokedError = apiError('RevokedError', 'revoked', ForbiddenError);
export const NotFoundError = apiError('NotFoundError', 'not_found');
export const MethodNotAllowedError = apiError('MethodNotAllowedError', 'method_not_allowed');
export const ConflictError = apiError('ConflictError', 'conflict');
export const ExistsError = apiError('ExistsError', 'exists', ConflictError);
export const StaleVersionError = apiError('StaleVersionError', 'stale_version', ConflictError);
export const InUseError = apiError('InUseError', 'in_use', ConflictError);
export const AuditBrokenError = apiError('AuditBrokenError', 'audit_broken', ConflictError);
export const PreconditionFailedError = apiError('PreconditionFailedError', 'precondition_failed');
export const ExpiredError = apiError('ExpiredError', 'expired');
export const RateLimitedError = apiError('RateLimitedError', 'rate_limited');
export const InternalError = apiError('InternalError', 'internal');
export const DecryptFailedError = apiError('DecryptFailedError', 'decrypt_failed', InternalError);
export const UnavailableError = apiError('UnavailableError', 'unavailable');
export const AuditSinkUnavailableError = apiError('AuditSinkUnavailableError', 'audit_sink_unavailable', UnavailableError);

/** Each API code, by its wire spelling, to its class. */
const BY_CODE = Object.freeze(
  Object.assign(
    Object.create(null),
    Object.fromEntries(
      [
        BadRequestError,
        InvalidError,
        UnauthorizedError,
        ForbiddenError,
        RevokedError,
        NotFoundError,
        MethodNotAllowedError,
        ExistsError,
        InUseError,
        StaleVersionError,
        ConflictError,
        AuditBrokenError,
        PreconditionFailedError,
        ExpiredError,
        TooLargeError,
        UnsupportedMediaTypeError,
        RateLimitedError,
        InternalError,
        DecryptFailedError,
        UnavailableError,
        AuditSinkUnavailableError,
      ].map((c) => [c.codeName, c]),
    ),
  ),
);

/** The codes this version knows, as spelt on the wire. */
export const ERROR_CODES = Object.freeze(Object.keys(BY_CODE));

/**
 * The error for an API answer: the class of its code, or HushError for a code this version
 * does not know (a newer server's) — its `status` still says what kind of failure it is.
 * @param {number} status
 * @param {string} code
 * @param {string} message
 * @param {{retryAfter?: number, details?: object}} [more]
 */
export function errorFor(status, code, message, more = {}) {
  const cls = BY_CODE[code] ?? HushError;
  return new cls(message, { status, code, ...more });
}

// ---- the workload call ----------------------------------------------------------------

/** What secrets.get / secrets.file fail with. `key` is the key asked for (when there is one). */
export class SecretsError extends HushError {
  /** @param {string} message @param {{key?: string, cause?: unknown, status?: number | null}} [opts] */
  constructor(message, opts = {}) {
    super(message, { cause: opts.cause, status: opts.status });
    if (opts.key !== undefined) this.key = opts.key;
  }
}
named(SecretsError, 'SecretsError');

/** Quotes a key for a message, as the Rust SDK's `{key:?}` does. */
export function q(s) {
  return JSON.stringify(s);
}

export class InvalidKeyError extends SecretsError {
  constructor(key) {
    const shown = [...String(key)].slice(0, 64).join('');
    super(`${q(shown)} is not a valid secret key: use 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)`, { key: shown });
  }
}
named(InvalidKeyError, 'InvalidKeyError');
InvalidKeyError.codeName = 'invalid_key';

export class NotDeclaredError extends SecretsError {
  constructor(key) {
    super(`secret ${q(key)} is not declared for this workload: add it to hush.toml (inside \`hush run\` only declared secrets are available)`, { key });
  }
}
named(NotDeclaredError, 'NotDeclaredError');
NotDeclaredError.codeName = 'not_declared';

export class BadMapError extends SecretsError {
  constructor(reason) {
    super(`HUSH_SECRETS_MAP is not a valid secrets map (${reason}): it is set by \`hush run\`; unset it outside \`hush run\``);
    this.reason = reason;
  }
}
named(BadMapError, 'BadMapError');
BadMapError.codeName = 'bad_map';

export class UndeliveredError extends SecretsError {
  constructor(key, variable) {
    super(`secret ${q(key)} should be delivered in environment variable ${variable} (says HUSH_SECRETS_MAP), but ${variable} is not set`, { key });
    this.variable = variable;
  }
}
named(UndeliveredError, 'UndeliveredError');
UndeliveredError.codeName = 'undelivered';

export class ConfigError extends SecretsError {}
named(ConfigError, 'ConfigError');
ConfigError.codeName = 'config';

export class SecretsIOError extends SecretsError {
  /** @param {string} action @param {string} path @param {NodeJS.ErrnoException} cause */
  constructor(action, path, cause) {
    super(`cannot ${action} ${path}: ${cause?.code ? `${cause.code}: ` : ''}${describeIo(cause)}`, { cause });
    this.action = action;
    this.path = path;
  }
}
named(SecretsIOError, 'SecretsIOError');
SecretsIOError.codeName = 'io';

function describeIo(e) {
  // Node's fs messages look like "ENOENT: no such file or directory, open '/x'": keep the words.
  const m = String(e?.message ?? e);
  const i = m.indexOf(': ');
  const rest = i >= 0 && /^E[A-Z]+$/.test(m.slice(0, i)) ? m.slice(i + 2) : m;
  return rest.split(', ')[0];
}

export class SecretsFileError extends SecretsError {
  constructor(path, why) {
    super(`cannot parse ${path}: ${why} (the text is not shown as it may hold a value)`);
    this.path = path;
  }
}
named(SecretsFileError, 'SecretsFileError');
SecretsFileError.codeName = 'secrets_file';

export class RefusedError extends SecretsError {
  constructor(key, reason, serverMessage) {
    super(`the hush server will not give secret ${q(key)} (${reason}): ${serverMessage}`, { key });
    /** `missing`, `revoked`, `expired`, `out_of_scope`, `decrypt_failed`, or a newer code. */
    this.reason = reason;
    this.serverMessage = serverMessage;
  }
}
named(RefusedError, 'RefusedError');
RefusedError.codeName = 'refused';

export class ServerError extends SecretsError {
  /** @param {string} key @param {HushError} cause @param {string} [fallback] */
  constructor(key, cause, fallback = '') {
    super(
      `asking the hush server at HUSH_ADDR for secret ${q(key)} failed: ${cause.message}` +
        (fallback ? `; ${fallback}` : ''),
      {
        key,
        cause,
        status: cause.status,
      },
    );
    /** The client's error (also `cause`). */
    this.error = cause;
    /** Why the offline fallback snapshot could not answer instead; '' when there is none. */
    this.fallback = fallback;
  }
}
named(ServerError, 'ServerError');
ServerError.codeName = 'server';

export class SecretNotFoundError extends SecretsError {
  constructor(key, looked) {
    super(`secret ${q(key)} not found: ${looked}`, { key });
    this.looked = looked;
  }
}
named(SecretNotFoundError, 'SecretNotFoundError');
SecretNotFoundError.codeName = 'secret_not_found';

export class NotUtf8Error extends SecretsError {
  constructor() {
    super("the secret's value is not UTF-8 text: read it with exposeBytes");
  }
}
named(NotUtf8Error, 'NotUtf8Error');
NotUtf8Error.codeName = 'not_utf8';
