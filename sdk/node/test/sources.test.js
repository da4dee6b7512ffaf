// The workload call's sources, each from real files and environments (Sources with a chosen
// environment and directory): the order, the prefix, .secrets, HUSH_SECRETS_FILE, the map and
// its refusals, file() and its modes, keys, and the not-found message.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  BadMapError,
  ConnectionError,
  InvalidKeyError,
  SecretsIOError,
  NotDeclaredError,
  NotUtf8Error,
  SecretNotFoundError,
  SecretsFileError,
  ServerError,
  Sources,
  UndeliveredError,
  checkKey,
} from '../index.js';
import { closedPort, tempDir } from './helpers.js';

const text = async (s, key) => (await s.get(key)).expose();
const mode = (p) => fs.statSync(p).mode & 0o7777;

test('the prefixed environment variable, exact key', async (t) => {
  const cwd = tempDir(t);
  const s = new Sources({ cwd, env: { HUSH_SECRET_githubtoken: 'ghp_123', HUSH_SECRET_OTHER: 'x' } });
  assert.equal(await text(s, 'githubtoken'), 'ghp_123');
  await assert.rejects(s.get('GITHUBTOKEN'), SecretNotFoundError);
  await assert.rejects(s.get('other'), SecretNotFoundError);
});

test('a custom prefix replaces the default', async (t) => {
  const cwd = tempDir(t);
  const s = new Sources({
    cwd,
    env: { HUSH_SECRET_PREFIX: 'ML_S_', ML_S_githubtoken: 'from-ml', HUSH_SECRET_db: 'from-default' },
  });
  assert.equal(await text(s, 'githubtoken'), 'from-ml');
  await assert.rejects(s.get('db'), SecretNotFoundError);
  // An empty prefix variable is the default.
  const e = new Sources({ cwd, env: { HUSH_SECRET_PREFIX: '', HUSH_SECRET_db: 'd' } });
  assert.equal(await text(e, 'db'), 'd');
});

test('.secrets in dotenv syntax (util.parseEnv)', async (t) => {
  const cwd = tempDir(t);
  fs.writeFileSync(
    path.join(cwd, '.secrets'),
    '\uFEFFfirst=bom-stripped\n' +
      '# a comment\n' +
      'plain=abc # trailing comment\n' +
      'export exported=yes\n' +
      "single='li$teral \\n'\n" +
      'double="line1\\nline2"\n' +
      'multi="-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----"\n' +
      'after=ok\n' +
      'substituted="${after}-and-more"\n',
  );
  const s = new Sources({ cwd, env: {} });
  assert.equal(await text(s, 'first'), 'bom-stripped');
  assert.equal(await text(s, 'plain'), 'abc');
  assert.equal(await text(s, 'exported'), 'yes');
  assert.equal(await text(s, 'single'), 'li$teral \\n');
  assert.equal(await text(s, 'double'), 'line1\nline2');
  assert.equal(await text(s, 'multi'), '-----BEGIN KEY-----\nline2\nline3\n-----END KEY-----');
  // No $NAME substitution, as hush run and the Rust and Python SDKs read it.
  assert.equal(await text(s, 'substituted'), '${after}-and-more');
  await assert.rejects(s.get('absent'), SecretNotFoundError);
});

// Regression (issue 16): every hush key, hyphens included; `$` literal; a key that is not a
// hush key refuses the file, naming its line and never its text.
test('.secrets takes hush keys, keeps $ and names the line of a bad key', async (t) => {
  const cwd = tempDir(t);
  fs.writeFileSync(path.join(cwd, '.secrets'), 'gcs-key=k1\npw=abc$HOMExyz\ndup=1\ndup=2\n');
  const s = new Sources({ cwd, env: { HOME: '/home/someone' } });
  assert.equal(await text(s, 'gcs-key'), 'k1');
  assert.equal(await text(s, 'pw'), 'abc$HOMExyz');
  assert.equal(await text(s, 'dup'), '2');
  for (const [body, line] of [
    ['ok=1\n\n-sk_live=1\n', 3],
    ['ok=1\nsk_live_no_equals\nnext=1\n', 2],
  ]) {
    fs.writeFileSync(path.join(cwd, '.secrets'), body);
    const e = await new Sources({ cwd, env: {} }).get('ok').catch((x) => x);
    assert.ok(e instanceof SecretsFileError, String(e));
    assert.match(e.message, new RegExp(`: line ${line}: `));
    assert.ok(!e.message.includes('sk_live'), e.message);
  }
  fs.writeFileSync(path.join(cwd, '.secrets'), Buffer.from('a=1\nk=\xff\n', 'latin1'));
  const u = await new Sources({ cwd, env: {} }).get('a').catch((x) => x);
  assert.match(u.message, /line 2: not UTF-8/);
});

