// Errors as types. Two families:
// - HushError: what the hush API answered ({"error": {"code", "message"}}), one subclass per
//   code of hush-wire's ErrorCode, plus ConnectionError when no answer came at all;
// - SecretsError: what the workload call (secrets.get / secrets.file) fails with, mirroring
//   the Rust SDK's secrets::Error.
// No message ever carries a value or a token.

/** An API failure: the HTTP status, the API's `code` and its message. */
export class HushError extends Error {
  /**
   * @param {string} message
   * @param {{status?: number, code?: string, retryAfter?: number, extra?: object, cause?: unknown}} [opts]
   */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    /** HTTP status; 0 when no request was answered (refused before sending, unreachable). */
    this.status = opts.status ?? 0;
    /** The API's code (`not_found`, `exists`, …). */
    this.code = opts.code ?? 'unknown';
    if (opts.retryAfter !== undefined) {
      /** Seconds to wait, from `Retry-After` (429 and 503). */
      this.retryAfter = opts.retryAfter;
    }
    // Any other field of the error body, under its own name.
    for (const [k, v] of Object.entries(opts.extra ?? {})) {
      if (!(k in this) && k !== 'code' && k !== 'message') this[k] = v;
    }
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
    super(`cannot reach the hush server at ${address}: ${reason}`, { status: 0, code: 'unreachable', cause });
    this.address = address;
  }
}
named(ConnectionError, 'ConnectionError');

/** Every code of hush-wire's ErrorCode, with its class name. */
const CODES = [
  ['bad_request', 'BadRequestError'],
  ['invalid_field', 'InvalidError'],
  ['unauthorized', 'UnauthorizedError'],
  ['forbidden', 'ForbiddenError'],
  ['revoked', 'RevokedError'],
  ['not_found', 'NotFoundError'],
  ['method_not_allowed', 'MethodNotAllowedError'],
  ['exists', 'ExistsError'],
  ['in_use', 'InUseError'],
  ['stale_version', 'StaleVersionError'],
  ['conflict', 'ConflictError'],
  ['audit_broken', 'AuditBrokenError'],
  ['precondition_failed', 'PreconditionFailedError'],
  ['expired', 'ExpiredError'],
  ['too_large', 'TooLargeError'],
  ['unsupported_media_type', 'UnsupportedMediaTypeError'],
  ['rate_limited', 'RateLimitedError'],
  ['internal', 'InternalError'],
  ['decrypt_failed', 'DecryptFailedError'],
  ['unavailable', 'UnavailableError'],
];

/** @type {Record<string, typeof HushError>} */
const BY_CODE = Object.create(null);
for (const [code, name] of CODES) {
  const cls = named(class extends HushError {}, name);
  BY_CODE[code] = cls;
}

export const BadRequestError = BY_CODE.bad_request;
export const InvalidError = BY_CODE.invalid_field;
export const UnauthorizedError = BY_CODE.unauthorized;
export const ForbiddenError = BY_CODE.forbidden;
export const RevokedError = BY_CODE.revoked;
export const NotFoundError = BY_CODE.not_found;
export const MethodNotAllowedError = BY_CODE.method_not_allowed;
export const ExistsError = BY_CODE.exists;
export const InUseError = BY_CODE.in_use;
export const StaleVersionError = BY_CODE.stale_version;
export const ConflictError = BY_CODE.conflict;
export const AuditBrokenError = BY_CODE.audit_broken;
export const PreconditionFailedError = BY_CODE.precondition_failed;
export const ExpiredError = BY_CODE.expired;
export const TooLargeError = BY_CODE.too_large;
export const UnsupportedMediaTypeError = BY_CODE.unsupported_media_type;
export const RateLimitedError = BY_CODE.rate_limited;
export const InternalError = BY_CODE.internal;
export const DecryptFailedError = BY_CODE.decrypt_failed;
export const UnavailableError = BY_CODE.unavailable;

/** The codes this version knows, as spelt on the wire. */
export const ERROR_CODES = Object.freeze(CODES.map(([c]) => c));

/**
 * The error for an API answer: the class of its code, or HushError for a code this version
 * does not know (a newer server's) — its `status` still says what kind of failure it is.
 * @param {number} status
 * @param {string} code
 * @param {string} message
 * @param {{retryAfter?: number, extra?: object}} [more]
 */
export function errorFor(status, code, message, more = {}) {
  const cls = BY_CODE[code] ?? HushError;
  return new cls(message, { status, code, ...more });
}

// ---- the workload call ----------------------------------------------------------------

/** What secrets.get / secrets.file fail with. `key` is the key asked for (when there is one). */
export class SecretsError extends Error {
  /** @param {string} message @param {{key?: string, cause?: unknown}} [opts] */
  constructor(message, opts = {}) {
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
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

export class NotDeclaredError extends SecretsError {
  constructor(key) {
    super(`secret ${q(key)} is not declared for this workload: add it to hush.toml (inside \`hush run\` only declared secrets are available)`, { key });
  }
}
named(NotDeclaredError, 'NotDeclaredError');

export class BadMapError extends SecretsError {
  constructor(reason) {
    super(`HUSH_SECRETS_MAP is not a valid secrets map (${reason}): it is set by \`hush run\`; unset it outside \`hush run\``);
    this.reason = reason;
  }
}
named(BadMapError, 'BadMapError');

export class UndeliveredError extends SecretsError {
  constructor(key, variable) {
    super(`secret ${q(key)} should be delivered in environment variable ${variable} (says HUSH_SECRETS_MAP), but ${variable} is not set`, { key });
    this.variable = variable;
  }
}
named(UndeliveredError, 'UndeliveredError');

export class ConfigError extends SecretsError {}
named(ConfigError, 'ConfigError');

export class IoError extends SecretsError {
  /** @param {string} action @param {string} path @param {NodeJS.ErrnoException} cause */
  constructor(action, path, cause) {
    super(`cannot ${action} ${path}: ${cause?.code ? `${cause.code}: ` : ''}${describeIo(cause)}`, { cause });
    this.action = action;
    this.path = path;
  }
}
named(IoError, 'IoError');

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

export class RefusedError extends SecretsError {
  constructor(key, reason, serverMessage) {
    super(`the hush server will not give secret ${q(key)} (${reason}): ${serverMessage}`, { key });
    /** `missing`, `revoked`, `expired`, `out_of_scope`, `decrypt_failed`, or a newer code. */
    this.reason = reason;
    this.serverMessage = serverMessage;
  }
}
named(RefusedError, 'RefusedError');

export class ServerError extends SecretsError {
  /** @param {string} key @param {HushError} cause */
  constructor(key, cause) {
    super(`asking the hush server at HUSH_ADDR for secret ${q(key)} failed: ${cause.message}`, { key, cause });
  }
}
named(ServerError, 'ServerError');

export class SecretNotFoundError extends SecretsError {
  constructor(key, looked) {
    super(`secret ${q(key)} not found: ${looked}`, { key });
    this.looked = looked;
  }
}
named(SecretNotFoundError, 'SecretNotFoundError');

export class NotUtf8Error extends SecretsError {
  constructor() {
    super("the secret's value is not UTF-8 text: read it with exposeBytes");
  }
}
named(NotUtf8Error, 'NotUtf8Error');
