// The management client against a real `hush server`: every call, and every error type
// provoked for real.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { execFileSync } from 'node:child_process';
import {
  BadRequestError,
  Client,
  ConnectionError,
  ERROR_CODES,
  ExistsError,
  ExpiredError,
  ForbiddenError,
  HushError,
  InUseError,
  InvalidError,
  MethodNotAllowedError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  RevokedError,
  Secret,
  StaleVersionError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
  UnsupportedMediaTypeError,
} from '../index.js';
import * as sdk from '../index.js';
import { closedPort, startServer } from './helpers.js';

const now = () => Math.floor(Date.now() / 1000);

/** The error a promise rejects with (fails when it resolves). */
async function failure(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected the call to fail');
}

/** Asserts an API error's class, status and code. */
function isApiError(e, cls, status, code) {
  assert.ok(e instanceof cls, `expected ${cls.name}, got ${e?.name}: ${e?.message}`);
  assert.ok(e instanceof HushError);
  assert.equal(e.name, cls.name);
  assert.equal(e.status, status);
  assert.equal(e.code, code);
  assert.ok(e.message.length > 0);
}

describe('the client against a real server', () => {
  let srv;
  let c;
  before(async () => {
    srv = await startServer(null);
    c = new Client(srv.addr, srv.admin, { pageSize: 2 });
  });
  after(() => srv?.stop());

  test('secrets: create, fetch, list (every page), show, put, update, versions, rollback, delete', async () => {
    const full = {
      description: 'Stripe, production',
      token_type: 'access',
      scope: ['billing', 'ingest'],
      envs: ['prd', 'staging'],
      expires_at: now() + 30 * 86400,
    };
    const created = await c.secrets.create({ key: 'stripe', value: 'sk_live_text', ...full });
    assert.equal(created.key, 'stripe');
    assert.equal(created.version, 1);
    for (const [k, v] of Object.entries(full)) assert.deepEqual(created[k], v, k);

    const read = await c.secrets.fetch('stripe');
    assert.ok(read.value instanceof Secret);
    assert.equal(read.value.expose(), 'sk_live_text');
    assert.equal(read.value_version, 1);
    assert.equal(read.key, 'stripe');
    assert.ok(!('value_base64' in read));

    // Bytes that are not UTF-8 go as value_base64 and come back as the same bytes.
    const bytes = Uint8Array.from([0xff, 0x00, 0xfe, 0x20, 0x62]);
    const put = await c.secrets.put('cert', { value: bytes, envs: ['prd'] });
    assert.equal(put.version, 1);
    assert.deepEqual([...(await c.secrets.fetch('cert')).value.exposeBytes()], [...bytes]);
    const put2 = await c.secrets.put('cert', { value: new Secret('v2') });
    assert.equal(put2.version, 2);
    assert.deepEqual(put2.envs, ['prd'], 'put keeps what it leaves out');

    // A metadata-only update moves no version; null and [] clear.
    const one = await c.secrets.update('stripe', { description: 'rotated' });
    assert.equal(one.description, 'rotated');
    assert.equal(one.version, 1);
    assert.deepEqual(one.scope, ['billing', 'ingest']);
    const cleared = await c.secrets.update('stripe', {
      value: 'sk_live_new',
      description: null,
      token_type: null,
      scope: [],
      envs: null,
      expires_at: null,
      expected_version: 1,
    });
    assert.equal(cleared.version, 2);
    assert.equal(cleared.description, null);
    assert.equal(cleared.token_type, null);
    assert.deepEqual(cleared.scope, []);
    assert.deepEqual(cleared.envs, []);
    assert.equal(cleared.expires_at, null);
    assert.equal((await c.secrets.fetch('stripe', { version: 1 })).value.expose(), 'sk_live_text');
    assert.equal((await c.secrets.fetch('stripe', { version: 2 })).value.expose(), 'sk_live_new');

    // If-Match with the current revision applies; with a number it is sent as its ETag.
    const guarded = await c.secrets.update('stripe', { description: 'guarded' }, { ifMatch: cleared.revision });
    assert.equal(guarded.description, 'guarded');
    await c.secrets.update('stripe', { description: 'star' }, { ifMatch: '*' });

    for (const k of ['a1', 'a2', 'a3']) await c.secrets.create({ key: k, value: `v-${k}` });
    const all = await c.secrets.list();
    assert.deepEqual(all.map((m) => m.key).sort(), ['a1', 'a2', 'a3', 'cert', 'stripe']);
    assert.ok(all.every((m) => !('value' in m)), 'list carries no value');
    assert.deepEqual((await c.secrets.fetchAll({ prefix: 'a' })).map((m) => m.key).sort(), ['a1', 'a2', 'a3']);
    assert.deepEqual((await c.secrets.list({ env: 'prd', prefix: 'c' })).map((m) => m.key), ['cert']);
    assert.equal((await c.secrets.show('a2')).key, 'a2');
    isApiError(await failure(c.secrets.show('a')), NotFoundError, 404, 'not_found');

    await c.secrets.update('a1', { value: 'v2' });
    await c.secrets.update('a1', { value: 'v3' });
    const versions = await c.secrets.versions('a1');
    assert.deepEqual(versions.map((v) => v.version), [1, 2, 3], 'every page of versions');
    assert.deepEqual(versions.map((v) => v.current), [false, false, true]);
    const rolled = await c.secrets.rollback('a1', 1);
    assert.equal(rolled.version, 4);
    assert.equal((await c.secrets.fetch('a1')).value.expose(), 'v-a1');

    const revoked = await c.secrets.revoke('a2');
    assert.equal(revoked.status, 'revoked');
    assert.deepEqual((await c.secrets.list({ status: 'revoked' })).map((m) => m.key), ['a2']);
    const restored = await c.secrets.restore('a2');
    assert.equal(restored.status, 'active');

    assert.equal(await c.secrets.delete('a3'), true);
    isApiError(await failure(c.secrets.fetch('a3')), NotFoundError, 404, 'not_found');
    assert.equal(await c.secrets.delete('a2', { expected_version: 1 }), true);
  });

  test('issue 16: format json, RFC 3339 and past expiries, a token for a workspace', async () => {
    const bad = await failure(c.secrets.create({ key: 'door', value: '{"broken":', format: 'json' }));
    isApiError(bad, InvalidError, 422, 'invalid_field');
    assert.match(bad.message, /not valid JSON/);
    isApiError(await failure(c.secrets.show('door')), NotFoundError, 404, 'not_found');
    const m = await c.secrets.create({ key: 'door', value: '{"ok":1}', format: 'json', expires_at: '2100-01-01T00:00:00Z' });
    assert.equal(m.expires_at, 4102444800);
    const past = await failure(c.secrets.update('door', { expires_at: '2001-01-01T00:00:00Z' }));
    isApiError(past, InvalidError, 422, 'invalid_field');
    assert.match(past.message, /allow_past/);
    const old = await c.secrets.update('door', { expires_at: '2001-01-01T00:00:00Z', allow_past: true });
    assert.equal(old.status, 'expired');
    const t = await c.tokens.create({ role: 'read', workspace: 'default', expires_at: '2100-01-01T00:00:00Z' });
    assert.equal(t.expires_at, 4102444800);
    const other = await failure(c.tokens.create({ role: 'read', workspace: 'elsewhere' }));
    isApiError(other, ForbiddenError, 403, 'forbidden');
    assert.match(other.message, /admin token of that workspace/);
  });

  test('issue 16: values per environment, one environment at a time', async () => {
    await c.secrets.put('per_env', { value: 'shared-v' });
    const m = await c.secrets.put('per_env', { value: 'prd-v' }, { env: 'prd' });
    assert.deepEqual(m.env_versions, { prd: 1 });
    await c.secrets.put('per_env', { value: 'dev-v' }, { env: 'dev' });
    const prd = await c.secrets.fetch('per_env', { env: 'prd' });
    assert.equal(prd.value.expose(), 'prd-v');
    assert.equal(prd.value_env, 'prd');
    const stg = await c.secrets.fetch('per_env', { env: 'stg' });
    assert.equal(stg.value.expose(), 'shared-v');
    assert.equal(stg.value_env, null);
    await c.secrets.update('per_env', { value: 'prd-v2', expected_version: 1 }, { env: 'prd' });
    const stale = await failure(c.secrets.update('per_env', { value: 'x', expected_version: 1 }, { env: 'prd' }));
    isApiError(stale, StaleVersionError, 409, 'stale_version');
    const versions = await c.secrets.versions('per_env', { env: 'prd' });
    assert.deepEqual(versions.map((v) => [v.env, v.version]), [['prd', 1], ['prd', 2]]);
    const back = await c.secrets.rollback('per_env', 1, { env: 'prd' });
    assert.equal(back.env_versions.prd, 3);
    assert.equal(await c.secrets.delete('per_env', { env: 'prd' }), true);
    assert.equal((await c.secrets.fetch('per_env', { env: 'prd' })).value.expose(), 'shared-v');
    assert.equal((await c.secrets.fetch('per_env', { env: 'dev' })).value.expose(), 'dev-v');
    isApiError(await failure(c.secrets.delete('per_env', { env: 'prd' })), NotFoundError, 404, 'not_found');
  });

  test('resolve and check: values, and a reason per key that cannot be had', async () => {
    await c.secrets.create({ key: 'r_ok', value: 'resolved-value' });
    await c.secrets.create({ key: 'r_rev', value: 'x' });
    await c.secrets.revoke('r_rev');
    await c.secrets.create({ key: 'r_exp', value: 'x', expires_at: 1, allow_past: true });
    const r = await c.resolve({ keys: ['r_ok', 'r_rev', 'r_exp', 'r_none'] });
    assert.deepEqual(Object.keys(r.secrets), ['r_ok']);
    assert.equal(r.secrets.r_ok.value.expose(), 'resolved-value');
    assert.equal(r.errors.r_rev.code, 'revoked');
    assert.equal(r.errors.r_exp.code, 'expired');
    assert.equal(r.errors.r_none.code, 'missing');
    assert.ok(r.errors.r_none.message.length > 0);
    // One audit row for the call, naming each key tried; found by any of them.
    const [row] = (await c.audit.list({ key: 'r_none' })).filter((a) => a.action === 'secret.read');
    assert.equal(row.key, null);
    assert.equal(row.outcome, 'partial');
    assert.deepEqual(
      row.items.map((i) => [i.key, i.outcome]),
      [['r_ok', 'ok'], ['r_rev', 'revoked'], ['r_exp', 'expired'], ['r_none', 'not_found']],
    );
    assert.equal(row.items[0].version, 1);
    const dry = await c.check({ keys: ['r_ok', 'r_none'] });
    assert.equal(dry.secrets.r_ok.key, 'r_ok');
    assert.equal(dry.secrets.r_ok.value, null, 'a dry run reads no value');
    assert.equal(dry.errors.r_none.code, 'missing');
  });

  test('apps: register, list (every page), get, delete; in_use while registered', async () => {
    await c.secrets.create({ key: 'app_key', value: 'x' });
    const app = await c.apps.register({
      app: 'web',
      env: 'prd',
      secrets: [{ name: 'APP_KEY', key: 'app_key', required: true, fallback: ['app_key_old'], as: 'env' }],
    });
    assert.equal(app.app, 'web');
    assert.deepEqual(app.keys.map((k) => k.key).sort(), ['app_key', 'app_key_old']);
    await c.apps.register({ app: 'api', secrets: [] });
    await c.apps.register({ app: 'worker', secrets: [] });
    assert.deepEqual((await c.apps.list()).map((a) => a.app).sort(), ['api', 'web', 'worker']);
    assert.equal((await c.apps.get('web')).env, 'prd');

    // 409 in_use: the registered app names the key.
    const inUse = await failure(c.secrets.delete('app_key'));
    isApiError(inUse, InUseError, 409, 'in_use');
    assert.match(inUse.message, /web/);
    assert.equal((await c.secrets.show('app_key')).used_by[0].app, 'web');
    assert.equal((await c.secrets.show('app_key')).used_by[0].env, null, 'never read');
    await c.resolve({ keys: ['app_key'], app: 'web', env: 'prd' });
    assert.equal((await c.secrets.show('app_key')).used_by[0].env, 'prd', 'the read\'s environment');

    assert.equal(await c.apps.delete('worker'), true);
    isApiError(await failure(c.apps.get('worker')), NotFoundError, 404, 'not_found');
    assert.equal(await c.secrets.delete('app_key', { force: true }), true);
  });

  test('tokens: create, list (every page), revoke, delete; 403 forbidden and 401 for real', async () => {
    const reader = await c.tokens.create({ name: 'reader', role: 'read' });
    assert.ok(reader.token instanceof Secret);
    assert.match(reader.token.expose(), /^hush_/);
    assert.equal(reader.role, 'read');
    const machine = await c.tokens.create({ name: 'web-prd', app: 'web', env: 'prd', expires_at: now() + 3600 });
    assert.equal(machine.role, 'machine');
    const listed = await c.tokens.list();
    assert.ok(listed.length >= 3, 'the admin token and the two made here, over pages of 2');
    assert.ok(listed.every((t) => !('token' in t)));
    assert.deepEqual(
      ['reader', 'web-prd'].filter((n) => listed.some((t) => t.name === n)),
      ['reader', 'web-prd'],
    );

    const rc = c.withToken(reader.token.expose());
    await c.secrets.create({ key: 'ro', value: 'x' });
    assert.equal((await rc.secrets.fetch('ro')).value.expose(), 'x');
    // 403 forbidden: a read token writing.
    isApiError(await failure(rc.secrets.create({ key: 'ro2', value: 'x' })), ForbiddenError, 403, 'forbidden');
    isApiError(await failure(rc.tokens.list()), ForbiddenError, 403, 'forbidden');

    const rec = await c.tokens.revoke('reader');
    assert.equal(rec.status, 'revoked');
    // 401: a revoked token.
    isApiError(await failure(rc.secrets.list()), UnauthorizedError, 401, 'unauthorized');
    assert.equal(await c.tokens.delete(machine.id), true);
    assert.equal((await c.tokens.list()).find((t) => t.id === machine.id).status, 'revoked');
    isApiError(await failure(c.tokens.revoke('nobody')), NotFoundError, 404, 'not_found');
  });

  test('audit: list (every page, filtered), head, verify with and without the head', async () => {
    const rows = await c.audit.list();
    assert.ok(rows.length > 10);
    assert.deepEqual(
      rows.map((r) => r.seq),
      rows.map((_, i) => rows[0].seq + i),
      'every page, in sequence order',
    );
    const stripe = await c.audit.list({ key: 'stripe' });
    assert.ok(stripe.length > 0 && stripe.every((r) => r.key === 'stripe'));
    assert.deepEqual(await c.audit.list({ since: now() + 3600 }), []);
    const head = await c.audit.head();
    assert.match(head.mac, /^[0-9a-f]{64}$/);
    const v = await c.audit.verify();
    assert.equal(v.intact, true);
    const vh = await c.audit.verify({ head });
    assert.equal(vh.intact, true);
    assert.equal(vh.head_checked, true);
    const forged = await c.audit.verify({ head: { seq: head.seq, mac: '0'.repeat(64) } });
    assert.equal(forged.intact, false);
    // Retention: nothing is older than 2001, so nothing goes; a time in the future is refused.
    const none = await c.audit.prune({ before: '2001-01-01T00:00:00Z' });
    assert.equal(none.removed, 0);
    assert.equal(none.checkpoint, null);
    assert.deepEqual(none.head, await c.audit.head());
    isApiError(await failure(c.audit.prune({ before: '2999-01-01T00:00:00Z' })), InvalidError, 422, 'invalid_field');
  });

  test('409 exists, 409 stale_version, 412 If-Match, 410 expired, 403 revoked, 404', async () => {
    await c.secrets.create({ key: 'e', value: 'one' });
    isApiError(await failure(c.secrets.create({ key: 'e', value: 'two' })), ExistsError, 409, 'exists');
    const m = await c.secrets.update('e', { value: 'two' });
    isApiError(
      await failure(c.secrets.update('e', { value: 'three', expected_version: 1 })),
      StaleVersionError,
      409,
      'stale_version',
    );
    isApiError(await failure(c.secrets.delete('e', { expected_version: 1 })), StaleVersionError, 409, 'stale_version');
    await c.secrets.update('e', { description: 'moves the revision' });
    isApiError(
      await failure(c.secrets.update('e', { value: 'x' }, { ifMatch: m.revision })),
      PreconditionFailedError,
      412,
      'precondition_failed',
    );
    isApiError(await failure(c.secrets.put('e', { value: 'x' }, { ifMatch: `"${m.revision}"` })), PreconditionFailedError, 412, 'precondition_failed');
    isApiError(await failure(c.secrets.delete('e', { ifMatch: m.revision })), PreconditionFailedError, 412, 'precondition_failed');

    await c.secrets.create({ key: 'old', value: 'x', expires_at: 1, allow_past: true });
    isApiError(await failure(c.secrets.fetch('old')), ExpiredError, 410, 'expired');

    await c.secrets.revoke('e');
    isApiError(await failure(c.secrets.fetch('e')), RevokedError, 403, 'revoked');
    isApiError(await failure(c.secrets.fetch('nothing')), NotFoundError, 404, 'not_found');
    isApiError(await failure(c.secrets.fetch('stripe', { version: 99 })), NotFoundError, 404, 'not_found');
    isApiError(await failure(c.apps.get('nothing')), NotFoundError, 404, 'not_found');
  });

  test('400, 422, 413, 405, 415 from the server; refusals before sending', async () => {
    isApiError(await failure(c.secrets.update('stripe', { description: 'x' }, { ifMatch: 'not-an-etag' })), BadRequestError, 400, 'bad_request');
    isApiError(await failure(c.secrets.create({ key: 'bad key', value: 'x' })), InvalidError, 422, 'invalid_field');
    isApiError(await failure(c.secrets.create({ key: 'k422', value: 'x', token_type: 'nope' })), InvalidError, 422, 'invalid_field');
    isApiError(await failure(c.secrets.create({ key: 'k422', value: '' })), InvalidError, 422, 'invalid_field');
    isApiError(await failure(c._call('GET', '/v1/secrets', { query: { limit: 5000 } })), InvalidError, 422, 'invalid_field');
    const big = 'x'.repeat(2 * 1024 * 1024 + 10);
    isApiError(await failure(c.secrets.create({ key: 'big', value: big })), TooLargeError, 413, 'too_large');
    // What the SDK never sends, through its one request function.
    isApiError(await failure(c._call('PUT', '/v1/audit')), MethodNotAllowedError, 405, 'method_not_allowed');
    isApiError(
      await failure(c._call('POST', '/v1/secrets', { body: { key: 'm', value: 'x' }, headers: { 'content-type': 'text/plain' } })),
      UnsupportedMediaTypeError,
      415,
      'unsupported_media_type',
    );
    // Refused before anything is sent (status 0): a key that is not a path segment, an unknown field.
    for (const key of ['../audit', '.', '..', 'a/b', '', 'x'.repeat(129)]) {
      isApiError(await failure(c.secrets.fetch(key)), InvalidError, null, 'invalid_field');
      isApiError(await failure(c.secrets.delete(key)), InvalidError, null, 'invalid_field');
    }
    const unknown = await failure(c.secrets.update('stripe', { vaule: 'x' }));
    isApiError(unknown, InvalidError, null, 'invalid_field');
    assert.match(unknown.message, /unknown field "vaule"/);
    assert.throws(() => new Client('127.0.0.1:8270', 't'), (e) => e instanceof InvalidError && e.code === 'bad_address');
    assert.throws(() => new Client('http://u:p@127.0.0.1:8270', 't'), InvalidError);
    assert.throws(() => new Client(srv.addr, ''), (e) => e instanceof InvalidError && e.code === 'bad_token');
  });

  test('401 for a bad token, with no value in the message', async () => {
    const bad = new Client(srv.addr, 'hush_not_a_real_token');
    isApiError(await failure(bad.secrets.list()), UnauthorizedError, 401, 'unauthorized');
  });
});