test('HUSH_SECRETS_FILE, relative to the directory, replaces ./.secrets', async (t) => {
  const cwd = tempDir(t);
  fs.mkdirSync(path.join(cwd, 'conf'));
  fs.writeFileSync(path.join(cwd, 'conf/dev.env'), 'k=from-dev\n');
  fs.writeFileSync(path.join(cwd, '.secrets'), 'k=from-default\n');
  const s = new Sources({ cwd, env: { HUSH_SECRETS_FILE: 'conf/dev.env' } });
  assert.equal(await text(s, 'k'), 'from-dev');
  const msg = await new Sources({ cwd, env: { HUSH_SECRETS_FILE: 'conf/none.env' } })
    .get('k')
    .catch((e) => e.message);
  assert.match(msg, /conf\/none\.env \(no such file\)/);
});

test('a .secrets that is not UTF-8 or not a file is refused, showing no text', async (t) => {
  const cwd = tempDir(t);
  fs.writeFileSync(path.join(cwd, '.secrets'), Buffer.from('k=sk_live_\xff\xfe', 'latin1'));
  const e = await new Sources({ cwd, env: {} }).get('k').catch((x) => x);
  assert.ok(e instanceof SecretsFileError, String(e));
  assert.ok(!e.message.includes('sk_live') && !e.stack.includes('sk_live'));
  fs.rmSync(path.join(cwd, '.secrets'));
  fs.mkdirSync(path.join(cwd, '.secrets'));
  const d = await new Sources({ cwd, env: {} }).get('k').catch((x) => x);
  assert.ok(d instanceof SecretsIOError, String(d));
  assert.match(d.message, /^cannot read .*\.secrets: EISDIR/);
});

test('the order: map, then prefix, then file', async (t) => {
  const cwd = tempDir(t);
  fs.writeFileSync(path.join(cwd, '.secrets'), 'k=from-file\nonly_file=f\n');
  const withMap = new Sources({
    cwd,
    env: { HUSH_SECRETS_MAP: '{"k": {"env": "K_VAR"}}', K_VAR: 'from-map', HUSH_SECRET_k: 'from-prefix' },
  });
  assert.equal(await text(withMap, 'k'), 'from-map');
  const noMap = new Sources({ cwd, env: { HUSH_SECRET_k: 'from-prefix' } });
  assert.equal(await text(noMap, 'k'), 'from-prefix');
  assert.equal(await text(noMap, 'only_file'), 'f');
  assert.equal(await text(new Sources({ cwd, env: {} }), 'k'), 'from-file');
  // An empty prefixed variable is a value (the empty one), as in the Rust SDK.
  assert.equal(await text(new Sources({ cwd, env: { HUSH_SECRET_k: '' } }), 'k'), '');
});

test('inside hush run only the map counts', async (t) => {
  const cwd = tempDir(t);
  fs.writeFileSync(path.join(cwd, '.secrets'), 'undeclared=from-file\n');
  const s = new Sources({
    cwd,
    env: {
      HUSH_SECRETS_MAP: '{}',
      HUSH_SECRET_undeclared: 'from-prefix',
      HUSH_ADDR: 'http://127.0.0.1:1',
      HUSH_TOKEN: 't',
    },
  });
  const e = await s.get('undeclared').catch((x) => x);
  assert.ok(e instanceof NotDeclaredError, String(e));
  assert.equal(e.key, 'undeclared');
  assert.match(e.message, /hush\.toml/);
  await assert.rejects(s.file('undeclared'), NotDeclaredError);
});

