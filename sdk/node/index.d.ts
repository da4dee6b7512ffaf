// Declarations of hush-sdk. The API's shapes are the components of the OpenAPI document,
// generated into types/openapi.d.ts (`npm run gen-types`); this file only names them and
// says where the SDK changes one (a value or a token becomes a Secret).
import type { components } from './types/openapi.js';

type Schemas = components['schemas'];

// ---- the API's shapes ------------------------------------------------------------------

/** A secret's metadata (never a value). */
export type SecretMeta = Schemas['SecretMeta'];
/** A secret with its decrypted value: `value` is a Secret (null on a dry-run answer). */
export type SecretValue = Omit<Schemas['SecretValue'], 'value' | 'value_base64'> & { value: Secret | null };
/** One version in a secret's history (no value). */
export type VersionInfo = Schemas['VersionInfo'];
/** A registered app. */
export type AppInfo = Schemas['AppInfo'];
/** An app's manifest: what hush.toml declares. */
export type AppManifest = Schemas['AppManifest'];
/** One secret a manifest declares. */
export type SecretDecl = Schemas['SecretDecl'];
/** A token's record (never the token). */
export type TokenInfo = Schemas['TokenInfo'];
/** A new token: the record and, once, the token as a Secret. */
export type NewToken = Omit<Schemas['NewToken'], 'token'> & { token: Secret };
/**
 * The body of tokens.create: `{role}` or `{app, env}`, `name`, `expires_at`, and `workspace`
 * (only the admin token's own: another workspace's tokens are made with its admin token).
 */
export type TokenRequest = Schemas['TokenCreate'];
/** One row of the audit log. */
export type AuditRecord = Schemas['AuditRecord'];
/** One key of an audit row that names several (a resolve of more than one key). */
export type AuditItem = Schemas['AuditItem'];
/** The answer of audit.verify. */
export type AuditVerdict = Schemas['AuditVerdict'];
/** A head of the audit chain, to keep elsewhere and give back to audit.verify. */
export type AuditHead = Schemas['AuditHead'];
/** The answer of audit.prune. */
export type AuditPruned = Schemas['AuditPruned'];
/** The body of resolve. */
export type ResolveRequest = Schemas['Resolve'];
/** Why one key of a resolve call could not be had. */
export type Refusal = NonNullable<Schemas['Resolved']['errors']>[string];
/** The answer of resolve: a value per key that could be had, a reason per key that could not. */
export interface Resolved {
  secrets: Record<string, SecretValue>;
  errors: Record<string, Refusal>;
  /** What to act on although the keys were served (an expiry within its window); `[]` when nothing. */
  warnings: Warning[];
}
/** Something to act on although a read succeeded (never a value): `code` `expiring`. */
export type Warning = Schemas['Warning'];
/** The error body of every failed API call. */
export type ErrorBody = Schemas['Error'];

/** A value given to the SDK: text, bytes (sent as base64 when not UTF-8), or a Secret. */
export type Value = string | Uint8Array | Secret;

/**
 * The metadata fields of a secret write (`null` clears a field; `[]` clears a list), and how
 * the write is checked: `format: 'json'` refuses a value that is not valid JSON;
 * `allow_past: true` accepts an `expires_at` in the past (refused otherwise). `expires_at`
 * is unix seconds or an RFC 3339 string.
 */
export type Metadata = Pick<
  Schemas['SecretWrite'],
  'description' | 'token_type' | 'scope' | 'envs' | 'expires_at' | 'format' | 'allow_past'
>;
/** The body of secrets.create. */
export type SecretCreate = Metadata & { key: string; value: Value };
/** The body of secrets.put and secrets.update; `expected_version` guards the value version. */
export type SecretUpdate = Metadata & { value?: Value; expected_version?: Schemas['SecretWrite']['expected_version'] };
/** `If-Match`: a revision (sent as its ETag `"N"`), or an ETag string (`"7"`, `*`). */
export interface Conditional {
  ifMatch?: number | string;
  /** The environment whose own value the call is on (none: the shared value). */
  env?: string;
}

/** Options of the calls on one environment's own value. */
export interface InEnv {
  /** The environment whose own value the call is on (none: the shared value). */
  env?: string;
}

// ---- values ------------------------------------------------------------------------------

/**
 * A secret's value: prints as `[redacted]` (util.inspect, String, template literals,
 * JSON.stringify). Read it with expose() / exposeBytes().
 */
