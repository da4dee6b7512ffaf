// End-to-end tests of the web UI: the real `hush server` on 127.0.0.1, driven by headless
// Chromium through playwright-core. Run with `npm test` in this folder (scripts/test does it);
// HUSH_BIN names the binary (default: target/debug/hush), CHROMIUM the browser
// (default: /usr/bin/chromium). The last test writes docs/ui-secrets.png.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = process.env.HUSH_BIN || path.join(root, "target", "debug", "hush");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let server, base, admin, readToken, browser, home;

function startServer() {
  home = mkdtempSync(path.join(tmpdir(), "hush-e2e-"));
  const env = { ...process.env, HUSH_HOME: home, HUSH_LOG: "warn" };
  for (const k of ["HUSH_DB", "HUSH_ADDR", "HUSH_TOKEN", "HUSH_PASSPHRASE", "HUSH_ROOT_KEY", "HUSH_KEY_FILE"]) delete env[k];
  const child = spawn(BIN, ["server", "--listen", "127.0.0.1:0"], { env, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let out = "", err = "", token = null, addr = null;
    const done = () => { if (token && addr) resolve({ child, token, addr }); };
    child.stdout.on("data", (d) => { out += d; const l = out.split("\n"); if (l.length > 1) { token = l[0].trim(); done(); } });
    child.stderr.on("data", (d) => {
      err += d;
      const m = err.match(/hush listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) { addr = m[1]; done(); }
    });
    child.on("exit", (code) => reject(new Error(`hush server exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`hush server did not start: ${err}`)), 20000);
  });
}

async function api(method, p, body, token = admin) {
  const res = await fetch(base + p, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text };
}

/** A fresh browser context signed in with `token`, by keyboard only. */
async function signIn(token, viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.goto(base + "/ui/secrets");
  assert.match(page.url(), /\/ui\/login$/, "signed-out visitors are sent to sign in");
  await page.getByLabel("API token").focus();
  await page.keyboard.type(token);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/ui\/secrets$/);
  return { context, page, dialogs };
}

before(async () => {
  const s = await startServer();
  server = s.child; base = s.addr; admin = s.token;
  const r = await api("POST", "/v1/tokens", { role: "read", name: "reader" });
  assert.equal(r.status, 201, r.text);
  readToken = r.json.token;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});

after(async () => {
  if (browser) await browser.close();
  if (server) server.kill("SIGTERM");
  if (home) rmSync(home, { recursive: true, force: true });
});

test("sign in and out: the cookie is HttpOnly and SameSite=Strict, and signing out ends the session", async () => {
  const { context, page } = await signIn(admin);
  const cookies = await context.cookies();
  const c = cookies.find((c) => c.name === "hush_session");
  assert.ok(c, "a session cookie");
  assert.equal(c.httpOnly, true);
  assert.equal(c.sameSite, "Strict");
  assert.notEqual(c.value, admin, "the browser holds a session token, not the API token");
  assert.equal(await page.evaluate(() => document.cookie), "", "scripts cannot read it");
  const res = await page.goto(base + "/ui/secrets");
  const h = res.headers();
  assert.match(h["content-security-policy"], /default-src 'self'/);
  assert.doesNotMatch(h["content-security-policy"], /unsafe-inline/);
  assert.equal(h["x-frame-options"], "DENY");
  assert.equal(h["cache-control"], "no-store");
  assert.equal(h["referrer-policy"], "no-referrer");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/ui\/login$/);
  // The old session token is revoked, not just forgotten by the browser.
  const r = await api("GET", "/v1/secrets", null, c.value);
  assert.equal(r.status, 401, "the session token no longer works");
  await page.goto(base + "/ui/secrets");
  assert.match(page.url(), /\/ui\/login$/);
  // A session token cannot be used to sign in again (a stolen cookie cannot outlive sign-out).
  const { context: c2 } = await signIn(admin);
  const session = (await c2.cookies()).find((c) => c.name === "hush_session").value;
  const again = await fetch(base + "/ui/login", { method: "POST", body: new URLSearchParams({ token: session }), redirect: "manual" });
  assert.equal(again.status, 403);
  assert.match(await again.text(), /web UI session/);
  await c2.close();
  // Revoking a token ends the sessions signed in with it.
  const temp = await api("POST", "/v1/tokens", { role: "admin", name: "temp-admin" });
  const { context: c3, page: p3 } = await signIn(temp.json.token);
  assert.equal((await api("DELETE", `/v1/tokens/${temp.json.id}`)).status, 204);
  await p3.goto(base + "/ui/secrets");
  assert.match(p3.url(), /\/ui\/login$/, "the revoked token's session ended");
  await c3.close();
  // A wrong token is refused with a message next to the field.
  await page.getByLabel("API token").fill("hush_wrong");
  await page.getByRole("button", { name: "Sign in" }).click();
  assert.match(await page.locator("#token-error").innerText(), /unknown, revoked or expired/);
  await context.close();
});

test("add a secret by pasting its value", async () => {
  const { context, page } = await signIn(admin);
  await page.getByRole("link", { name: "Add a secret" }).click();
  await page.getByLabel("Key").fill("STRIPE_API_KEY");
  await page.getByLabel("Value", { exact: true }).focus();
  await page.keyboard.insertText("sk_live_pasted_51ABC");
  await page.getByLabel("Description").fill("Production Stripe API key");
  await page.getByLabel("Type").selectOption("api");
  await page.getByLabel("Scope").fill("checkout, payments");
  await page.getByLabel("Environments").fill("prd");
  await page.getByLabel("Expires").fill("90d");
  await page.getByLabel("Warn before").fill("30d");
  await page.getByRole("button", { name: "Add the secret" }).click();
  await page.waitForURL(/\/ui\/secrets\/STRIPE_API_KEY\?msg=created$/);
  assert.match(await page.locator(".notice.ok").innerText(), /Secret created/);
  assert.doesNotMatch(await page.content(), /sk_live_pasted_51ABC/, "the detail page never shows the value");
  const r = await api("GET", "/v1/secrets/STRIPE_API_KEY");
  assert.equal(r.json.value, "sk_live_pasted_51ABC");
  assert.deepEqual(r.json.scope, ["checkout", "payments"]);
  assert.equal(r.json.token_type, "api");
  assert.equal(r.json.notify_before, 30 * 86400);
  // A bad key is refused next to the key field; nothing is created.
  await page.goto(base + "/ui/secrets/new");
  await page.getByLabel("Key").fill("bad key!");
  await page.getByLabel("Value", { exact: true }).fill("x");
  await page.getByRole("button", { name: "Add the secret" }).click();
  assert.match(await page.locator("#key-error").innerText(), /invalid key/);
  assert.equal(await page.getByLabel("Key").inputValue(), "bad key!", "what was typed is kept");
  assert.equal(await page.getByLabel("Value", { exact: true }).inputValue(), "", "but a value is never sent back");
  assert.match(await page.locator("#value-error").innerText(), /enter or drop it again/);
  await context.close();
});

async function dropFile(page, name, content) {
  const dt = await page.evaluateHandle(({ name, content }) => {
    const dt = new DataTransfer();
    dt.items.add(new File([content], name, { type: name.endsWith(".json") ? "application/json" : "text/plain" }));
    return dt;
  }, { name, content });
  await page.dispatchEvent("[data-dropzone]", "drop", { dataTransfer: dt });
}

test("add a secret by dropping a JSON file; a bad JSON file is refused with a message", async () => {
  const { context, page } = await signIn(admin);
  const keyFile = JSON.stringify({ type: "service_account", project_id: "demo", private_key: "-----BEGIN PRIVATE KEY-----\\nMIIE\\n-----END PRIVATE KEY-----\\n" }, null, 2);
  await page.goto(base + "/ui/secrets/new");
  await page.getByLabel("Key").fill("gcp-json");
  await dropFile(page, "gcp-key.json", keyFile);
  await page.waitForFunction(() => document.querySelector("#value-file-name").textContent.includes("gcp-key.json"));
  assert.equal(await page.getByLabel("Value format").inputValue(), "json", "a .json file switches the format to JSON");
  await page.getByRole("button", { name: "Add the secret" }).click();
  await page.waitForURL(/\/ui\/secrets\/gcp-json\?msg=created$/);
  const r = await api("GET", "/v1/secrets/gcp-json");
  assert.equal(r.json.value, keyFile, "the file's bytes, exactly");

  await page.goto(base + "/ui/secrets/new");
  await page.getByLabel("Key").fill("broken-json");
  await dropFile(page, "broken.json", '{"type": "service_account", ');
  await page.waitForFunction(() => document.querySelector("#value-error").textContent !== "");
  assert.match(await page.locator("#value-error").innerText(), /not valid JSON/);
  await page.getByRole("button", { name: "Add the secret" }).click();
  assert.match(page.url(), /\/ui\/secrets\/new$/, "the form was not sent");
  assert.match(await page.locator("#value-error").innerText(), /not valid JSON/);
  assert.equal((await api("GET", "/v1/secrets/broken-json")).status, 404, "nothing was created");
  // Typed JSON is checked as well, and the server checks it too when the script is bypassed.
  await page.getByLabel("Value format").selectOption("json");
  await page.getByLabel("Value", { exact: true }).fill("{not json");
  await page.getByRole("button", { name: "Add the secret" }).click();
  assert.match(await page.locator("#value-error").innerText(), /not valid JSON/);
  const csrf = await page.locator("input[name=csrf]").first().inputValue();
  const status = await page.evaluate(async (csrf) => {
    const body = new URLSearchParams({ csrf, key: "broken-json", value: "{not json", format: "json" });
    const res = await fetch("/ui/secrets/new", { method: "POST", body });
    return { status: res.status, text: await res.text() };
  }, csrf);
  assert.equal(status.status, 422);
  assert.match(status.text, /not valid JSON/);
  assert.equal((await api("GET", "/v1/secrets/broken-json")).status, 404, "still nothing created");
  await context.close();
});

test("replace a value without the old one ever reaching the browser", async () => {
  const OLD = "old-planted-value-8c1f2e";
  assert.equal((await api("POST", "/v1/secrets", { key: "rotate-me", value: OLD, description: "to rotate" })).status, 201);
  const { context, page } = await signIn(admin);
  const bodies = [];
  const pending = [];
  context.on("response", (res) => pending.push(res.body().then((b) => bodies.push(b.toString("latin1"))).catch(() => {})));
  await page.goto(base + "/ui/secrets");
  await page.getByRole("link", { name: "rotate-me" }).click();
  await page.waitForURL(/\/ui\/secrets\/rotate-me$/);
  await page.getByLabel("New value").fill("new-value-after-rotation");
  await page.getByRole("button", { name: "Replace value" }).click();
  await page.waitForURL(/msg=value$/);
  assert.match(await page.locator(".notice.ok").innerText(), /Value replaced/);
  await page.goto(base + "/ui/secrets/rotate-me");
  await page.goto(base + "/ui/audit?key=rotate-me");
  await Promise.all(pending);
  assert.ok(bodies.length >= 5, `responses recorded: ${bodies.length}`);
  for (const b of bodies) assert.ok(!b.includes(OLD), "the old value appeared in a response to the browser");
  assert.ok(!bodies.some((b) => b.includes("new-value-after-rotation")), "nor the new one after it was sent");
  const r = await api("GET", "/v1/secrets/rotate-me");
  assert.equal(r.json.value, "new-value-after-rotation");
  assert.equal(r.json.version, 2);
  await context.close();
});

test("a value of one environment's own, set and deleted in the UI", async () => {
  assert.equal((await api("POST", "/v1/secrets", { key: "per-env", value: "shared-ui" })).status, 201);
  const { context, page } = await signIn(admin);
  await page.goto(base + "/ui/secrets/per-env");
  await page.getByLabel("New value").fill("prd-ui");
  await page.getByLabel("Environment (empty").fill("prd");
  await page.getByRole("button", { name: "Replace value" }).click();
  await page.waitForURL(/msg=value$/);
  let r = await api("GET", "/v1/secrets/per-env?env=prd");
  assert.equal(r.json.value, "prd-ui");
  assert.equal(r.json.value_env, "prd");
  assert.equal((await api("GET", "/v1/secrets/per-env")).json.value, "shared-ui");
  await page.goto(base + "/ui/secrets/per-env");
  assert.match(await page.locator(".facts").first().innerText(), /prd \(v1\)/);
  await page.getByRole("button", { name: "Delete the prd value" }).click();
  await page.waitForURL(/msg=env-deleted$/);
  r = await api("GET", "/v1/secrets/per-env?env=prd");
  assert.equal(r.json.value, "shared-ui");
  assert.equal(r.json.value_env, null);
  await context.close();
});

test("edit metadata, revoke and restore", async () => {
  const { context, page } = await signIn(admin);
  await page.goto(base + "/ui/secrets/rotate-me");
  await page.getByLabel("Description").fill("rotated monthly");
  await page.getByLabel("Environments").fill("prd, staging");
  await page.getByRole("button", { name: "Save details" }).click();
  await page.waitForURL(/msg=meta$/);
  let r = await api("GET", "/v1/secrets/rotate-me");
  assert.equal(r.json.description, "rotated monthly");
  assert.deepEqual(r.json.envs, ["prd", "staging"]);
  assert.equal(r.json.version, 2, "metadata does not make a version");
  // An invalid expiry is shown next to the field and nothing changes.
  await page.getByLabel("Expires").fill("next tuesday");
  await page.getByRole("button", { name: "Save details" }).click();
  assert.match(await page.locator("#expires-error").innerText(), /expiry/i);
  assert.equal((await api("GET", "/v1/secrets/rotate-me")).json.expires_at, null);
  // So is a warning window that does not read; a good one is saved and shown back.
  await page.goto(base + "/ui/secrets/rotate-me");
  await page.getByLabel("Warn before").fill("soon");
  await page.getByRole("button", { name: "Save details" }).click();
  assert.match(await page.locator("#notify_before-error").innerText(), /not a span of time/);
  await page.getByLabel("Warn before").fill("21d");
  await page.getByRole("button", { name: "Save details" }).click();
  await page.waitForURL(/msg=meta$/);
  assert.equal((await api("GET", "/v1/secrets/rotate-me")).json.notify_before, 21 * 86400);
  assert.equal(await page.getByLabel("Warn before").inputValue(), "21d");

  await page.goto(base + "/ui/secrets/rotate-me");
  await page.getByRole("button", { name: "Revoke" }).click();
  await page.waitForURL(/msg=revoked$/);
  assert.equal(await page.locator(".facts .status").innerText(), "Revoked");
  assert.equal((await api("GET", "/v1/secrets/rotate-me")).status, 403);
  await page.getByRole("button", { name: "Restore" }).click();
  await page.waitForURL(/msg=restored$/);
  assert.equal(await page.locator(".facts .status").innerText(), "Active");
  assert.equal((await api("GET", "/v1/secrets/rotate-me")).status, 200);
  await context.close();
});

test("delete is refused while an app uses the secret, then forced by an admin", async () => {
  assert.equal((await api("POST", "/v1/secrets", { key: "billing-db", value: "pg-password" })).status, 201);
  const reg = await api("POST", "/v1/apps", { app: "billing", env: "prd", secrets: [{ name: "DATABASE_PASSWORD", key: "billing-db" }] });
  assert.ok(reg.status === 201 || reg.status === 200, reg.text);
  const { context, page } = await signIn(admin);
  await page.goto(base + "/ui/secrets");
  assert.match(await page.locator('tr[data-key="billing-db"]').innerText(), /billing/, "the list shows who uses it");
  await page.goto(base + "/ui/secrets/billing-db");
  await page.getByRole("link", { name: "Delete…" }).click();
  assert.match(await page.locator(".notice.error").innerText(), /in use by billing/);
  const force = page.getByRole("button", { name: "Force delete billing-db" });
  // The second confirmation is required: without it the browser does not send the form.
  await force.click();
  assert.match(page.url(), /\/delete$/);
  assert.equal((await api("GET", "/v1/secrets/billing-db")).status, 200, "not deleted yet");
  await page.getByLabel(/I understand that billing will no longer get billing-db/).check();
  await force.click();
  await page.waitForURL(/msg=deleted$/);
  assert.equal((await api("GET", "/v1/secrets/billing-db")).status, 404);
  await context.close();
});

test("a read token sees no edit controls, and a forged request gets 403", async () => {
  const { context, page } = await signIn(readToken);
  assert.equal(await page.getByRole("link", { name: "Add a secret" }).count(), 0);
  assert.equal(await page.getByRole("link", { name: "Tokens" }).count(), 0);
  await page.goto(base + "/ui/secrets/STRIPE_API_KEY");
  for (const name of ["Revoke", "Restore", "Replace value", "Save details"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 0, `no ${name} button`);
  }
  assert.equal(await page.getByRole("link", { name: "Delete…" }).count(), 0);
  assert.equal(await page.locator("textarea, input[name=description]").count(), 0, "no editable fields");
  const csrf = await page.locator("input[name=csrf]").first().inputValue();
  const forged = await page.evaluate(async (csrf) => {
    const out = {};
    for (const [p, body] of [
      ["/ui/secrets/STRIPE_API_KEY/revoke", { csrf }],
      ["/ui/secrets/STRIPE_API_KEY/value", { csrf, value: "hijacked" }],
      ["/ui/secrets/STRIPE_API_KEY/delete", { csrf }],
      ["/ui/secrets/new", { csrf, key: "sneaky", value: "x" }],
      ["/ui/tokens", { csrf, role: "admin" }],
    ]) {
      out[p] = (await fetch(p, { method: "POST", body: new URLSearchParams(body) })).status;
    }
    // And without the CSRF field, whatever the role.
    out.nocsrf = (await fetch("/ui/secrets/STRIPE_API_KEY/revoke", { method: "POST", body: new URLSearchParams({}) })).status;
    return out;
  }, csrf);
  for (const [p, status] of Object.entries(forged)) assert.equal(status, 403, `${p} answered ${status}`);
  const r = await api("GET", "/v1/secrets/STRIPE_API_KEY");
  assert.equal(r.json.value, "sk_live_pasted_51ABC", "nothing changed");
  assert.equal(r.json.status, "active");
  assert.equal((await api("GET", "/v1/secrets/sneaky")).status, 404);
  await context.close();
});

test("a cross-site form post is refused", async () => {
  const { context, page } = await signIn(admin);
  // A browser would send SameSite=Strict cookies only from this site; a request that still
  // arrives with another Origin (and even a valid CSRF value) is refused.
  const csrf = await page.locator("input[name=csrf]").first().inputValue();
  const cookie = (await context.cookies()).find((c) => c.name === "hush_session").value;
  const res = await fetch(base + "/ui/secrets/STRIPE_API_KEY/revoke", {
    method: "POST",
    headers: { cookie: `hush_session=${cookie}`, origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrf }),
    redirect: "manual",
  });
  assert.equal(res.status, 403);
  assert.equal((await api("GET", "/v1/secrets/STRIPE_API_KEY")).json.status, "active");
  await context.close();
});

test("a token is created and shown once, with a copy button", async () => {
  const { context, page } = await signIn(admin);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  await page.getByRole("link", { name: "Tokens" }).click();
  await page.getByLabel("Name").fill("ci-reader");
  await page.getByLabel("Role").selectOption("read");
  await page.getByRole("button", { name: "Create token" }).click();
  const shown = await page.locator("#new-token").inputValue();
  assert.match(shown, /^hush_/);
  await page.getByRole("button", { name: "Copy" }).click();
  await page.waitForFunction(() => document.querySelector("[data-copied]").textContent === "Copied.");
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), shown);
  assert.equal((await api("GET", "/v1/secrets", null, shown)).status, 200, "the token works");
  const again = await page.goto(base + "/ui/tokens");
  const html = await again.text();
  assert.ok(!html.includes(shown), "shown once: not on the next visit");
  assert.match(html, /ci-reader/);
  await context.close();
});

test("what users type is shown as text, never run", async () => {
  const { context, page, dialogs } = await signIn(admin);
  await page.goto(base + "/ui/secrets/new");
  await page.getByLabel("Key").fill("xss-check");
  await page.getByLabel("Value", { exact: true }).fill("v");
  await page.getByLabel("Description").fill("<script>alert(1)</script><img src=x onerror=alert(2)>");
  await page.getByRole("button", { name: "Add the secret" }).click();
  await page.waitForURL(/xss-check\?msg=created$/);
  await page.goto(base + "/ui/secrets?q=xss");
  const cell = page.locator('tr[data-key="xss-check"] td').nth(1);
  assert.equal(await cell.innerText(), "<script>alert(1)</script><img src=x onerror=alert(2)>");
  assert.equal(await page.locator("main script, main img").count(), 0);
  await page.goto(base + "/ui/secrets/xss-check");
  await page.goto(base + "/ui/audit?key=%3Cscript%3Ealert(3)%3C/script%3E");
  assert.equal(await page.getByLabel("Key").inputValue(), "<script>alert(3)</script>");
  await page.waitForTimeout(200);
  assert.deepEqual(dialogs, [], "no script ran");
  await context.close();
});

test("the audit log filters by key and actor and shows the chain's status", async () => {
  const { context, page } = await signIn(admin);
  await page.getByRole("link", { name: "Audit log" }).click();
  assert.match(await page.locator(".notice.ok").innerText(), /Chain verified/);
  await page.getByLabel("Key").fill("rotate-me");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/[?&]key=rotate-me/);
  const keys = await page.locator("table.audit tbody tr td:nth-child(5)").allInnerTexts();
  assert.ok(keys.length > 0 && keys.every((k) => k === "rotate-me"), keys.join(","));
  await page.goto(base + "/ui/audit?actor=reader");
  const actors = await page.locator("table.audit tbody tr td:nth-child(3)").allInnerTexts();
  assert.ok(actors.length > 0 && actors.every((a) => a.startsWith("reader")), actors.join(","));
  await context.close();
});

test("the list filters, paginates, and fits 390 px; screenshot for the README", async () => {
  for (let i = 0; i < 55; i++) {
    const key = `svc-${String(i).padStart(2, "0")}`;
    assert.equal((await api("POST", "/v1/secrets", { key, value: `v${i}`, envs: i % 2 ? ["prd"] : ["dev"] })).status, 201);
  }
  await api("POST", "/v1/secrets/svc-03/revoke");
  const { context, page } = await signIn(admin);
  await page.getByLabel("Text").fill("svc-");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/[?&]q=svc-/);
  assert.equal(await page.locator("#secrets tbody tr").count(), 50);
  await page.getByRole("link", { name: "Next page" }).click();
  await page.waitForURL(/[?&]after=/);
  assert.equal(await page.locator("#secrets tbody tr").count(), 5);
  await page.goto(base + "/ui/secrets?status=revoked");
  assert.deepEqual(await page.locator("#secrets tbody tr td:first-child").allInnerTexts(), ["svc-03"]);
  await page.goto(base + "/ui/secrets?env=dev&q=svc-0");
  const devKeys = await page.locator("#secrets tbody tr td:first-child").allInnerTexts();
  assert.deepEqual(devKeys, ["svc-00", "svc-02", "svc-04", "svc-06", "svc-08"]);
  await page.goto(base + "/ui/secrets");
  await page.screenshot({ path: path.join(root, "docs", "ui-secrets.png") });
  await context.close();

  const narrow = await signIn(admin, { width: 390, height: 844 });
  const overflow = await narrow.page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 390, `the page is ${overflow}px wide at 390px`);
  await narrow.context.close();
});
