// The workload call in its three places, with real processes: inside a real `hush run`
// (HUSH_SECRETS_MAP), in local development (prefix variable, .secrets, HUSH_SECRETS_FILE) and
// against a real server (HUSH_ADDR + HUSH_TOKEN, one resolve per call). Each workload is a
// separate `node` process using the process-wide `secrets`, as a program would.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Client } from '../index.js';
import { HUSH_BIN, cleanEnv, hushEnv, node, script, startServer, tempDir } from './helpers.js';
import { spawnSync } from 'node:child_process';

const sha = (s) => createHash('sha256').update(s).digest('hex');
const GH = 'ghp_workload0token0planted0123456789';
const GCP = '{"type": "service_account", "private_key": "-----BEGIN KEY-----\\nabc\\n-----END KEY-----\\n"}\n';

// The workload: prints what it got as hashes and facts, never a value.
const WORKLOAD = `
import fs from 'node:fs';
import util from 'node:util';
import { createHash } from 'node:crypto';
const sha = (s) => createHash('sha256').update(s).digest('hex');
const out = {};
const tryGet = async (key) => {
  try {
    const v = await secrets.get(key);
    out[key] = { sha: sha(v.exposeBytes()), inspect: util.inspect(v), json: JSON.stringify({ v }), str: String(v) };
  } catch (e) {
    out[key] = { error: e.name, reason: e.reason, message: e.message, cause: e.cause?.name };
  }
};
for (const key of (process.env.WANT ?? '').split(',').filter(Boolean)) await tryGet(key);
for (const key of (process.env.WANT_FILE ?? '').split(',').filter(Boolean)) {
  try {
    const p = await secrets.file(key);
    out['file:' + key] = { path: p, sha: sha(fs.readFileSync(p)), mode: (fs.statSync(p).mode & 0o777).toString(8),
      dirMode: (fs.statSync(p.slice(0, p.lastIndexOf('/'))).mode & 0o777).toString(8) };
  } catch (e) {
    out['file:' + key] = { error: e.name, message: e.message };
  }
}
out.env = { HUSH_ADDR: process.env.HUSH_ADDR !== undefined, HUSH_TOKEN: process.env.HUSH_TOKEN !== undefined,
  map: process.env.HUSH_SECRETS_MAP !== undefined, dir: process.env.HUSH_SECRETS_DIR ?? null,
  GCP_KEY_FILE: process.env.GCP_KEY_FILE ?? null };
console.log('RESULT ' + JSON.stringify(out));
`;

function result(r) {
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  assert.ok(line, `no result from the workload (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line.slice('RESULT '.length));
}

describe('inside a real hush run', () => {
  let srv;
  before(async () => {
    srv = await startServer(null);
    const c = new Client(srv.addr, srv.admin);
    await c.secrets.create({ key: 'githubtoken', value: GH });
    await c.secrets.create({ key: 'gcp-json', value: GCP });
    await c.secrets.create({ key: 'undeclared', value: 'server-value' });
  });
  after(() => srv?.stop());

  test('get and file answer from HUSH_SECRETS_MAP; undeclared keys are refused', (t) => {
    const cwd = tempDir(t);
    const file = script(cwd, 'workload.mjs', WORKLOAD);
    // Every other source has a value for `undeclared`: only the map counts inside hush run.
    fs.writeFileSync(path.join(cwd, '.secrets'), 'undeclared=from-file\n');
    const home = tempDir(t);
    const r = spawnSync(
      HUSH_BIN,
      ['run', '--secret', 'githubtoken', '--file', 'gcp-json=GCP_KEY_FILE', '--', process.execPath, file],
      {
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
        env: hushEnv(home, {
          HUSH_ADDR: srv.addr,
          HUSH_TOKEN: srv.admin,
          WANT: 'githubtoken,gcp-json,undeclared',
          WANT_FILE: 'gcp-json,githubtoken,undeclared',
        }),
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = result(r);
    assert.deepEqual(out.env.HUSH_ADDR, false, 'hush run gives the workload no HUSH_ADDR');
    assert.equal(out.env.map, true);
    assert.equal(out.githubtoken.sha, sha(GH));
    assert.equal(out.githubtoken.inspect, 'Secret([redacted])');
    assert.equal(out.githubtoken.json, '{"v":"[redacted]"}');
    assert.equal(out.githubtoken.str, '[redacted]');
    assert.equal(out['gcp-json'].sha, sha(GCP));
    // The file hush run delivered is the answer of file().
    assert.equal(out['file:gcp-json'].path, out.env.GCP_KEY_FILE);
    assert.equal(out['file:gcp-json'].sha, sha(GCP));
    assert.equal(out['file:gcp-json'].mode, '600');
    // A key delivered in the environment is written once into HUSH_SECRETS_DIR, privately.
    assert.ok(out.env.dir, 'hush run sets HUSH_SECRETS_DIR');
    assert.ok(out['file:githubtoken'].path.startsWith(out.env.dir + '/'), out['file:githubtoken'].path);
    assert.equal(out['file:githubtoken'].sha, sha(GH));
    assert.equal(out['file:githubtoken'].mode, '600');
    assert.equal(out['file:githubtoken'].dirMode, '700');
    assert.equal(out.undeclared.error, 'NotDeclaredError');
    assert.match(out.undeclared.message, /^secret "undeclared" is not declared for this workload: add it to hush\.toml/);
    assert.equal(out['file:undeclared'].error, 'NotDeclaredError');
    assert.ok(!r.stdout.includes(GH) && !r.stderr.includes(GH));
    assert.ok(!fs.existsSync(out['file:githubtoken'].path), 'hush run removed its directory');
  });
});

describe('local development, no hush run and no server', () => {
  test('the prefixed variable, a custom prefix, .secrets, HUSH_SECRETS_FILE', (t) => {
    const cwd = tempDir(t);
    const file = script(cwd, 'workload.mjs', WORKLOAD);
    let out = result(node(file, { cwd, env: cleanEnv({ HUSH_SECRET_githubtoken: GH, WANT: 'githubtoken' }) }));
    assert.equal(out.githubtoken.sha, sha(GH));

    out = result(node(file, { cwd, env: cleanEnv({ HUSH_SECRET_PREFIX: 'ML_S_', ML_S_githubtoken: GH, WANT: 'githubtoken' }) }));
    assert.equal(out.githubtoken.sha, sha(GH));

    fs.writeFileSync(path.join(cwd, '.secrets'), `# local\ngithubtoken=${GH}\ngcp-json='${GCP.trimEnd()}'\n`);
    out = result(node(file, { cwd, env: cleanEnv({ WANT: 'githubtoken', WANT_FILE: 'gcp-json' }) }));
    assert.equal(out.githubtoken.sha, sha(GH));
    assert.equal(out['file:gcp-json'].sha, sha(GCP.trimEnd()));
    assert.equal(out['file:gcp-json'].mode, '600');
    assert.equal(out['file:gcp-json'].dirMode, '700');
    assert.ok(!fs.existsSync(out['file:gcp-json'].path), 'the process removed its private directory on exit');

    fs.mkdirSync(path.join(cwd, 'conf'));
    fs.writeFileSync(path.join(cwd, 'conf/dev.env'), 'githubtoken=from-dev-file\n');
    out = result(node(file, { cwd, env: cleanEnv({ HUSH_SECRETS_FILE: 'conf/dev.env', WANT: 'githubtoken' }) }));
    assert.equal(out.githubtoken.sha, sha('from-dev-file'));

    out = result(node(file, { cwd: tempDir(t), env: cleanEnv({ WANT: 'githubtoken' }) }));
    assert.equal(out.githubtoken.error, 'SecretNotFoundError');
    assert.match(out.githubtoken.message, /set HUSH_SECRET_githubtoken, add a line `githubtoken=…` to .*\.secrets, set HUSH_ADDR and HUSH_TOKEN/);
  });
});