export class Secret {
  constructor(value: string | Uint8Array);
  /** The value as text; throws NotUtf8Error when it is not UTF-8. */
  expose(): string;
  /** A copy of the value's bytes. */
  exposeBytes(): Uint8Array;
  /** The value's length in bytes. */
  readonly byteLength: number;
  /** Overwrites the bytes this object holds with zeros. */
  clear(): void;
  toString(): '[redacted]';
  toJSON(): '[redacted]';
}

// ---- the management client ---------------------------------------------------------------

export interface ClientOptions {
  /** The deadline of each request, in milliseconds (default 30000). */
  timeoutMs?: number;
  /** How many items list calls ask for per page, 1-1000 (default 1000); they follow every page. */
  pageSize?: number;
}

export interface ListFilters {
  /** Only secrets available in this environment. */
  env?: string;
  /** Only secrets this app may read. */
  app?: string;
  /** Only keys with this prefix. */
  prefix?: string;
  /** `active` (`expiring` included), `expiring`, `revoked` or `expired`. */
  status?: 'active' | 'expiring' | 'revoked' | 'expired';
}

export interface AuditFilters {
  key?: string;
  actor?: string;
  /** Unix seconds. */
  since?: number;
  /** Unix seconds. */
  until?: number;
}

export interface DeleteOptions extends Conditional {
  /** Delete even while registered apps name the key (else InUseError). */
  force?: boolean;
  /** Delete only if this is still the current value version (else StaleVersionError). */
  expected_version?: number;
}

export interface SecretsApi {
  /** Creates a secret (ExistsError when the key exists). */
  create(fields: SecretCreate, options?: InEnv): Promise<SecretMeta>;
  /** Creates or replaces a secret's value (and metadata). */
  put(key: string, fields: SecretUpdate & { value: Value }, options?: Conditional): Promise<SecretMeta>;
  /** Changes the value and/or metadata. */
  update(key: string, fields: SecretUpdate, options?: Conditional): Promise<SecretMeta>;
  /** Metadata and the decrypted value (of `version`, or the current one). */
  fetch(key: string, options?: { version?: number; env?: string }): Promise<SecretValue>;
  /** Every secret matching the filters (metadata only), following pages. */
  list(filters?: ListFilters): Promise<SecretMeta[]>;
  /** The Ductape name of list(). */
  fetchAll(filters?: ListFilters): Promise<SecretMeta[]>;
  /** Metadata of one secret, without reading its value. */
  show(key: string): Promise<SecretMeta>;
  /** Deletes a secret; resolves to true. */
  delete(key: string, options?: DeleteOptions): Promise<true>;
  /** Disables a secret without deleting it. */
  revoke(key: string): Promise<SecretMeta>;
  /** Undoes revoke. */
  restore(key: string): Promise<SecretMeta>;
  /** The versions of a secret (no values), oldest first. */
  versions(key: string, options?: InEnv): Promise<VersionInfo[]>;
  /** Makes version `to`'s value current again, as a new version. */
  rollback(key: string, to: number, options?: InEnv): Promise<SecretMeta>;
}

export interface AppsApi {
  /** Registers an app's manifest, or replaces it. */
  register(manifest: AppManifest): Promise<AppInfo>;
  /** The registered apps. */
  list(): Promise<AppInfo[]>;
  /** One registered app. */
  get(name: string): Promise<AppInfo>;
  /** Unregisters an app; resolves to true. */
  delete(name: string): Promise<true>;
}

export interface TokensApi {
  /** Makes a token (admin); the only answer that carries it. */
  create(request: TokenRequest): Promise<NewToken>;
  /** The tokens (admin). */
  list(): Promise<TokenInfo[]>;
  /** Revokes a token by id or name (admin); the record. */
  revoke(idOrName: string): Promise<TokenInfo>;
  /** Revokes a token by id or name with DELETE (admin); resolves to true. */
  delete(idOrName: string): Promise<true>;
}

export interface AuditApi {
  /** Audit rows (admin), in sequence order. */
  list(filters?: AuditFilters): Promise<AuditRecord[]>;
  /** Checks the audit chain (admin), and that `head` is still in it when given. */
  verify(options?: { head?: AuditHead }): Promise<AuditVerdict>;
  /** The newest audit row's sequence number and MAC (admin). */
  head(): Promise<AuditHead>;
  /**
   * Removes the audit rows written before `before` (RFC 3339, unix seconds, or a duration
   * before now such as '90d'), keeping a checkpoint verify starts from (admin of `default`).
   */
  prune(options: { before: string }): Promise<AuditPruned>;
}

