// Test helpers: a real `hush server` on 127.0.0.1 in a private HUSH_HOME, and real `hush`
// commands. The binary is HUSH_BIN, else <repo>/target/debug/hush.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const PKG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO = path.resolve(PKG, '../..');
export const INDEX = path.join(PKG, 'index.js');
export const HUSH_BIN = process.env.HUSH_BIN || path.join(REPO, 'target/debug/hush');

function needBinary() {
  if (!fs.existsSync(HUSH_BIN)) {
    throw new Error(`no hush binary at ${HUSH_BIN}: build it (cargo build -p hush) or set HUSH_BIN`);
  }
}

/** A fresh temporary directory, removed by `done`. */
export function tempDir(t, prefix = 'hush-node-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t?.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The environment every hush command gets: no HUSH_* of the machine, a private home. */
export function hushEnv(home, extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HUSH_')) env[k] = v;
  }
  return { ...env, HUSH_HOME: home, HUSH_CONFIG: path.join(home, 'no-login.json'), USER: 'tester', ...extra };
}

/** Runs `hush ARGS` synchronously; {status, stdout, stderr}. */
export function hush(home, args, { input, env, cwd } = {}) {
  needBinary();
  const r = spawnSync(HUSH_BIN, args, {
    env: hushEnv(home, env),
    cwd,
    input: input ?? '',
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, all: `${r.stdout}${r.stderr}` };
}

/**
 * Starts `hush server --listen 127.0.0.1:0` over a fresh store; resolves to {addr, admin,
 * home, db, stop}. Stopped when the test (or suite) `t` ends.
 */
export async function startServer(t, { env = {} } = {}) {
  needBinary();
  const home = tempDir(t, 'hush-node-server-');
  const child = spawn(HUSH_BIN, ['server', '--listen', '127.0.0.1:0'], {
    env: hushEnv(home, { HUSH_SQLITE_BUSY_TIMEOUT_MS: '300', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!t) fs.rmSync(home, { recursive: true, force: true });
  };
  t?.after(stop);
  const admin = new Promise((resolve) => {
    readline.createInterface({ input: child.stdout }).once('line', (l) => resolve(l.trim()));
  });
  let stderrText = '';
  const addr = new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stderr });
    rl.on('line', (l) => {
      stderrText += `${l}\n`;
      const m = /^hush listening on (\S+)/.exec(l.trim());
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`hush server exited (${code}):\n${stderrText}`)));
    setTimeout(() => reject(new Error(`hush server did not start in 30 s:\n${stderrText}`)), 30_000).unref();
  });
  const [a, token] = await Promise.all([addr, admin]);
  return { addr: a, admin: token, home, db: path.join(home, 'hush.db'), stop, child };
}

/** Runs `node FILE` (an ES module) with `env` exactly; {status, stdout, stderr}. */
export function node(file, { env, cwd, args = [] } = {}) {
  const r = spawnSync(process.execPath, [file, ...args], { env, cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Writes a workload script that imports the SDK by absolute path; its path. */
export function script(dir, name, body) {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `import * as hush from ${JSON.stringify(INDEX)};\nconst { secrets } = hush;\n${body}\n`);
  return p;
}

/** The environment of the test process without any HUSH_* variable. */
export function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('HUSH_')) env[k] = v;
  }
  return { ...env, ...extra };
}

/** A 127.0.0.1 port nothing listens on (bound, then closed). */
export async function closedPort() {
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
