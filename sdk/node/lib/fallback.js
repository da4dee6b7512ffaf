// The offline fallback snapshot of the server source, as `hush run` keeps one.
//
// After each value a hush server gives, the snapshot keeps it in a file sealed with
// AES-256-GCM under a key HKDF-SHA256 derives from the token (a fresh random salt per write);
// when the server later cannot be reached, times out or answers 5xx, the value is answered from
// the file (said on stderr, with its age). An answer of 401, 403, 404 or 410 never falls back,
// and a 401 removes the token's snapshot.
//
// One file per server, app, environment and token, in $HUSH_HOME/state/fallback/sdk-node/
// (directory 0700, file 0600, written to a temporary file then renamed); its name is SHA-256 of
// all of those, so it names none of them, and another token finds no file at all.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigError, ConnectionError } from './errors.js';

export const NO_FALLBACK_VAR = 'HUSH_NO_FALLBACK';
export const FALLBACK_MAX_AGE_VAR = 'HUSH_FALLBACK_MAX_AGE';
/** The default bound on a snapshot's age, in seconds. */
export const DEFAULT_MAX_AGE = 24 * 3600;

// The sealed format is hush_crypto::seal_fallback's (the CLI's, the Rust and Python SDKs'): a
// 32-byte random salt, then hush's AES-256-GCM format (format byte 1, key version 0 as a
// big-endian u32, a 12-byte nonce, the ciphertext and its tag), its associated data the label,
// a 0 byte, that 5-byte header, then the salt and the identity each behind its length (u32);
// the key is HKDF-SHA256 of the token with the salt, its info a label then the identity.
const SALT_LEN = 32;
const NONCE_LEN = 12;
const TAG_LEN = 16;
const HEADER = Buffer.from([1, 0, 0, 0, 0]);
const NAME_LABEL = Buffer.from('hush fallback name sdk v1');
const INFO = Buffer.from('hush fallback v1\0');
const AAD_LABEL = Buffer.from('hush/v1/fallback-snapshot\0');
const UNITS = { s: 1, m: 60, h: 3600, d: 86400, w: 7 * 86400 };

/** Seconds from `90s`, `30m`, `24h`, `1d12h` or a number of seconds (ConfigError otherwise). */
export function parseMaxAge(value, what) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) {
      throw new ConfigError(`${what} must be a duration in seconds, not negative (or text: 90s, 30m, 24h, 7d)`);
    }
    return value;
  }
  const t = typeof value === 'string' ? value.trim() : '';
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(?:\d+[smhdw])+$/.test(t)) {
    throw new ConfigError(`${what} ${JSON.stringify(String(value))} is not a duration: give e.g. 90s, 30m, 24h or 7d`);
  }
  let secs = 0;
  for (const [, n, u] of t.matchAll(/(\d+)([smhdw])/g)) secs += Number(n) * UNITS[u];
  return secs;
}

/** `2 h 5 min`, `3 s`, `1 d 4 h`: an age for people, as `hush run` says it. */
export function ageText(secs) {
  const s = Math.max(Math.floor(secs), 0);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d === 0 && h === 0 && m === 0) return `${s} s`;
  if (d === 0 && h === 0) return `${m} min`;
  if (d === 0) return m === 0 ? `${h} h` : `${h} h ${m} min`;
  return h === 0 ? `${d} d` : `${d} d ${h} h`;
}

/** The server could not be reached, timed out or answered 5xx: never 401/403/404/410. */
export function mayFallBack(e) {
  if (e instanceof ConnectionError) return true;
  return typeof e?.status === 'number' && e.status >= 500;
}

/** Length-prefixed fields, so no two different lists give the same bytes. */
function fields(...parts) {
  const out = [];
  for (const p of parts) {
    const len = Buffer.alloc(8);
    len.writeBigUInt64BE(BigInt(p.length));
    out.push(len, p);
  }
  return Buffer.concat(out);
}

/**
 * `$HUSH_HOME/state/fallback/sdk-node`; HUSH_HOME defaults to `$XDG_DATA_HOME/hush`, else
 * `~/.local/share/hush`, as the CLI's.
 */
export function stateDir(varStr) {
  let home = varStr('HUSH_HOME');
  if (home === undefined) {
    const xdg = varStr('XDG_DATA_HOME');
    const base =
      xdg !== undefined && path.isAbsolute(xdg)
        ? xdg
        : path.join(varStr('HOME') ?? os.homedir(), '.local', 'share');
    home = path.join(base, 'hush');
  }
  return path.join(home, 'state', 'fallback', 'sdk-node');
}

function say(line) {
  try {
    process.stderr.write(`hush: ${line}\n`);
  } catch {
    // stderr closed: nothing to say it on.
  }
}

/** The snapshot of one server, app, environment and token. */
export class Snapshot {
  #token;
  #identity;

