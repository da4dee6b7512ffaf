// The offline fallback snapshot of the server source, against a real `hush server` that the
// test stops: served from the snapshot, refused past its age and with another token, sealed on
// disk, and never used after a 401.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { Client, ConnectionError, RefusedError, ServerError, Sources } from '../index.js';
import { Snapshot, ageText, mayFallBack, parseMaxAge } from '../lib/fallback.js';
import { HushError, InternalError, UnavailableError } from '../lib/errors.js';
import { startServer, tempDir } from './helpers.js';

const PLANTED = 'sk_live_PLANTED_node_fb_7c1d';

function envFor(srv, home, token, extra = {}) {
  return { HUSH_ADDR: srv.addr, HUSH_TOKEN: token, HUSH_HOME: home, HUSH_APP: 'billing', ...extra };
}

function snapshots(home) {
  const d = path.join(home, 'state', 'fallback', 'sdk-node');
  if (!fs.existsSync(d)) return [];
  return fs.readdirSync(d).filter((n) => !n.startsWith('.')).map((n) => path.join(d, n));
}

/** Stops the server and waits until it no longer answers. */
async function stopped(srv) {
  const exited = new Promise((r) => (srv.child.exitCode !== null ? r() : srv.child.once('exit', r)));
  srv.stop();
  await exited;
}

/** Captures what is written to stderr while `f` runs. */
async function stderrOf(f) {
  const orig = process.stderr.write;
  let text = '';
  process.stderr.write = (chunk, ...rest) => {
    text += String(chunk);
    return typeof rest.at(-1) === 'function' ? (rest.at(-1)(), true) : true;
  };
  try {
    const value = await f();
    return { value, text };
  } finally {
    process.stderr.write = orig;
  }
}

/** A stand-in at a stopped server's address, answering every request with `state.status`. */
async function standIn(t, addr, state) {
  const port = Number(new URL(addr).port);
  const srv = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ error: { code: 'stand_in', message: `stand-in says ${state.status}` } });
      res.writeHead(state.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  t.after(() => {
    srv.closeAllConnections();
    srv.close();
  });
}

async function failure(p) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  assert.fail('expected a failure');
}

test('served from the snapshot when the server is stopped; refused past its age, with another token, when changed', async (t) => {
  const srv = await startServer(t);
  const admin = new Client(srv.addr, srv.admin);
  const key = 'fbkey';
  const value = `${PLANTED}-value`;
  await admin.secrets.create({ key, value });
  const dir = tempDir(t);
  const home = path.join(dir, 'client');
  const env = envFor(srv, home, srv.admin);

  const first = await stderrOf(() => new Sources({ env, cwd: dir }).get(key));
  assert.equal(first.value.expose(), value);
  assert.equal(first.text, '');

  // Sealed, private, and named after nothing it holds.
  const [snap] = snapshots(home);
  assert.ok(snap, 'a snapshot is kept');
  assert.equal(fs.statSync(snap).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.dirname(snap)).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(home, 'state')).mode & 0o777, 0o700);
  const raw = fs.readFileSync(snap);
  for (const needle of [value, Buffer.from(value).toString('base64'), key, srv.admin, 'billing']) {
    assert.equal(raw.includes(Buffer.from(needle)), false, `the snapshot holds ${needle.slice(0, 8)}…`);
    assert.equal(path.basename(snap).includes(needle), false);
  }

  await stopped(srv);
  const served = await stderrOf(() => new Sources({ env, cwd: dir }).get(key));
  assert.equal(served.value.expose(), value);
  assert.match(served.text, new RegExp(`the server at ${srv.addr.replace(/[.]/g, '\\.')} cannot be reached`));
  assert.match(served.text, /using the fallback snapshot of "fbkey" from \d+ s ago/);
  assert.equal(served.text.includes(value), false);

  // file() is written from the snapshot too.
  const { value: p } = await stderrOf(() => new Sources({ env, cwd: dir }).file(key));
  assert.equal(fs.readFileSync(p, 'utf8'), value);

  // Turned off: the server's error.
  for (const off of [new Sources({ env, cwd: dir, fallback: false }), new Sources({ env: { ...env, HUSH_NO_FALLBACK: '1' }, cwd: dir })]) {
    const e = await failure(off.get(key));
    assert.ok(e instanceof ServerError);
    assert.ok(e.error instanceof ConnectionError);
  }

  // Another token finds no snapshot; another app neither; nor a key it does not hold.
  const other = await failure(new Sources({ env: envFor(srv, home, `hush_${'Q'.repeat(40)}`), cwd: dir }).get(key));
  assert.ok(other instanceof ServerError && other.error instanceof ConnectionError);
  assert.equal(other.fallback, '');
  assert.ok((await failure(new Sources({ env: { ...env, HUSH_APP: 'other' }, cwd: dir }).get(key))) instanceof ServerError);
  assert.ok((await failure(new Sources({ env, cwd: dir }).get(`${key}_never`))) instanceof ServerError);

  // Past its max age: refused, saying why.
  await new Promise((r) => setTimeout(r, 1100));
  for (const old of [
    new Sources({ env, cwd: dir, fallbackMaxAge: 0 }),
    new Sources({ env: { ...env, HUSH_FALLBACK_MAX_AGE: '1s' }, cwd: dir }),
  ]) {
    const e = await failure(old.get(key));
    assert.ok(e instanceof ServerError);
    assert.match(e.message, /too old to use: it is from \d+ s ago/);
    assert.equal(e.message.includes(value), false);
  }

  // A 503 at the address falls back; a 404 never does.
  const state = { status: 503 };
  await standIn(t, srv.addr, state);
  const on503 = await stderrOf(() => new Sources({ env, cwd: dir, fallbackMaxAge: '1h' }).get(key));
  assert.equal(on503.value.expose(), value);
  assert.match(on503.text, /answered 503 \(stand-in says 503\)/);
  state.status = 404;
  const on404 = await stderrOf(() => failure(new Sources({ env, cwd: dir, fallbackMaxAge: '1h' }).get(key)));
  assert.ok(on404.value instanceof ServerError);
  assert.equal(on404.value.status, 404);
  assert.equal(on404.value.fallback, '');
  assert.equal(on404.text, '');

  // A changed byte: it does not open, and says so.
  state.status = 503;
  const changed = Buffer.from(raw);
  changed[changed.length - 1] ^= 1;
  fs.writeFileSync(snap, changed);
  const damaged = await failure(new Sources({ env, cwd: dir }).get(key));
  assert.match(damaged.message, /does not open/);
});