/** A client for one hush server and one token. */
export class Client {
  /**
   * @param addr `http://HOST:PORT` or `https://HOST`
   * @param token a hush token
   */
  constructor(addr: string, token: string, options?: ClientOptions);
  /** The server address. */
  readonly addr: string;
  readonly secrets: SecretsApi;
  readonly apps: AppsApi;
  readonly tokens: TokensApi;
  readonly audit: AuditApi;
  /** A client of the same server with another token. */
  withToken(token: string): Client;
  /** For a workload: the values of `keys` (or why each cannot be had), in one call. */
  resolve(request: ResolveRequest): Promise<Resolved>;
  /** Like resolve with `dry_run`: metadata only, nothing read. */
  check(request: Omit<ResolveRequest, 'dry_run'>): Promise<Resolved>;
  toJSON(): { addr: string; token: '[redacted]' };
}

export const VERSION: string;

// ---- the workload call -------------------------------------------------------------------

/** The sources secrets.get and secrets.file read, from an environment and a directory. */
/** What a Sources reads and how it treats the server. */
export interface SourcesOptions {
  /** The environment (default: a copy of process.env, taken now). */
  env?: Record<string, string | undefined>;
  /** The directory relative paths are taken from (default: process.cwd()). */
  cwd?: string;
  /**
   * Against a server: keep an offline fallback snapshot of each value it gives, and answer
   * from it when the server cannot be reached, times out or answers 5xx (never 401, 403,
   * 404, 410). Default: on, unless HUSH_NO_FALLBACK is set.
   */
  fallback?: boolean;
  /**
   * The oldest snapshot value to use: `90s`, `30m`, `24h`, `7d`, or seconds. Default:
   * HUSH_FALLBACK_MAX_AGE, else 24 hours.
   */
  fallbackMaxAge?: string | number;
}

export class Sources {
  constructor(options?: SourcesOptions);
  static fromEnv(): Sources;
  get(key: string): Promise<Secret>;
  file(key: string): Promise<string>;
  cleanup(): void;
}

/** The workload call for this process (environment and directory read on first use). */
export const secrets: {
  /** The value of `key`: from HUSH_SECRETS_MAP (inside `hush run`), else <prefix><key>, else .secrets, else the server. */
  get(key: string): Promise<Secret>;
  /** A path to a file holding exactly the value of `key`. */
  file(key: string): Promise<string>;
  /** Removes the files file() wrote (also done when the process exits). */
  cleanup(): void;
};

/** Throws InvalidKeyError unless `key` is 1-128 of A-Z a-z 0-9 _ . - not starting with . or -. */
export function checkKey(key: string): void;

export const MAP_VAR: 'HUSH_SECRETS_MAP';
export const PREFIX_VAR: 'HUSH_SECRET_PREFIX';
export const DEFAULT_PREFIX: 'HUSH_SECRET_';
export const SECRETS_FILE_VAR: 'HUSH_SECRETS_FILE';
export const DEFAULT_SECRETS_FILE: '.secrets';
export const SECRETS_DIR_VAR: 'HUSH_SECRETS_DIR';
export const ADDR_VAR: 'HUSH_ADDR';
export const TOKEN_VAR: 'HUSH_TOKEN';
export const APP_VAR: 'HUSH_APP';
export const ENV_VAR: 'HUSH_ENV';
/** Turns the offline fallback snapshot off (any value but empty, `0`, `false`, `no`). */
export const NO_FALLBACK_VAR: 'HUSH_NO_FALLBACK';
/** The oldest fallback snapshot value to use (`90s`, `30m`, `24h`, `7d`); default 24 h. */
export const FALLBACK_MAX_AGE_VAR: 'HUSH_FALLBACK_MAX_AGE';

// ---- errors ------------------------------------------------------------------------------

/** The codes of hush-wire's ErrorCode. */
export type ErrorCode =
  | 'bad_request'
  | 'invalid_field'
  | 'unauthorized'
  | 'forbidden'
  | 'revoked'
  | 'not_found'
  | 'method_not_allowed'
  | 'exists'
  | 'in_use'
  | 'stale_version'
  | 'conflict'
  | 'audit_broken'
  | 'precondition_failed'
  | 'expired'
  | 'too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal'
  | 'decrypt_failed'
  | 'unavailable'
  | 'audit_sink_unavailable';

export const ERROR_CODES: readonly ErrorCode[];

/**
 * The root of every error the package throws: API errors (one class per code, grouped as the
 * Rust SDK groups them), ConnectionError, and the workload call's SecretsError.
 */