test('429 rate_limited after 20 failed authentications, with retryAfter; a valid token still works', async (t) => {
  const srv = await startServer(t);
  const bad = new Client(srv.addr, 'hush_wrong');
  for (let i = 0; i < 20; i++) {
    isApiError(await failure(bad.secrets.list()), UnauthorizedError, 401, 'unauthorized');
  }
  const e = await failure(bad.secrets.list());
  isApiError(e, RateLimitedError, 429, 'rate_limited');
  assert.ok(Number.isInteger(e.retryAfter) && e.retryAfter > 0 && e.retryAfter <= 60, String(e.retryAfter));
  assert.equal((await failure(new Client(srv.addr, srv.admin).secrets.fetch('none'))).retryAfter, null);
  assert.deepEqual(await new Client(srv.addr, srv.admin).secrets.list(), []);
});

/** The sqlite3 command, to reach into the server's store as another process; null without it. */
function sqlite3() {
  try {
    return execFileSync('sh', ['-c', 'command -v sqlite3'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

test('500 decrypt_failed and 409 audit_broken from a store tampered with behind the server', async (t) => {
  const sqlite = sqlite3();
  if (!sqlite) {
    t.skip('needs the sqlite3 command to tamper with the store');
    return;
  }
  const srv = await startServer(t);
  const c = new Client(srv.addr, srv.admin);
  await c.secrets.create({ key: 'bad', value: 'v' });
  await c.secrets.create({ key: 'good', value: 'v' });
  execFileSync(sqlite, [
    srv.db,
    "UPDATE secret_values SET ciphertext = zeroblob(length(ciphertext)) WHERE secret_id = (SELECT id FROM secrets WHERE key = 'bad');",
  ]);
  const e = await failure(c.secrets.fetch('bad'));
  isApiError(e, sdk.DecryptFailedError, 500, 'decrypt_failed');
  assert.ok(e instanceof sdk.InternalError);
  const r = await c.resolve({ keys: ['bad', 'good'] });
  assert.deepEqual(Object.keys(r.secrets), ['good'], 'only that key fails');
  assert.equal(r.errors.bad.code, 'decrypt_failed');
  execFileSync(sqlite, [srv.db, "UPDATE audit_log SET actor_name = 'forged' WHERE seq = (SELECT max(seq) FROM audit_log);"]);
  const a = await failure(c.audit.head());
  isApiError(a, sdk.AuditBrokenError, 409, 'audit_broken');
  assert.ok(a instanceof sdk.ConflictError);
});

test('503 unavailable with retryAfter while another process holds the store', async (t) => {
  const sqlite = sqlite3();
  if (!sqlite) {
    t.skip('needs the sqlite3 command to lock the store');
    return;
  }
  const srv = await startServer(t);
  const c = new Client(srv.addr, srv.admin);
  await c.secrets.create({ key: 'k', value: 'before' });
  // Another process holds the database's write lock until its stdin closes.
  const lock = spawn(sqlite, [srv.db], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => lock.kill('SIGKILL'));
  lock.stdin.write("BEGIN EXCLUSIVE;\nSELECT 'locked';\n");
  await new Promise((resolve) => lock.stdout.once('data', resolve));
  const e = await failure(c.secrets.put('k', { value: 'during' }));
  isApiError(e, UnavailableError, 503, 'unavailable');
  assert.equal(e.retryAfter, 5);
  lock.stdin.end('ROLLBACK;\n');
  await new Promise((resolve) => lock.once('exit', resolve));
  await c.secrets.put('k', { value: 'after' });
  assert.equal((await c.secrets.fetch('k')).value.expose(), 'after');
});

test('ConnectionError: nothing listening, and no answer within the timeout', async (t) => {
  const addr = `http://127.0.0.1:${await closedPort()}`;
  const e = await failure(new Client(addr, 'hush_t').secrets.list());
  assert.ok(e instanceof ConnectionError && e instanceof HushError, String(e));
  assert.equal(e.status, null);
  assert.equal(e.code, 'connection');
  assert.equal(e.addr, addr);
  assert.match(e.message, new RegExp(`^cannot reach the hush server at ${addr}: connection refused$`));
  assert.equal(e.reason, 'connection refused');

  // A server that accepts and never answers.
  const sockets = [];
  const silent = net.createServer((s) => sockets.push(s));
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  t.after(() => {
    sockets.forEach((s) => s.destroy());
    silent.close();
  });
  const slow = `http://127.0.0.1:${silent.address().port}`;
  const started = Date.now();
  const te = await failure(new Client(slow, 'hush_t', { timeoutMs: 300 }).secrets.list());
  assert.ok(te instanceof ConnectionError, String(te));
  assert.match(te.message, /timeout after 0\.3 s/);
  assert.ok(Date.now() - started < 5000);
});

test('a code this version does not know is a HushError with its status; a page that is not JSON and a redirect too', async (t) => {
  // Not a hush server: a stand-in for a newer server's code and for a proxy's error page.
  const srv = http.createServer((req, res) => {
    if (req.url.startsWith('/v1/secrets/newer')) {
      res.writeHead(418, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"from_the_future","message":"a newer code","hint":"h"}}');
    } else if (req.url.startsWith('/v1/secrets/moved')) {
      // A redirect is not followed: the token goes to no other address.
      res.writeHead(302, { location: `http://127.0.0.1:${redirected.address().port}/v1/secrets/moved` });
      res.end();
    } else {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    }
  });
  let seen = 0;
  const redirected = http.createServer((req, res) => {
    seen += 1;
    res.end('{}');
  });
  await new Promise((r) => redirected.listen(0, '127.0.0.1', r));
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => {
    srv.close();
    redirected.close();
  });
  const c = new Client(`http://127.0.0.1:${srv.address().port}`, 'hush_t');
  const moved = await failure(c.secrets.fetch('moved'));
  assert.equal(moved.constructor, HushError);
  assert.equal(moved.status, 302);
  assert.equal(seen, 0, 'the redirect was not followed');
  const e = await failure(c.secrets.fetch('newer'));
  assert.equal(e.constructor, HushError);
  assert.equal(e.status, 418);
  assert.equal(e.code, 'from_the_future');
  assert.equal(e.message, 'a newer code');
  assert.deepEqual(e.details, { hint: 'h' }, 'other fields of the body are kept');
  const p = await failure(c.secrets.fetch('other'));
  assert.equal(p.constructor, HushError);
  assert.equal(p.status, 502);
  assert.equal(p.code, 'unknown');
  assert.equal(p.message, 'HTTP 502');
});

test('every code of hush-wire has its own class, grouped as the Rust SDK groups them', () => {
  const groups = {
    bad_request: ['BadRequestError', sdk.InvalidError],
    invalid_field: ['InvalidError', HushError],
    too_large: ['TooLargeError', sdk.InvalidError],
    unsupported_media_type: ['UnsupportedMediaTypeError', sdk.InvalidError],
    unauthorized: ['UnauthorizedError', HushError],
    forbidden: ['ForbiddenError', HushError],
    revoked: ['RevokedError', sdk.ForbiddenError],
    not_found: ['NotFoundError', HushError],
    method_not_allowed: ['MethodNotAllowedError', HushError],
    conflict: ['ConflictError', HushError],
    exists: ['ExistsError', sdk.ConflictError],
    stale_version: ['StaleVersionError', sdk.ConflictError],
    in_use: ['InUseError', sdk.ConflictError],
    audit_broken: ['AuditBrokenError', sdk.ConflictError],
    precondition_failed: ['PreconditionFailedError', HushError],
    expired: ['ExpiredError', HushError],
    rate_limited: ['RateLimitedError', HushError],
    internal: ['InternalError', HushError],
    decrypt_failed: ['DecryptFailedError', sdk.InternalError],
    unavailable: ['UnavailableError', HushError],
    audit_sink_unavailable: ['AuditSinkUnavailableError', sdk.UnavailableError],
  };
  assert.deepEqual([...ERROR_CODES].sort(), Object.keys(groups).sort());
  for (const [code, [name, parent]] of Object.entries(groups)) {
    const cls = sdk[name];
    assert.equal(Object.getPrototypeOf(cls), parent, `${name} extends ${parent.name}`);
    assert.equal(cls.name, name);
    const e = new cls('m', { status: 499, code });
    assert.equal(e.name, name);
    assert.equal(e.code, code);
    assert.ok(e.stack.startsWith(`${name}: m`));
  }
  assert.ok(sdk.SecretsError.prototype instanceof HushError, 'one root');
  assert.ok(sdk.ConnectionError.prototype instanceof HushError);
});
