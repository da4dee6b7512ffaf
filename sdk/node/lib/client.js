// The management client: every route of the hush API, with Node's global fetch.
import { inspect } from 'node:util';
import { ConnectionError, HushError, InvalidError, NotFoundError, errorFor } from './errors.js';
import { Secret, isUtf8, valueBytes } from './secret.js';

export const VERSION = '0.1.0';
const PAGE = 1000;
const METADATA = ['description', 'token_type', 'scope', 'envs', 'expires_at', 'format', 'allow_past'];

/** Keys, app names and token ids go into URL paths: only A-Z a-z 0-9 _ . -, never . or .. */
function segment(s, what = 'key or token id') {
  const ok =
    typeof s === 'string' &&
    s.length > 0 &&
    s.length <= 128 &&
    s !== '.' &&
    s !== '..' &&
    /^[A-Za-z0-9_.-]+$/.test(s);
  if (!ok) {
    const shown = JSON.stringify([...String(s)].slice(0, 64).join(''));
    throw new InvalidError(`${shown} is not a valid ${what}: use 1-128 of A-Z a-z 0-9 _ . -`, {
      code: 'invalid_field',
    });
  }
  return s;
}

/** A secret write body: the value as `value` (UTF-8) or `value_base64`, and the metadata. */
function writeBody(fields, { allowKey }) {
  const body = {};
  if (fields == null || typeof fields !== 'object') {
    throw new TypeError('give the fields as an object: {value, description, token_type, scope, envs, expires_at}');
  }
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (k === 'value') {
      const bytes = valueBytes(v);
      if (isUtf8(bytes)) body.value = bytes.toString('utf8');
      else body.value_base64 = bytes.toString('base64');
      bytes.fill(0);
    } else if (k === 'key' && allowKey) {
      body.key = v;
    } else if (METADATA.includes(k) || k === 'expected_version') {
      body[k] = v;
    } else {
      // The server would refuse it too (422); saying so here names the fields it takes.
      throw new InvalidError(
        `unknown field ${JSON.stringify(k)}: use ${allowKey ? 'key, ' : ''}value, description, token_type, scope, envs, expires_at, format, allow_past${allowKey ? '' : ', expected_version'}`,
        { code: 'invalid_field' },
      );
    }
  }
  return body;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A secret with its value from the wire: `value` becomes a Secret (null when none was sent). */
export function secretValue(raw) {
  const { value, value_base64, ...meta } = raw;
  let secret = null;
  if (typeof value === 'string') secret = new Secret(value);
  else if (typeof value_base64 === 'string') {
    if (!B64.test(value_base64)) {
      throw new HushError('the server sent a value that does not decode', { status: 200, code: 'decode' });
    }
    secret = new Secret(Buffer.from(value_base64, 'base64'));
  }
  return { ...meta, value: secret };
}

function ifMatchHeader(ifMatch) {
  if (ifMatch === undefined || ifMatch === null) return {};
  // A revision number is sent as its ETag ("7"); a string is sent as given ("7", *).
  return { 'if-match': typeof ifMatch === 'number' ? `"${ifMatch}"` : String(ifMatch) };
}

/** Short names for the transport failures people meet most, by Node's error code. */
const SHORT_CAUSES = {
  ECONNREFUSED: 'connection refused',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls: unknown issuer',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls: unknown issuer',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls: unknown issuer',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls: unknown issuer',
  CERT_HAS_EXPIRED: 'tls: certificate expired',
  CERT_NOT_YET_VALID: 'tls: certificate not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls: certificate not valid for this name',
};

/** A client for one hush server and one token. */
export class Client {
  #base;
  #token;
  #timeoutMs;
  #pageSize;

