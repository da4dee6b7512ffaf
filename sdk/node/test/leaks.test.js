// A planted value and a planted token are searched for in everything the SDK can print:
// util.inspect (console.log), String(), template literals, JSON.stringify, error messages and
// stacks — of values, answers, the client, the sources and every error on the way.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inspect } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Client, HushError, Secret, SecretsError, Sources } from '../index.js';
import { startServer, tempDir } from './helpers.js';

const PLANTED = 'sk_live_PLANTED_4f9c2e71d0';

/** Every way a thing can be printed; none may contain the planted text. */
function assertHidden(thing, planted = PLANTED, what = '') {
  const shown = [
    inspect(thing),
    inspect(thing, { showHidden: true, depth: Infinity, getters: true }),
    String(thing),
    `${thing}`,
    JSON.stringify(thing) ?? '',
    JSON.stringify({ nested: [thing] }),
  ];
  if (thing instanceof Error) {
    shown.push(thing.message, thing.stack ?? '', inspect(thing.cause ?? ''), String(thing.cause?.stack ?? ''));
  }
  for (const s of shown) assert.ok(!s.includes(planted), `${what}: the planted value shows in:\n${s}`);
}

test('a Secret prints as [redacted] however it is printed', () => {
  const s = new Secret(PLANTED);
  assertHidden(s, PLANTED, 'Secret');
  assert.equal(inspect(s), 'Secret([redacted])');
  assert.equal(String(s), '[redacted]');
  assert.equal(`${s}`, '[redacted]');
  assert.equal(s + '', '[redacted]');
  assert.equal(JSON.stringify({ s }), '{"s":"[redacted]"}');
  assert.deepEqual(Object.keys(s), []);
  assert.equal(s.expose(), PLANTED);
  assert.equal(Buffer.from(s.exposeBytes()).toString(), PLANTED);
  const bytes = new Secret(Buffer.from(PLANTED));
  assertHidden(bytes, PLANTED, 'Secret from bytes');
  bytes.clear();
  assert.equal(bytes.byteLength, 0);
});

test('Sources and workload errors never show a value from the environment or a file', async (t) => {
  const cwd = tempDir(t);
  const env = { HUSH_SECRET_k: PLANTED, HUSH_SECRETS_MAP: `{"k": ${PLANTED}}` };
  const s = new Sources({ cwd, env });
  assertHidden(s, PLANTED, 'Sources');
  const badMap = await s.get('k').catch((e) => e);
  assert.ok(badMap instanceof SecretsError);
  assertHidden(badMap, PLANTED, 'BadMapError');
  for (const map of [`{"k": "${PLANTED}"}`, `["${PLANTED}"]`, `{"${PLANTED}": 1}`]) {
    const e = await new Sources({ cwd, env: { HUSH_SECRETS_MAP: map } }).get('k').catch((x) => x);
    assert.ok(e instanceof SecretsError, String(e));
    assertHidden(e, PLANTED, `map ${map}`);
  }
  fs.writeFileSync(path.join(cwd, '.secrets'), Buffer.concat([Buffer.from(`k=${PLANTED}`), Buffer.from([0xff])]));
  const e = await new Sources({ cwd, env: {} }).get('k').catch((x) => x);
  assert.ok(e instanceof SecretsError, String(e));
  assertHidden(e, PLANTED, 'SecretsFileError');
  const got = await new Sources({ cwd, env: { HUSH_SECRET_k: PLANTED } }).get('k');
  assertHidden(got, PLANTED, 'value from the environment');
});

describe('the client and its answers', () => {
  let srv;
  let c;
  before(async () => {
    srv = await startServer(null);
    c = new Client(srv.addr, srv.admin);
  });
  after(() => srv?.stop());

  test('the client does not show its token', () => {
    assertHidden(c, srv.admin, 'Client');
    assert.match(inspect(c), /token: '\[redacted\]'/);
  });

  test('fetched and resolved values, new tokens: redacted', async () => {
    await c.secrets.create({ key: 'planted', value: PLANTED, description: 'planted value' });
    const fetched = await c.secrets.fetch('planted');
    assertHidden(fetched, PLANTED, 'fetch answer');
    assert.equal(fetched.value.expose(), PLANTED);
    const resolved = await c.resolve({ keys: ['planted'] });
    assertHidden(resolved, PLANTED, 'resolve answer');
    const tok = await c.tokens.create({ name: 'planted-token', role: 'read' });
    const raw = tok.token.expose();
    assertHidden(tok, raw, 'new token');
    assertHidden(c.withToken(raw), raw, 'client with the new token');
  });

  test('errors on the way never carry the value or the token', async () => {
    const errors = [];
    const grab = (p) => p.then(() => assert.fail('expected a failure'), (e) => errors.push(e));
    await grab(c.secrets.create({ key: 'planted', value: PLANTED }));
    await grab(c.secrets.create({ key: 'bad key', value: PLANTED }));
    await grab(c.secrets.create({ key: 'k', value: PLANTED, token_type: PLANTED }));
    await grab(c.secrets.create({ key: 'k', value: PLANTED, description: `${PLANTED}\u0007` }));
    await grab(c.secrets.update('planted', { value: PLANTED, expected_version: 7 }));
    await grab(c.secrets.update('planted', { [PLANTED]: 1 }).catch((e) => {
      // An unknown field is named: the field's name, never a value.
      throw e;
    }));
    await grab(c.secrets.create({ key: 'big', value: PLANTED.repeat(80_000) }));
    const reader = await c.tokens.create({ name: 'r', role: 'read' });
    const rc = c.withToken(reader.token.expose());
    await grab(rc.secrets.create({ key: 'x', value: PLANTED }));
    await c.tokens.revoke('r');
    await grab(rc.secrets.fetch('planted'));
    assert.equal(errors.length, 9);
    for (const e of errors) {
      assert.ok(e instanceof HushError, String(e));
      // The unknown-field error names the field it was given (the caller's own text), nothing else.
      if (e.message.startsWith('unknown field')) continue;
      assertHidden(e, PLANTED, `${e.name} ${e.status}`);
      assertHidden(e, reader.token.expose(), `${e.name} token`);
      assertHidden(e, srv.admin, `${e.name} admin token`);
    }
  });
});