test('a 401 never falls back and removes the snapshot', async (t) => {
  const srv = await startServer(t);
  const admin = new Client(srv.addr, srv.admin);
  await admin.secrets.create({ key: 'k401', value: PLANTED });
  const reader = await admin.tokens.create({ name: 'fb-reader', role: 'read' });
  const dir = tempDir(t);
  const home = path.join(dir, 'client');
  const env = envFor(srv, home, reader.token.expose());
  assert.equal((await new Sources({ env, cwd: dir }).get('k401')).expose(), PLANTED);
  assert.equal(snapshots(home).length, 1);

  await admin.tokens.revoke(reader.id);
  const e = await failure(new Sources({ env, cwd: dir }).get('k401'));
  assert.ok(e instanceof ServerError);
  assert.equal(e.status, 401);
  assert.deepEqual(snapshots(home), []);

  await stopped(srv);
  const gone = await failure(new Sources({ env, cwd: dir }).get('k401'));
  assert.ok(gone.error instanceof ConnectionError);
});

test('a refused key leaves the snapshot', async (t) => {
  const srv = await startServer(t);
  const admin = new Client(srv.addr, srv.admin);
  await admin.secrets.create({ key: 'krev', value: PLANTED });
  const dir = tempDir(t);
  const env = envFor(srv, path.join(dir, 'client'), srv.admin);
  assert.equal((await new Sources({ env, cwd: dir }).get('krev')).expose(), PLANTED);
  await admin.secrets.revoke('krev');
  assert.ok((await failure(new Sources({ env, cwd: dir }).get('krev'))) instanceof RefusedError);
  await stopped(srv);
  assert.ok((await failure(new Sources({ env, cwd: dir }).get('krev'))) instanceof ServerError);
});

test('only transport errors and 5xx fall back; durations', () => {
  assert.ok(mayFallBack(new ConnectionError('http://x', 'connection refused')));
  assert.ok(mayFallBack(new InternalError('boom', { status: 500 })));
  assert.ok(mayFallBack(new UnavailableError('down', { status: 503 })));
  for (const status of [401, 403, 404, 410, 429]) assert.equal(mayFallBack(new HushError('no', { status })), false);
  assert.equal(parseMaxAge('24h', 'x'), 86400);
  assert.equal(parseMaxAge('1d12h', 'x'), 129600);
  assert.equal(parseMaxAge(90, 'x'), 90);
  assert.equal(parseMaxAge('3600', 'x'), 3600);
  for (const bad of ['', '24x', 'soon', '-1h', -1]) assert.throws(() => parseMaxAge(bad, 'x'));
  assert.throws(() => new Sources({ env: {}, fallbackMaxAge: 'forever' }), /not a duration/);
  assert.equal(ageText(7500), '2 h 5 min');
  assert.equal(ageText(3), '3 s');
});

// A snapshot the Python SDK sealed: the Rust SDK's test opens it too, so the three agree on
// the format (hush_crypto::seal_fallback's), the identity and the file name.
const VECTOR =
  '7846d15a7a6108f5fc092f1b0d72ec8cae36bfc5e11583ae252f5d28ae05f313010000000069afc04726e8fc4b' +
  '2085015c2836437801254fcd98f074c8571816158c1761b4d86d2bf760591f8107a97c2ddfd4d4d8c78bfae488' +
  '0cf39286a4006d41f7d428c93c9038c26404abafd2b6c2eb4d7eb85bb0490bb823d3e3074f2b728b0621307552' +
  '24ff51b9e2ecadc45394ad62ffe2c6774146dc0016939cd91726fea1169de691c078753f6b1a0f3af50773876ed2' +
  'f4e9a28ef775bc56';

test('opens what the Python SDK sealed; not under another token', async (t) => {
  const dir = tempDir(t);
  const make = (token) =>
    new Snapshot({ dir, addr: 'http://127.0.0.1:9', token, app: 'billing', maxAge: Infinity });
  const snap = make('hush_vector_token');
  assert.equal(path.basename(snap.path), '62b7d3de0cf6ce7dcb73db1484a864188a75f58db4b3a28b311a177bf05e31de');
  fs.writeFileSync(snap.path, Buffer.from(VECTOR, 'hex'));
  const refused = new ConnectionError('http://127.0.0.1:9', 'connection refused');
  const { value } = await stderrOf(() => snap.answer('vk', refused));
  assert.equal(value.value.toString('utf8'), 'vector-value');
  const other = make('hush_other_token');
  fs.writeFileSync(other.path, Buffer.from(VECTOR, 'hex'));
  assert.match(other.answer('vk', refused).why, /does not open/);
});