describe('against a real server: HUSH_ADDR + HUSH_TOKEN', () => {
  let srv;
  let c;
  let machine;
  before(async () => {
    srv = await startServer(null);
    c = new Client(srv.addr, srv.admin);
    await c.secrets.create({ key: 'githubtoken', value: GH, scope: ['web'], envs: ['prd'] });
    await c.secrets.create({ key: 'billing_only', value: 'x', scope: ['billing'] });
    await c.secrets.create({ key: 'old', value: 'x' });
    await c.secrets.revoke('old');
    machine = (await c.tokens.create({ name: 'web-prd', app: 'web', env: 'prd' })).token.expose();
  });
  after(() => srv?.stop());

  test('one resolve per call with HUSH_APP and HUSH_ENV; refusals are RefusedError', async (t) => {
    const cwd = tempDir(t);
    const file = script(cwd, 'workload.mjs', WORKLOAD);
    const before = (await c.audit.list({ key: 'githubtoken' })).length;
    const r = node(file, {
      cwd,
      env: cleanEnv({
        HUSH_ADDR: srv.addr,
        HUSH_TOKEN: machine,
        // The fallback snapshot goes here, not into the home of whoever runs the tests.
        HUSH_HOME: cwd,
        HUSH_APP: 'web',
        HUSH_ENV: 'prd',
        WANT: 'githubtoken,billing_only,old,absent',
      }),
    });
    const out = result(r);
    assert.equal(out.githubtoken.sha, sha(GH));
    assert.deepEqual([out.billing_only.error, out.billing_only.reason], ['RefusedError', 'out_of_scope']);
    assert.deepEqual([out.old.error, out.old.reason], ['RefusedError', 'revoked']);
    assert.deepEqual([out.absent.error, out.absent.reason], ['RefusedError', 'missing']);
    assert.match(out.old.message, /^the hush server will not give secret "old" \(revoked\): /);
    const rows = (await c.audit.list({ key: 'githubtoken' })).slice(before);
    assert.equal(rows.length, 1, `one read of githubtoken: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].actor_name, 'web-prd');
    assert.ok(!r.stdout.includes(GH) && !r.stderr.includes(GH));
  });

  test('a bad token is a ServerError whose cause is the UnauthorizedError', (t) => {
    const cwd = tempDir(t);
    const file = script(cwd, 'workload.mjs', WORKLOAD);
    const out = result(node(file, { cwd, env: cleanEnv({ HUSH_ADDR: srv.addr, HUSH_TOKEN: 'hush_bad', WANT: 'githubtoken' }) }));
    assert.equal(out.githubtoken.error, 'ServerError');
    assert.equal(out.githubtoken.cause, 'UnauthorizedError');
    assert.ok(!out.githubtoken.message.includes('hush_bad'));
  });
});