  /**
   * @param {string} addr `http://HOST:PORT` or `https://HOST`
   * @param {string} token a hush token (`hush_…`)
   * @param {{timeoutMs?: number, pageSize?: number}} [options] the deadline of each request
   *   (default 30 s); the page size list calls ask for (1-1000, default 1000)
   */
  constructor(addr, token, options = {}) {
    const base = String(addr ?? '').replace(/\/+$/, '');
    let ok = base.startsWith('http://') || base.startsWith('https://');
    if (ok) {
      try {
        const u = new URL(base);
        ok = !u.username && !u.password && !u.search && !u.hash;
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      throw new InvalidError(
        `${JSON.stringify(base.slice(0, 200))} is not a server address: give http://HOST:PORT or https://HOST`,
        { code: 'bad_address' },
      );
    }
    if (typeof token !== 'string' || token.length === 0) {
      throw new InvalidError('no token: give a hush token (hush_…), e.g. from HUSH_TOKEN', { code: 'bad_token' });
    }
    const timeoutMs = options.timeoutMs ?? 30_000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError('timeoutMs must be a positive number of milliseconds');
    }
    const pageSize = options.pageSize ?? PAGE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE) {
      throw new TypeError('pageSize must be an integer from 1 to 1000');
    }
    this.#base = base;
    this.#token = token;
    this.#timeoutMs = timeoutMs;
    this.#pageSize = pageSize;
    this.secrets = new SecretsApi(this);
    this.apps = new AppsApi(this);
    this.tokens = new TokensApi(this);
    this.audit = new AuditApi(this);
    Object.freeze(this);
  }

  /** The server address. */
  get addr() {
    return this.#base;
  }

  /** A client of the same server with another token. */
  withToken(token) {
    return new Client(this.#base, token, { timeoutMs: this.#timeoutMs, pageSize: this.#pageSize });
  }

  /**
   * One request; the parsed JSON answer (null for 204), or the error for the answer.
   * @internal
   */
  async _call(method, path, { query, body, headers } = {}) {
    let url = this.#base + path;
    if (query) {
      const qs = new URLSearchParams();
      for (const [k, v] of Object.entries(query)) {
        if (v !== undefined && v !== null) qs.set(k, String(v));
      }
      const s = qs.toString();
      if (s) url += `?${s}`;
    }
    const init = {
      method,
      headers: {
        // EXPOSE: the token goes in the Authorization header and nowhere else.
        authorization: `Bearer ${this.#token}`,
        accept: 'application/json',
        'user-agent': `hush-sdk-node/${VERSION}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(this.#timeoutMs),
    };
    let res;
    let text;
    try {
      res = await fetch(url, init);
      text = await res.text();
    } catch (e) {
      throw this.#unreachable(e);
    }
    if (res.status >= 200 && res.status < 300) {
      if (text === '') return null;
      try {
        return JSON.parse(text);
      } catch {
        // The parser's message may quote the text, which may hold a value: not shown.
        throw new HushError(`unexpected answer: HTTP ${res.status} with a body that is not JSON`, {
          status: res.status,
          code: 'unexpected_answer',
        });
      }
    }
    let code = 'unknown';
    let message = `HTTP ${res.status}`;
    let details = {};
    try {
      const parsed = JSON.parse(text);
      if (parsed && typeof parsed.error === 'object' && parsed.error !== null) {
        const { code: c, message: m, ...rest } = parsed.error;
        if (typeof c === 'string') code = c;
        if (typeof m === 'string') message = m;
        details = rest;
      }
    } catch {
      // Not an error body (a proxy's page): the status says it.
    }
    const more = { details };
    const ra = res.headers.get('retry-after');
    if (ra !== null && /^\d+$/.test(ra.trim())) more.retryAfter = Number(ra.trim());
    throw errorFor(res.status, code, message, more);
  }

  #unreachable(e) {
    if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
      return new ConnectionError(this.#base, `timeout after ${this.#timeoutMs / 1000} s`, e);
    }
    const cause = e?.cause ?? e;
    const reason = SHORT_CAUSES[cause?.code] || cause?.message || cause?.code || String(cause);
    return new ConnectionError(this.#base, reason, e);
  }

  /** Every item of a list route, following next_cursor to the last page. @internal */
  async _all(path, query = {}) {
    const out = [];
    let cursor;
    for (;;) {
      const page = await this._call('GET', path, { query: { ...query, cursor, limit: this.#pageSize } });
      out.push(...page.items);
      if (page.next_cursor === null || page.next_cursor === undefined) return out;
      cursor = page.next_cursor;
    }
  }

  /**
   * For a workload: the values of `keys` (or why each cannot be had), in one call.
   * @param {{keys: string[], app?: string, env?: string, dry_run?: boolean}} request
   */
  async resolve(request) {
    const r = await this._call('POST', '/v1/resolve', { body: request });
    const secrets = {};
    for (const [k, v] of Object.entries(r.secrets ?? {})) secrets[k] = secretValue(v);
    return { secrets, errors: r.errors ?? {}, warnings: r.warnings ?? [] };
  }

  /** Like resolve, but reads nothing: each key's metadata or why it cannot be had. */
  async check(request) {
    return this.resolve({ ...request, dry_run: true });
  }

  [inspect.custom]() {
    return `Client { addr: ${JSON.stringify(this.#base)}, token: '[redacted]' }`;
  }

  toJSON() {
    return { addr: this.#base, token: '[redacted]' };
  }

  toString() {
    return `Client(${this.#base})`;
  }
}

class SecretsApi {
  #c;
  constructor(client) {
    this.#c = client;
  }

  /**
   * Creates a secret (ExistsError when the key exists). With `{ env }` as the second
   * argument, the value is that environment's own (the secret has no shared value yet).
   */
  async create(fields, { env } = {}) {
    const body = writeBody(fields, { allowKey: true });
    if (typeof body.key !== 'string') {
      throw new InvalidError('create needs a key: create({key, value, ...})', { code: 'invalid_field' });
    }
    return this.#c._call('POST', '/v1/secrets', { query: { env }, body });
  }

  /**
   * Creates or replaces a secret's value (and metadata); with `env`, that environment's own
   * value, leaving the shared one and other environments' alone.
   */
  async put(key, fields, { ifMatch, env } = {}) {
    segment(key);
    const body = writeBody(fields, { allowKey: false });
    return this.#c._call('PUT', `/v1/secrets/${key}`, { query: { env }, body, headers: ifMatchHeader(ifMatch) });
  }

  /**
   * Changes the value and/or metadata; `expected_version` (StaleVersionError) and `ifMatch`
   * (PreconditionFailedError) guard it.
   */
  async update(key, fields, { ifMatch, env } = {}) {
    segment(key);
    const body = writeBody(fields, { allowKey: false });
    return this.#c._call('PATCH', `/v1/secrets/${key}`, { query: { env }, body, headers: ifMatchHeader(ifMatch) });
  }

  /**
   * Metadata and the decrypted value (of `version`, or the current one) as a Secret; with
   * `env`, the value that environment reads (its own, else the shared one: `value_env`).
   */
  async fetch(key, { version, env } = {}) {
    segment(key);
    return secretValue(await this.#c._call('GET', `/v1/secrets/${key}`, { query: { version, env } }));
  }

  /** Every secret matching the filters (metadata only), following pages. */
  async list({ env, app, prefix, status } = {}) {
    return this.#c._all('/v1/secrets', { env, app, prefix, status });
  }

  /** The Ductape name of list(). */
  async fetchAll(filters = {}) {
    return this.list(filters);
  }

  /** Metadata of one secret without reading its value (NotFoundError when there is none). */
  async show(key) {
    segment(key);
    const found = (await this.list({ prefix: key })).find((m) => m.key === key);
    if (!found) throw new NotFoundError(`secret ${JSON.stringify(key)} not found`, { status: 404, code: 'not_found' });
    return found;
  }

  /** Deletes a secret; `force` even while registered apps name it (else InUseError). */
  async delete(key, { force, expected_version, ifMatch, env } = {}) {
    segment(key);
    await this.#c._call('DELETE', `/v1/secrets/${key}`, {
      query: { force: force ? 'true' : undefined, expected_version, env },
      headers: ifMatchHeader(ifMatch),
    });
    return true;
  }

  /** Disables a secret without deleting it. */
  async revoke(key) {
    segment(key);
    return this.#c._call('POST', `/v1/secrets/${key}/revoke`);
  }

  /** Undoes revoke. */
  async restore(key) {
    segment(key);
    return this.#c._call('POST', `/v1/secrets/${key}/restore`);
  }

  /** The versions of a secret (no values), oldest first, following pages; `env`: only its own. */
  async versions(key, { env } = {}) {
    segment(key);
    return this.#c._all(`/v1/secrets/${key}/versions`, { env });
  }

  /** Makes version `to`'s value current again, as a new version (of `env`'s own value). */
  async rollback(key, to, { env } = {}) {
    segment(key);
    return this.#c._call('POST', `/v1/secrets/${key}/rollback`, { query: { env }, body: { to } });
  }
}

class AppsApi {
  #c;
  constructor(client) {
    this.#c = client;
  }

  /** Registers an app's manifest, or replaces it. */
  async register(manifest) {
    return this.#c._call('POST', '/v1/apps', { body: manifest });
  }

  /** The registered apps, following pages. */
  async list() {
    return this.#c._all('/v1/apps');
  }

  /** One registered app. */
  async get(name) {
    segment(name, 'app name');
    return this.#c._call('GET', `/v1/apps/${name}`);
  }

  /** Unregisters an app. */
  async delete(name) {
    segment(name, 'app name');
    await this.#c._call('DELETE', `/v1/apps/${name}`);
    return true;
  }
}

class TokensApi {
  #c;
  constructor(client) {
    this.#c = client;
  }

  /** Makes a token (admin); the answer's `token` is a Secret, shown nowhere else. */
  async create(request) {
    const r = await this.#c._call('POST', '/v1/tokens', { body: request });
    const { token, ...info } = r;
    return { ...info, token: new Secret(token) };
  }

  /** The tokens (admin), following pages. */
  async list() {
    return this.#c._all('/v1/tokens');
  }

  /** Revokes a token by id or name (admin); the record. */
  async revoke(idOrName) {
    segment(idOrName, 'token id or name');
    return this.#c._call('POST', `/v1/tokens/${idOrName}/revoke`);
  }

  /** Revokes a token by id or name with DELETE (admin): no answer but success. */
  async delete(idOrName) {
    segment(idOrName, 'token id or name');
    await this.#c._call('DELETE', `/v1/tokens/${idOrName}`);
    return true;
  }
}

class AuditApi {
  #c;
  constructor(client) {
    this.#c = client;
  }

  /** Audit rows (admin), in sequence order, following pages. */
  async list({ key, actor, since, until } = {}) {
    return this.#c._all('/v1/audit', { key, actor, since, until });
  }

  /**
   * Checks the audit chain (admin); with `head` (from head()), also that it is still there
   * unchanged, so rows cut off the end are found.
   */
  async verify({ head } = {}) {
    const query = head ? { head_seq: head.seq, head_mac: head.mac } : undefined;
    const v = await this.#c._call('GET', '/v1/audit/verify', { query });
    if (head && v.intact && !v.head_checked) {
      throw new HushError('the server did not check the head (it predates audit heads): upgrade it', {
        status: 200,
        code: 'unexpected_answer',
      });
    }
    return v;
  }

  /** The newest audit row's sequence number and MAC (admin). */
  async head() {
    return this.#c._call('GET', '/v1/audit/head');
  }

  /**
   * Audit retention (an admin of workspace `default`): removes the rows written before `before`
   * (RFC 3339, unix seconds as a string, or a duration before the server's now such as '90d')
   * and keeps a checkpoint from which verify() proves the rest.
   */
  async prune({ before }) {
    return this.#c._call('POST', '/v1/audit/prune', { body: { before } });
  }
}
