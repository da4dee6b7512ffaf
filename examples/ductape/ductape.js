// The Ductape document's "Managing Secrets" walkthrough (seeds/003) with the hush Node SDK:
// create a secret with metadata, list (metadata only), fetch (decrypted), update value and
// metadata, the 409 and 403 error handling, revoke, delete.
//
//   hush server &      # prints a first admin token
//   HUSH_ADDR=http://127.0.0.1:8270 HUSH_TOKEN=hush_… node ductape.js
import { Client, ExistsError, ForbiddenError, NotFoundError, RevokedError } from 'hush-sdk';

const addr = process.env.HUSH_ADDR ?? 'http://127.0.0.1:8270';
if (!process.env.HUSH_TOKEN) {
  console.error('set HUSH_TOKEN to an admin token (the walkthrough also makes a read token)');
  process.exit(2);
}
const hush = new Client(addr, process.env.HUSH_TOKEN);

// Create a secret.
const secret = await hush.secrets.create({
  key: 'STRIPE_API_KEY',
  value: 'sk_live_51ABC123',
  description: 'Production Stripe API key for payment processing',
  token_type: 'api',
  scope: ['stripe_payments', 'checkout_service'],
  envs: ['prd', 'staging'],
  expires_at: Math.floor(Date.now() / 1000) + 365 * 24 * 60 * 60, // 1 year from now
});
console.log('Secret created:', secret.key);

// List all secrets: metadata only, not the values.
const all = await hush.secrets.fetchAll();
all.forEach((s) => {
  console.log(`${s.key}: ${s.description || 'No description'}`);
  console.log(`  Type: ${s.token_type || 'Not specified'}`);
  console.log(`  Scope: ${s.scope?.join(', ') || 'All apps'}`);
  console.log(`  Environments: ${s.envs?.join(', ') || 'All environments'}`);
});

// Fetch a single secret, decrypted. The value is a Secret: it prints as [redacted];
// `.expose()` gives the text to the code that needs it.
const fetched = await hush.secrets.fetch('STRIPE_API_KEY');
console.log('Key:', fetched.key);
console.log('Value:', fetched.value); // Secret([redacted])
console.log('Description:', fetched.description);
console.log(`(value of ${fetched.value.expose().length} characters fetched)`);

// Update the value and extend the expiration.
const updated = await hush.secrets.update('STRIPE_API_KEY', {
  value: 'sk_live_51NEW_KEY',
  description: 'Rotated Stripe API key - January 2025',
  expires_at: Math.floor(Date.now() / 1000) + 180 * 24 * 60 * 60, // 180 days
});
console.log(`Secret updated: ${updated.key} (version ${updated.version})`);
console.log('New expiration:', new Date(updated.expires_at * 1000).toISOString());

// Update metadata only.
const scoped = await hush.secrets.update('STRIPE_API_KEY', {
  scope: ['stripe_payments', 'subscription_service', 'invoice_service'],
  envs: ['dev', 'staging', 'prd'],
});
console.log(`Metadata updated: scope ${scoped.scope.join(', ')}`);

// Error handling: 409 when the key exists, 403 without permission (a read token).
const reader = await hush.tokens.create({ name: 'ductape-reader', role: 'read' });
for (const client of [hush, hush.withToken(reader.token.expose())]) {
  try {
    await client.secrets.create({ key: 'STRIPE_API_KEY', value: 'secret_value' });
  } catch (error) {
    if (error instanceof ExistsError) {
      console.error('Secret with this key already exists');
    } else if (error instanceof ForbiddenError) {
      console.error('You do not have permission to create secrets');
    } else {
      console.error('Failed to create secret:', error.message);
    }
  }
}
await hush.tokens.revoke('ductape-reader');

// Revoke: kept, but no longer served (403 revoked).
const revoked = await hush.secrets.revoke('STRIPE_API_KEY');
if (revoked) {
  console.log('Secret has been revoked');
}
try {
  await hush.secrets.fetch('STRIPE_API_KEY');
} catch (error) {
  if (!(error instanceof RevokedError)) throw error;
  console.log('Reading a revoked secret is forbidden');
}

// Delete.
const deleted = await hush.secrets.delete('STRIPE_API_KEY');
if (deleted) {
  console.log('Secret successfully deleted');
}
try {
  await hush.secrets.fetch('STRIPE_API_KEY');
} catch (error) {
  if (!(error instanceof NotFoundError)) throw error;
  console.log('It is gone');
}