  /**
   * @param {{dir: string, addr: string, token: string, app?: string, env?: string, maxAge: number}} o
   */
  constructor({ dir, addr, token, app, env, maxAge }) {
    this.addr = addr;
    this.maxAge = maxAge;
    this.#token = Buffer.from(token, 'utf8');
    this.#identity = fields(Buffer.from(addr), Buffer.from(app ?? ''), Buffer.from(env ?? ''));
    const name = createHash('sha256').update(fields(NAME_LABEL, this.#identity, this.#token)).digest('hex');
    this.path = path.join(dir, name);
  }

  #key(salt) {
    return Buffer.from(hkdfSync('sha256', this.#token, salt, Buffer.concat([INFO, this.#identity]), 32));
  }

  #aad(salt) {
    const parts = [AAD_LABEL, HEADER];
    for (const p of [salt, this.#identity]) {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(p.length);
      parts.push(len, p);
    }
    return Buffer.concat(parts);
  }

  #seal(plain) {
    const salt = randomBytes(SALT_LEN);
    const nonce = randomBytes(NONCE_LEN);
    const key = this.#key(salt);
    try {
      const c = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
      c.setAAD(this.#aad(salt));
      const ct = Buffer.concat([c.update(plain), c.final()]);
      return Buffer.concat([salt, HEADER, nonce, ct, c.getAuthTag()]);
    } finally {
      key.fill(0);
    }
  }

  #open(sealed) {
    const h = HEADER.length;
    if (sealed.length < SALT_LEN + h + NONCE_LEN + TAG_LEN) throw new Error('too short');
    const salt = sealed.subarray(0, SALT_LEN);
    if (!sealed.subarray(SALT_LEN, SALT_LEN + h).equals(HEADER)) throw new Error('not a sealed snapshot');
    const nonce = sealed.subarray(SALT_LEN + h, SALT_LEN + h + NONCE_LEN);
    const ct = sealed.subarray(SALT_LEN + h + NONCE_LEN, sealed.length - TAG_LEN);
    const tag = sealed.subarray(sealed.length - TAG_LEN);
    const key = this.#key(salt);
    try {
      const d = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_LEN });
      d.setAAD(this.#aad(salt));
      d.setAuthTag(tag);
      return Buffer.concat([d.update(ct), d.final()]);
    } finally {
      key.fill(0);
    }
  }

  /** The entries, undefined when there is no snapshot; throws a message when it does not open. */
  #load() {
    let sealed;
    try {
      sealed = fs.readFileSync(this.path);
    } catch (e) {
      if (e?.code === 'ENOENT') return undefined;
      throw new Error(`cannot read the fallback snapshot ${this.path}: ${e?.message ?? e}`);
    }
    let plain;
    try {
      plain = this.#open(sealed);
      const doc = JSON.parse(plain.toString('utf8'));
      if (doc === null || typeof doc.values !== 'object' || doc.values === null) throw new Error('shape');
      return doc.values;
    } catch {
      throw new Error(`the fallback snapshot ${this.path} does not open (damaged or changed): delete it`);
    } finally {
      plain?.fill(0);
    }
  }

  #store(values) {
    if (Object.keys(values).length === 0) {
      this.remove();
      return;
    }
    const plain = Buffer.from(JSON.stringify({ addr: this.addr, values }), 'utf8');
    let sealed;
    try {
      sealed = this.#seal(plain);
    } finally {
      plain.fill(0);
    }
    const dir = path.dirname(this.path);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // sdk-node/, fallback/ and state/ (the CLI's too) are private.
    for (const d of [dir, path.dirname(dir), path.dirname(path.dirname(dir))]) fs.chmodSync(d, 0o700);
    const tmp = path.join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.writeSync(fd, sealed);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.path);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  #update(key, entry) {
    let values;
    try {
      values = this.#load() ?? {};
    } catch {
      values = {}; // a damaged snapshot is replaced
    }
    if (entry === undefined) {
      if (!Object.hasOwn(values, key)) return;
      delete values[key];
    } else {
      values[key] = entry;
    }
    this.#store(values);
  }

  /** Keeps a value the server gave. A failure only warns: the value is served anyway. */
  keep(key, value, expiresAt) {
    const entry = {
      value_base64: value.toString('base64'),
      expires_at: expiresAt ?? null,
      resolved_at: Math.floor(Date.now() / 1000),
    };
    try {
      this.#update(key, entry);
    } catch (e) {
      say(`warning: cannot keep the fallback snapshot ${this.path}: ${e?.message ?? e}`);
    }
  }

  /** The server refused `key` (missing, revoked, expired): it leaves the snapshot. */
  forget(key) {
    try {
      this.#update(key, undefined);
    } catch (e) {
      say(`warning: cannot update the fallback snapshot ${this.path}: ${e?.message ?? e}`);
    }
  }

  /** The token is refused: its snapshot goes. */
  remove() {
    try {
      fs.rmSync(this.path, { force: true });
    } catch (e) {
      say(`warning: cannot remove the fallback snapshot ${this.path}: ${e?.message ?? e}`);
    }
  }

  /**
   * After the server failed with `error` (one that may fall back): `{value}` (a Buffer) when
   * the snapshot can answer `key` (and the notice is said on stderr), else `{why}` (empty when
   * there is simply no snapshot).
   */
  answer(key, error) {
    let values;
    try {
      values = this.#load();
    } catch (e) {
      return { why: e.message };
    }
    if (values === undefined || !Object.hasOwn(values, key)) return { why: '' };
    const entry = values[key];
    const now = Date.now() / 1000;
    if (typeof entry?.value_base64 !== 'string' || typeof entry?.resolved_at !== 'number') {
      return { why: `the fallback snapshot ${this.path} does not open: delete it` };
    }
    if (typeof entry.expires_at === 'number' && entry.expires_at <= now) {
      return { why: 'its value in the fallback snapshot has expired since' };
    }
    const secs = now - entry.resolved_at;
    if (secs > this.maxAge) {
      return {
        why:
          `the fallback snapshot is too old to use: it is from ${ageText(secs)} ago, and the ` +
          `fallback max age is ${ageText(this.maxAge)}`,
      };
    }
    const cause =
      error instanceof ConnectionError
        ? `cannot be reached (${error.reason ?? error.message})`
        : `answered ${error.status} (${error.message})`;
    say(
      `the server at ${this.addr} ${cause}; using the fallback snapshot of ${JSON.stringify(key)} ` +
        `from ${ageText(secs)} ago`,
    );
    return { value: Buffer.from(entry.value_base64, 'base64') };
  }
}