test('map errors: undelivered, not a map, both env and file; no text echoed', async (t) => {
  const cwd = tempDir(t);
  const undelivered = await new Sources({ cwd, env: { HUSH_SECRETS_MAP: '{"k": {"env": "NOT_SET"}}' } })
    .get('k')
    .catch((x) => x);
  assert.ok(undelivered instanceof UndeliveredError, String(undelivered));
  assert.equal(undelivered.variable, 'NOT_SET');
  for (const map of ['{"k": "sk_live_oops"}', '{"k": sk_live_oops}', '["sk_live_oops"]', '', '{"k": {"env": "A", "file": "B"}}']) {
    const e = await new Sources({ cwd, env: { HUSH_SECRETS_MAP: map } }).get('k').catch((x) => x);
    assert.ok(e instanceof BadMapError, `${map}: ${e}`);
    assert.ok(!e.message.includes('sk_live') && !e.stack.includes('sk_live'), e.message);
  }
});

test('a key delivered as a file: file() is that path, get() reads it, nothing written', async (t) => {
  const cwd = tempDir(t);
  const base = tempDir(t);
  const delivered = path.join(cwd, 'delivered-key');
  fs.writeFileSync(delivered, '{"private_key": "..."}\n');
  const s = new Sources({
    cwd,
    env: {
      HUSH_SECRETS_MAP: '{"gcp-key": {"file": "GCP_KEY_FILE"}}',
      GCP_KEY_FILE: 'delivered-key',
      HUSH_SECRETS_DIR: base,
    },
  });
  assert.equal(await s.file('gcp-key'), delivered);
  assert.equal(await text(s, 'gcp-key'), '{"private_key": "..."}\n');
  assert.deepEqual(fs.readdirSync(base), []);
  fs.rmSync(delivered);
  await assert.rejects(s.get('gcp-key'), SecretsIOError);
});

test('file() of an env value: private, exact, once per key, removed by cleanup', async (t) => {
  const cwd = tempDir(t);
  const base = tempDir(t);
  const s = new Sources({
    cwd,
    env: {
      HUSH_SECRETS_MAP: '{"gh.token": {"env": "GITHUB_TOKEN"}}',
      GITHUB_TOKEN: 'ghp_line1\nline2',
      HUSH_SECRETS_DIR: base,
    },
  });
  const p = await s.file('gh.token');
  assert.equal(path.basename(p), 'gh.token');
  const dir = path.dirname(p);
  assert.equal(path.dirname(dir), base);
  assert.match(path.basename(dir), /^hush-secrets-/);
  assert.equal(fs.readFileSync(p, 'utf8'), 'ghp_line1\nline2');
  assert.equal(mode(p), 0o600);
  assert.equal(mode(dir), 0o700);
  assert.deepEqual(fs.readdirSync(dir), ['gh.token'], 'no temporary file left behind');
  assert.equal(await s.file('gh.token'), p);
  s.cleanup();
  assert.ok(!fs.existsSync(dir));
  const p2 = await s.file('gh.token');
  assert.equal(fs.readFileSync(p2, 'utf8'), 'ghp_line1\nline2');
  assert.notEqual(path.dirname(p2), dir);
  s.cleanup();
  assert.ok(!fs.existsSync(path.dirname(p2)));
});

test('file() defaults to /dev/shm (or the temp dir); a bad HUSH_SECRETS_DIR is an SecretsIOError', async (t) => {
  const cwd = tempDir(t);
  const s = new Sources({ cwd, env: { HUSH_SECRET_k: 'v' } });
  const p = await s.file('k');
  const dir = path.dirname(p);
  assert.ok(dir.startsWith('/dev/shm/') || dir.startsWith(os.tmpdir()), dir);
  assert.equal(fs.readFileSync(p, 'utf8'), 'v');
  assert.equal(mode(p), 0o600);
  assert.equal(mode(dir), 0o700);
  s.cleanup();
  assert.ok(!fs.existsSync(dir));
  const bad = new Sources({ cwd, env: { HUSH_SECRET_k: 'v', HUSH_SECRETS_DIR: 'no/such/dir' } });
  const e = await bad.file('k').catch((x) => x);
  assert.ok(e instanceof SecretsIOError, String(e));
  assert.match(e.message, /^cannot make a private directory in .*no\/such\/dir: ENOENT/);
});

