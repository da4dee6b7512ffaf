// The workload call: secrets.get(key) and secrets.file(key) give the same answer inside
// `hush run`, in local development and against a hush server — the Rust SDK's
// hush_client::secrets, source for source and message for message (see README.md for the
// few places Node's dotenv parser differs).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { inspect, parseEnv } from 'node:util';
import { Client } from './client.js';
import * as fallbackSnapshot from './fallback.js';
import {
  BadMapError,
  ConfigError,
  HushError,
  InvalidKeyError,
  SecretsIOError,
  NotDeclaredError,
  RefusedError,
  SecretNotFoundError,
  SecretsFileError,
  ServerError,
  UndeliveredError,
  q,
} from './errors.js';
import { Secret } from './secret.js';

export const MAP_VAR = 'HUSH_SECRETS_MAP';
export const PREFIX_VAR = 'HUSH_SECRET_PREFIX';
export const DEFAULT_PREFIX = 'HUSH_SECRET_';
export const SECRETS_FILE_VAR = 'HUSH_SECRETS_FILE';
export const DEFAULT_SECRETS_FILE = '.secrets';
export const SECRETS_DIR_VAR = 'HUSH_SECRETS_DIR';
export const ADDR_VAR = 'HUSH_ADDR';
export const TOKEN_VAR = 'HUSH_TOKEN';
export const APP_VAR = 'HUSH_APP';
export const ENV_VAR = 'HUSH_ENV';
export const NO_FALLBACK_VAR = fallbackSnapshot.NO_FALLBACK_VAR;
export const FALLBACK_MAX_AGE_VAR = fallbackSnapshot.FALLBACK_MAX_AGE_VAR;

const MAX_KEY_LEN = 128;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether `key` is 1-128 of A-Z a-z 0-9 _ . -, not starting with . or -. */
function validKey(key) {
  return (
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= MAX_KEY_LEN &&
    !key.startsWith('.') &&
    !key.startsWith('-') &&
    /^[A-Za-z0-9_.-]+$/.test(key)
  );
}

/** A key is 1-128 of A-Z a-z 0-9 _ . -, not starting with . or - (InvalidKeyError). */
export function checkKey(key) {
  if (!validKey(key)) throw new InvalidKeyError(key);
}

/** The sources secrets.get and secrets.file read, built from an environment and a directory. */
export class Sources {
  #env;
  #cwd;
  #client = null;
  #dir = null;
  #paths = new Map();
  #fallback;
  #maxAge;
  #snapshot = null;

  /**
   * @param {{env?: Record<string, string | undefined>, cwd?: string, fallback?: boolean, fallbackMaxAge?: string | number}} [options]
   *   the environment (default: a copy of process.env, taken now) and the directory relative
   *   paths are taken from (default: process.cwd()). Against a server, `fallback` (default: on,
   *   unless HUSH_NO_FALLBACK is set) keeps and uses an offline fallback snapshot no older than
   *   `fallbackMaxAge` (`90s`, `30m`, `24h`, `7d` or seconds; default HUSH_FALLBACK_MAX_AGE,
   *   else 24 h).
   */
  constructor({ env, cwd, fallback, fallbackMaxAge } = {}) {
    if (fallback !== undefined && typeof fallback !== 'boolean') {
      throw new ConfigError('fallback must be true or false');
    }
    this.#fallback = fallback;
    this.#maxAge =
      fallbackMaxAge === undefined ? undefined : fallbackSnapshot.parseMaxAge(fallbackMaxAge, 'fallbackMaxAge');
    const copy = new Map();
    for (const [k, v] of Object.entries(env ?? process.env)) {
      if (v === undefined) continue;
      if (typeof v !== 'string') throw new ConfigError(`environment variable ${k} is not text`);
      copy.set(k, v);
    }
    this.#env = copy;
    this.#cwd = path.resolve(cwd ?? process.cwd());
  }

  /** Sources from the process environment and current directory, read now. */
  static fromEnv() {
    return new Sources();
  }

