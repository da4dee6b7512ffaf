// Type-checked (tsc --noEmit), not run: the Ductape walkthrough and the rest of the API in
// TypeScript, against the package's declarations. A wrong shape here fails `npm run typecheck`.
import {
  Client,
  ExistsError,
  ForbiddenError,
  HushError,
  NotDeclaredError,
  NotFoundError,
  RateLimitedError,
  RefusedError,
  RevokedError,
  Secret,
  SecretNotFoundError,
  Sources,
  ServerError,
  secrets,
  type AppInfo,
  type AuditHead,
  type AuditItem,
  type AuditPruned,
  type NewToken,
  type SecretMeta,
  type SecretValue,
} from 'hush-sdk';

export async function ductape(): Promise<void> {
  const client = new Client(process.env.HUSH_ADDR ?? 'http://127.0.0.1:8270', process.env.HUSH_TOKEN ?? '');

  const secret: SecretMeta = await client.secrets.create({
    key: 'STRIPE_API_KEY',
    value: 'sk_live_51ABC123...',
    description: 'Production Stripe API key for payment processing',
    token_type: 'api',
    scope: ['stripe_payments', 'checkout_service'],
    envs: ['prd', 'staging'],
    expires_at: Math.floor(Date.now() / 1000) + 365 * 24 * 60 * 60,
  });
  console.log('Secret created:', secret.key);

  const all = await client.secrets.fetchAll();
  all.forEach((s) => {
    console.log(`${s.key}: ${s.description || 'No description'}`);
    console.log(`  Type: ${s.token_type || 'Not specified'}`);
    console.log(`  Scope: ${s.scope?.join(', ') || 'All apps'}`);
    console.log(`  Environments: ${s.envs?.join(', ') || 'All environments'}`);
  });

  const fetched: SecretValue = await client.secrets.fetch('STRIPE_API_KEY');
  console.log('Key:', fetched.key);
  console.log('Value:', fetched.value); // Secret([redacted])
  const text: string | undefined = fetched.value?.expose();
  const bytes: Uint8Array | undefined = fetched.value?.exposeBytes();
  void text;
  void bytes;

  const updated = await client.secrets.update('STRIPE_API_KEY', {
    value: 'sk_live_51NEW_KEY...',
    description: 'Rotated Stripe API key - January 2025',
    expires_at: Math.floor(Date.now() / 1000) + 180 * 24 * 60 * 60,
  });
  console.log('Secret updated:', updated.key);
  console.log('New expiration:', new Date((updated.expires_at ?? 0) * 1000));
  await client.secrets.update('STRIPE_API_KEY', {
    scope: ['stripe_payments', 'subscription_service', 'invoice_service'],
    envs: ['dev', 'staging', 'prd'],
  });
  // Clearing: null and [].
  await client.secrets.update('STRIPE_API_KEY', { description: null, expires_at: null, scope: [] }, { ifMatch: updated.revision });

  try {
    await client.secrets.create({ key: 'STRIPE_API_KEY', value: 'secret_value' });
  } catch (error) {
    if (error instanceof ExistsError) console.error('Secret with this key already exists');
    else if (error instanceof ForbiddenError) console.error('You do not have permission to create secrets');
    else if (error instanceof HushError) console.error('Failed to create secret:', error.status, error.code, error.message);
    else throw error;
  }

  const revoked = await client.secrets.revoke('STRIPE_API_KEY');
  if (revoked) console.log('Secret has been revoked');
  try {
    await client.secrets.fetch('STRIPE_API_KEY');
  } catch (error) {
    if (error instanceof RevokedError) console.log('Reading a revoked secret is forbidden');
  }
  await client.secrets.restore('STRIPE_API_KEY');
  const deleted: true = await client.secrets.delete('STRIPE_API_KEY', { force: true });
  if (deleted) console.log('Secret successfully deleted');
}