export class HushError extends Error {
  constructor(
    message: string,
    options?: { status?: number | null; code?: string; retryAfter?: number | null; details?: object; cause?: unknown },
  );
  /** HTTP status; null when no server answered (refused before sending, unreachable, a workload error). */
  readonly status: number | null;
  /** A stable machine code: the API's, or the SDK's own (`connection`, `bad_address`, `not_declared`, …). */
  readonly code: ErrorCode | (string & {});
  /** Seconds to wait before retrying, from Retry-After (429, 503); null otherwise. */
  readonly retryAfter: number | null;
  /** Any other field of the error body. */
  readonly details: Record<string, unknown>;
}
/** No answer: connection refused, DNS, TLS, or no answer within the timeout (code `connection`). */
export class ConnectionError extends HushError {
  /** The server address. */
  readonly addr: string;
  /** Why no answer came (`connection refused`, `timeout after 30 s`, …). */
  readonly reason: string;
}
/** 422 `invalid_field`; the base of 400, 413 and 415; also a refusal before sending (status null). */
export class InvalidError extends HushError {}
/** 400 `bad_request`. */
export class BadRequestError extends InvalidError {}
/** 413 `too_large`. */
export class TooLargeError extends InvalidError {}
/** 415 `unsupported_media_type`. */
export class UnsupportedMediaTypeError extends InvalidError {}
/** 401 `unauthorized`. */
export class UnauthorizedError extends HushError {}
/** 403 `forbidden`; the base of RevokedError. */
export class ForbiddenError extends HushError {}
/** 403 `revoked`. */
export class RevokedError extends ForbiddenError {}
/** 404 `not_found`. */
export class NotFoundError extends HushError {}
/** 405 `method_not_allowed`. */
export class MethodNotAllowedError extends HushError {}
/** 409 `conflict` (concurrent writers kept colliding: retry); the base of every 409. */
export class ConflictError extends HushError {}
/** 409 `exists`. */
export class ExistsError extends ConflictError {}
/** 409 `stale_version`. */
export class StaleVersionError extends ConflictError {}
/** 409 `in_use`. */
export class InUseError extends ConflictError {}
/** 409 `audit_broken`. */
export class AuditBrokenError extends ConflictError {}
/** 412 `precondition_failed`. */
export class PreconditionFailedError extends HushError {}
/** 410 `expired`. */
export class ExpiredError extends HushError {}
/** 429 `rate_limited`. */
export class RateLimitedError extends HushError {}
/** 500 `internal`; the base of DecryptFailedError. */
export class InternalError extends HushError {}
/** 500 `decrypt_failed`. */
export class DecryptFailedError extends InternalError {}
/** 503 `unavailable`; the base of AuditSinkUnavailableError. */
export class UnavailableError extends HushError {}
/** 503 `audit_sink_unavailable`: the server's audit file cannot be written; retry later. */
export class AuditSinkUnavailableError extends UnavailableError {}

/** What secrets.get / secrets.file fail with. */
export class SecretsError extends HushError {
  readonly key?: string;
}
/** The key is not 1-128 of A-Z a-z 0-9 _ . - or starts with . or -. */
export class InvalidKeyError extends SecretsError {
  readonly key: string;
}
/** Inside `hush run`, and the key is not declared for this workload. */
export class NotDeclaredError extends SecretsError {
  readonly key: string;
}
/** HUSH_SECRETS_MAP is set but is not a valid map. */
export class BadMapError extends SecretsError {
  readonly reason: string;
}
/** HUSH_SECRETS_MAP names an environment variable that is not set. */
export class UndeliveredError extends SecretsError {
  readonly key: string;
  readonly variable: string;
}
/** An environment given to Sources is not usable. */
export class ConfigError extends SecretsError {}
/** A file could not be read or written, or the private directory could not be made. */
export class SecretsIOError extends SecretsError {
  readonly action: string;
  readonly path: string;
}
/** The .secrets file cannot be read as dotenv text. */
export class SecretsFileError extends SecretsError {
  readonly path: string;
}
/** The hush server answered that this key cannot be had. */
export class RefusedError extends SecretsError {
  readonly key: string;
  /** `missing`, `revoked`, `expired`, `out_of_scope`, `decrypt_failed`. */
  readonly reason: NonNullable<Refusal['code']> | (string & {});
  readonly serverMessage: string;
}
/** Asking the hush server failed; `error` (and `cause`) is the client's HushError. */
export class ServerError extends SecretsError {
  readonly key: string;
  readonly error: HushError;
  /** Why the offline fallback snapshot could not answer instead; '' when there is none. */
  readonly fallback: string;
  readonly cause: HushError;
}
/** No source has the key; the message says where it looked and what to do. */
export class SecretNotFoundError extends SecretsError {
  readonly key: string;
  readonly looked: string;
}
/** Secret.expose() on a value that is not UTF-8. */
export class NotUtf8Error extends SecretsError {}