  /** The value of `key`, from the first source that has it. */
  async get(key) {
    checkKey(key);
    const found = await this.#find(key);
    const bytes = found.file !== undefined ? readFile(found.file) : found.value;
    const secret = new Secret(bytes);
    // Clear intermediates: the Secret holds its own copy.
    bytes.fill(0);
    return secret;
  }

  /**
   * A path to a file holding exactly the value of `key`: the file `hush run` delivered, or one
   * written once into this Sources' private directory (0700, the file 0600).
   */
  async file(key) {
    checkKey(key);
    const known = this.#paths.get(key);
    if (known) return known;
    const found = await this.#find(key);
    if (found.file !== undefined) return found.file;
    try {
      // EXPOSE: written to a 0600 file in a 0700 directory, for a library that wants a path.
      return this.#writePrivate(key, found.value);
    } finally {
      found.value.fill(0);
    }
  }

  /** Removes the private directory and the files file() wrote (a later call writes again). */
  cleanup() {
    this.#paths.clear();
    const dir = this.#dir;
    this.#dir = null;
    if (dir) {
      LIVE_DIRS.delete(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  [inspect.custom]() {
    return `Sources { cwd: ${JSON.stringify(this.#cwd)}, env: [${this.#env.size} variables, redacted] }`;
  }

  toJSON() {
    return { cwd: this.#cwd, env: `[${this.#env.size} variables, redacted]` };
  }

  /** An environment variable, undefined when unset. */
  #var(name) {
    return this.#env.get(name);
  }

  /** An environment variable, undefined when unset or empty. */
  #varStr(name) {
    const v = this.#env.get(name);
    return v === undefined || v === '' ? undefined : v;
  }

  async #find(key) {
    // 1. Inside `hush run`: the map and nothing else.
    const raw = this.#var(MAP_VAR);
    if (raw !== undefined) return this.#lookupMap(key, raw);

    // 2. The prefixed environment variable.
    const prefix = this.#varStr(PREFIX_VAR) ?? DEFAULT_PREFIX;
    const envName = `${prefix}${key}`;
    const direct = this.#var(envName);
    if (direct !== undefined) return { value: Buffer.from(direct, 'utf8') };

    // 3. The dotenv file.
    const secretsPath = path.resolve(this.#cwd, this.#varStr(SECRETS_FILE_VAR) ?? DEFAULT_SECRETS_FILE);
    const fromFile = lookupDotenv(secretsPath, key);
    if (fromFile.value !== undefined) return { value: fromFile.value };

    // 4. The server.
    const addr = this.#varStr(ADDR_VAR);
    const token = this.#varStr(TOKEN_VAR);
    if (addr !== undefined && token !== undefined) return this.#askServer(key, addr, token);

    // 5. Nowhere.
    const unset =
      addr === undefined && token === undefined
        ? `${ADDR_VAR} and ${TOKEN_VAR} are unset`
        : addr === undefined
          ? `${ADDR_VAR} is unset`
          : `${TOKEN_VAR} is unset`;
    throw new SecretNotFoundError(
      key,
      `looked in environment variable ${envName} (unset), in ${secretsPath} (${fromFile.state}), ` +
        `and at no hush server (${unset}); set ${envName}, add a line \`${key}=…\` to ` +
        `${secretsPath}, set ${ADDR_VAR} and ${TOKEN_VAR} to ask a hush server, or start the ` +
        'program with `hush run`',
    );
  }

  #lookupMap(key, raw) {
    let map;
    try {
      map = JSON.parse(raw);
    } catch (e) {
      // Only the position of a JSON error is reported: the map's text is never echoed.
      const at = /position (\d+)/.exec(String(e?.message ?? ''));
      throw new BadMapError(
        `not a JSON object of {"env": NAME} or {"file": NAME} entries: syntax error${at ? ` at position ${at[1]}` : ''}`,
      );
    }
    if (map === null || typeof map !== 'object' || Array.isArray(map)) {
      throw new BadMapError('not a JSON object of {"env": NAME} or {"file": NAME} entries: not an object');
    }
    for (const entry of Object.values(map)) {
      const okEntry =
        entry !== null &&
        typeof entry === 'object' &&
        !Array.isArray(entry) &&
        ['env', 'file'].every((f) => entry[f] === undefined || entry[f] === null || typeof entry[f] === 'string');
      if (!okEntry) {
        throw new BadMapError(
          'not a JSON object of {"env": NAME} or {"file": NAME} entries: an entry is not an object of strings',
        );
      }
    }
    if (!Object.hasOwn(map, key)) throw new NotDeclaredError(key);
    const entry = map[key];
    const env = typeof entry.env === 'string' ? entry.env : undefined;
    const file = typeof entry.file === 'string' ? entry.file : undefined;
    if ((env === undefined) === (file === undefined)) {
      throw new BadMapError(`the entry for ${q(key)} must have exactly one of "env" and "file"`);
    }
    if (file !== undefined) {
      const p = this.#varStr(file);
      if (p === undefined) throw new UndeliveredError(key, file);
      return { file: path.resolve(this.#cwd, p) };
    }
    const v = this.#var(env);
    if (v === undefined) throw new UndeliveredError(key, env);
    return { value: Buffer.from(v, 'utf8') };
  }

  /** The fallback snapshot for this server, app, environment and token; null when off. */
  #snapshotFor(addr, token) {
    if (this.#snapshot) return this.#snapshot;
    let on = this.#fallback;
    if (on === undefined) {
      const off = (this.#varStr(NO_FALLBACK_VAR) ?? '').trim().toLowerCase();
      on = ['', '0', 'false', 'no'].includes(off);
    }
    if (!on) return null;
    let maxAge = this.#maxAge;
    if (maxAge === undefined) {
      const text = this.#varStr(FALLBACK_MAX_AGE_VAR);
      maxAge =
        text === undefined
          ? fallbackSnapshot.DEFAULT_MAX_AGE
          : fallbackSnapshot.parseMaxAge(text, FALLBACK_MAX_AGE_VAR);
    }
    this.#snapshot = new fallbackSnapshot.Snapshot({
      dir: fallbackSnapshot.stateDir((n) => this.#varStr(n)),
      addr,
      token,
      app: this.#varStr(APP_VAR),
      env: this.#varStr(ENV_VAR),
      maxAge,
    });
    return this.#snapshot;
  }

  async #askServer(key, addr, token) {
    let client = this.#client;
    if (!client) {
      try {
        client = new Client(addr, token);
      } catch (e) {
        throw new ServerError(key, e);
      }
      this.#client = client;
    }
    const snapshot = this.#snapshotFor(addr, token);
    const app = this.#varStr(APP_VAR);
    const env = this.#varStr(ENV_VAR);
    let resolved;
    try {
      resolved = await client.resolve({ keys: [key], ...(app ? { app } : {}), ...(env ? { env } : {}) });
    } catch (e) {
      if (!(e instanceof HushError)) throw e;
      let why = '';
      if (snapshot) {
        if (e.status === 401) {
          // The token is refused (revoked, expired): its snapshot goes too.
          snapshot.remove();
        } else if (fallbackSnapshot.mayFallBack(e)) {
          const got = snapshot.answer(key, e);
          if (got.value) return { value: got.value };
          why = got.why;
        }
      }
      throw new ServerError(key, e, why);
    }
    const got = Object.hasOwn(resolved.secrets, key) ? resolved.secrets[key] : undefined;
    if (got && got.value) {
      const value = got.value.exposeBytes();
      got.value.clear();
      snapshot?.keep(key, value, got.expires_at);
      return { value };
    }
    const refusal = Object.hasOwn(resolved.errors, key) ? resolved.errors[key] : undefined;
    if (refusal) {
      snapshot?.forget(key);
      throw new RefusedError(key, refusal.code, refusal.message);
    }
    throw new ServerError(
      key,
      new HushError('the answer has neither a value nor an error for this key', { status: 200, code: 'unexpected_answer' }),
    );
  }

  #writePrivate(key, value) {
    const known = this.#paths.get(key);
    if (known) return known;
    if (!this.#dir) {
      this.#dir = this.#makeDir();
      removeAtExit(this.#dir);
    }
    const target = path.join(this.#dir, key);
    const tmp = path.join(this.#dir, `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      const fd = fs.openSync(tmp, 'wx', 0o600);
      try {
        fs.writeSync(fd, value);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      // Never replaces a file already there (a link fails on an existing name).
      fs.linkSync(tmp, target);
    } catch (e) {
      throw new SecretsIOError('write', target, e);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    this.#paths.set(key, target);
    return target;
  }

  /** A new 0700 directory in HUSH_SECRETS_DIR, else /dev/shm, else the temp dir. */
  #makeDir() {
    const base = this.#varStr(SECRETS_DIR_VAR);
    if (base !== undefined) return privateDir(path.resolve(this.#cwd, base));
    try {
      if (fs.statSync('/dev/shm').isDirectory()) return privateDir('/dev/shm');
    } catch {
      // No usable /dev/shm: the temp dir.
    }
    return privateDir(os.tmpdir());
  }
}

/** The private directories not cleaned up yet: removed when the process exits normally. */
const LIVE_DIRS = new Set();

function removeAtExit(dir) {
  if (LIVE_DIRS.size === 0 && !removeAtExit.hooked) {
    removeAtExit.hooked = true;
    process.once('exit', () => {
      for (const d of LIVE_DIRS) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  LIVE_DIRS.add(dir);
}

function privateDir(base) {
  try {
    const dir = fs.mkdtempSync(path.join(base, 'hush-secrets-'));
    fs.chmodSync(dir, 0o700);
    return dir;
  } catch (e) {
    throw new SecretsIOError('make a private directory in', base, e);
  }
}

function readFile(p) {
  try {
    return fs.readFileSync(p);
  } catch (e) {
    throw new SecretsIOError('read', p, e);
  }
}

/**
 * The value of `key` in the dotenv file at `p`, or, as `state`, why not (for the not-found
 * message). Parsed by Node's util.parseEnv.
 */
function lookupDotenv(p, key) {
  let bytes;
  try {
    bytes = fs.readFileSync(p);
  } catch (e) {
    if (e?.code === 'ENOENT') return { state: 'no such file' };
    throw new SecretsIOError('read', p, e);
  }
  let text;
  try {
    text = utf8.decode(bytes);
  } catch {
    // The line of the first byte that is not UTF-8 (a U+FFFD written as such counts too).
    const lossy = bytes.toString('utf8');
    throw new SecretsFileError(p, `line ${lineOf(lossy, lossy.indexOf('\uFFFD'))}: not UTF-8 text`);
  } finally {
    bytes.fill(0);
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  // util.parseEnv never expands `$` (as hush run and the other SDKs read the file) and a later
  // line for a key wins; it reports no errors, so a key that is not a hush key (a line
  // without `=` joins the next line's key) is what refuses the file, naming its line.
  const entries = parseEnv(text);
  for (const k of Object.keys(entries)) {
    if (!validKey(k)) {
      throw new SecretsFileError(
        p,
        `line ${lineOf(text, text.indexOf(k))}: the key is not a hush key: 1-128 of A-Z a-z 0-9 _ . -, not starting with . or -`,
      );
    }
  }
  if (Object.hasOwn(entries, key)) return { value: Buffer.from(entries[key], 'utf8') };
  return { state: 'no line for this key' };
}

/** The 1-based line of offset `at` in `text` (1 when not found). */
function lineOf(text, at) {
  if (at < 0) return 1;
  let line = 1;
  for (let i = 0; i < at; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

let global = null;

function sources() {
  global ??= Sources.fromEnv();
  return global;
}

/**
 * The workload call, for this process: the environment and current directory are read once,
 * on first use.
 */
export const secrets = Object.freeze({
  /** The value of `key` (a Secret). */
  get: (key) => sources().get(key),
  /** A path to a file holding the value of `key`. */
  file: (key) => sources().file(key),
  /** Removes the files file() wrote in this process (also done when the process exits). */
  cleanup: () => {
    if (global) global.cleanup();
  },
});