test('bad keys are refused by get and file', async (t) => {
  const cwd = tempDir(t);
  const s = new Sources({ cwd, env: { HUSH_SECRET_: 'x' } });
  for (const key of ['', '.hidden', '-x', 'a/b', '../etc', '..', 'a b', 'k=v', 'ké', 'a'.repeat(129), undefined, 7]) {
    await assert.rejects(s.get(key), InvalidKeyError, `get ${key}`);
    await assert.rejects(s.file(key), InvalidKeyError, `file ${key}`);
  }
  for (const key of ['a', 'A.b-c_9', 'x.', 'gcp-key', 'a'.repeat(128)]) checkKey(key);
  const e = await s.get('a/b').catch((x) => x);
  assert.equal(e.message, '"a/b" is not a valid secret key: use 1-128 of A-Z a-z 0-9 _ . - (not starting with . or -)');
});

test('not found says where it looked and what to do', async (t) => {
  const cwd = tempDir(t);
  const msg = await new Sources({ cwd, env: {} }).get('githubtoken').catch((e) => e.message);
  assert.equal(
    msg,
    `secret "githubtoken" not found: looked in environment variable HUSH_SECRET_githubtoken (unset), in ${cwd}/.secrets (no such file), and at no hush server (HUSH_ADDR and HUSH_TOKEN are unset); set HUSH_SECRET_githubtoken, add a line \`githubtoken=…\` to ${cwd}/.secrets, set HUSH_ADDR and HUSH_TOKEN to ask a hush server, or start the program with \`hush run\``,
  );
  fs.writeFileSync(path.join(cwd, '.secrets'), 'other=1\n');
  const m2 = await new Sources({ cwd, env: { HUSH_ADDR: 'http://127.0.0.1:1' } }).get('githubtoken').catch((e) => e.message);
  assert.match(m2, /\(no line for this key\)/);
  assert.match(m2, /HUSH_TOKEN is unset/);
  const m3 = await new Sources({ cwd, env: { HUSH_TOKEN: 't' } }).get('githubtoken').catch((e) => e.message);
  assert.match(m3, /\(HUSH_ADDR is unset\)/);
});

test('the server is asked when configured: an unreachable one is a ServerError over a ConnectionError', async (t) => {
  const cwd = tempDir(t);
  const addr = `http://127.0.0.1:${await closedPort()}`;
  const s = new Sources({ cwd, env: { HUSH_ADDR: addr, HUSH_TOKEN: 'hush_t' } });
  const e = await s.get('k').catch((x) => x);
  assert.ok(e instanceof ServerError, String(e));
  assert.ok(e.cause instanceof ConnectionError, String(e.cause));
  assert.equal(e.error, e.cause);
  assert.equal(e.code, 'server');
  assert.equal(e.cause.addr, addr);
  assert.ok(
    e.message.startsWith(`asking the hush server at HUSH_ADDR for secret "k" failed: cannot reach the hush server at ${addr}: `),
    e.message,
  );
  assert.match(e.message, /: connection refused$/);
  const bad = await new Sources({ cwd, env: { HUSH_ADDR: 'ftp://x', HUSH_TOKEN: 'hush_t' } }).get('k').catch((x) => x);
  assert.ok(bad instanceof ServerError, String(bad));
  assert.match(bad.message, /is not a server address/);
});

test('expose refuses a value that is not UTF-8', async (t) => {
  const cwd = tempDir(t);
  const f = path.join(cwd, 'bin');
  fs.writeFileSync(f, Buffer.from([0xff, 0xfe]));
  const s = new Sources({ cwd, env: { HUSH_SECRETS_MAP: '{"b": {"file": "F"}}', F: f } });
  const v = await s.get('b');
  assert.throws(() => v.expose(), NotUtf8Error);
  assert.deepEqual([...v.exposeBytes()], [0xff, 0xfe]);
});