export async function everythingElse(client: Client): Promise<void> {
  await client.secrets.put('cert', { value: new Uint8Array([0xff, 0x00]) }, { ifMatch: '*' });
  await client.secrets.put('cert2', { value: new Secret('x'), envs: ['prd'] });
  await client.secrets.update('cert', { value: 'v3', expected_version: 2 });
  const old = await client.secrets.fetch('cert', { version: 1 });
  const versions = await client.secrets.versions('cert');
  const v: number | undefined = versions[0]?.version;
  await client.secrets.rollback('cert', v ?? 1);
  const meta = await client.secrets.show('cert');
  const listed = await client.secrets.list({ prefix: 'ce', status: 'active', env: 'prd', app: 'a' });
  await client.secrets.delete('cert', { expected_version: 3, ifMatch: `"${meta.revision}"` });
  void old;
  void listed;

  const resolved = await client.resolve({ keys: ['a', 'b'], app: 'web', env: 'prd' });
  for (const [key, value] of Object.entries(resolved.secrets)) console.log(key, value.value?.byteLength);
  for (const [key, refusal] of Object.entries(resolved.errors)) console.log(key, refusal.code, refusal.message);
  await client.check({ keys: ['a'] });

  const app: AppInfo = await client.apps.register({
    app: 'web',
    env: 'prd',
    secrets: [{ name: 'STRIPE', key: 'STRIPE_API_KEY', required: true, fallback: ['STRIPE_OLD'], as: 'env' }],
  });
  await client.apps.list();
  await client.apps.get(app.app ?? 'web');
  await client.apps.delete('web');

  const tok: NewToken = await client.tokens.create({ name: 'ci', role: 'read', expires_at: 2_000_000_000 });
  const reader = client.withToken(tok.token.expose());
  await reader.secrets.list();
  await client.tokens.create({ app: 'web', env: 'prd' });
  await client.tokens.list();
  await client.tokens.revoke(tok.id ?? 'ci');
  await client.tokens.delete('ci');

  const head: AuditHead = await client.audit.head();
  const verdict = await client.audit.verify({ head });
  const intact: boolean | undefined = verdict.intact;
  void intact;
  const rows = await client.audit.list({ key: 'cert', actor: 'tok_1', since: 0, until: 2_000_000_000 });
  // A row naming several keys (one resolve) lists them in `items`.
  const items: AuditItem[] = rows.flatMap((r) => r.items ?? []);
  const itemVersions: (number | null | undefined)[] = items.map((i) => i.version);
  const pruned: AuditPruned = await client.audit.prune({ before: '90d' });
  const removed: number = pruned.removed;
  void removed;

  try {
    await client.secrets.fetch('nope');
  } catch (e) {
    if (e instanceof NotFoundError) console.log(e.status === 404, e.code);
    if (e instanceof RateLimitedError) console.log(`retry after ${e.retryAfter ?? 0} s`);
    if (e instanceof HushError && e.status === null) console.log('no answer', e.code, e.details);
  }
}

export async function workload(): Promise<void> {
  const token: Secret = await secrets.get('githubtoken');
  const header = `Bearer ${token.expose()}`;
  const keyPath: string = await secrets.file('gcp-json');
  secrets.cleanup();
  const local = new Sources({ env: { HUSH_SECRET_k: 'v' }, cwd: '/tmp' });
  await local.get('k');
  local.cleanup();
  const offline = new Sources({ fallback: true, fallbackMaxAge: '12h' });
  const never = new Sources({ fallback: false });
  const bySeconds = new Sources({ fallbackMaxAge: 3600 });
  void [offline, never, bySeconds];
  try {
    await secrets.get('undeclared');
  } catch (e) {
    if (e instanceof NotDeclaredError) console.error(e.key, e.message);
    if (e instanceof SecretNotFoundError) console.error(e.looked);
    if (e instanceof RefusedError) console.error(e.reason, e.serverMessage);
    if (e instanceof ServerError) console.error(e.fallback, e.error.message);
  }
  void header;
  void keyPath;
}
