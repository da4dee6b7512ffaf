// A ToolJump integration: uses its required secrets, never logs them. hush run injects them
// as environment variables (ToolJump's `secrets.GITHUB_TOKEN`); the hush SDK reads the same
// declared keys and refuses any other.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { NotDeclaredError, secrets } from 'hush-sdk';

const token = process.env.GITHUB_TOKEN;
const webhook = process.env.SLACK_WEBHOOK;
const fingerprint = crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);
console.log(`github token fingerprint ${fingerprint}`);
console.log(`posting to ${webhook}`); // a slip: hush masks it
console.log(`undeclared secret visible: ${process.env.UNRELATED_SECRET !== undefined}`);

// The same through the SDK: the declared key answers, an undeclared one is refused.
const viaSdk = await secrets.get('SLACK_WEBHOOK');
console.log(`SDK: SLACK_WEBHOOK is ${viaSdk} (${viaSdk.expose() === webhook ? 'the same value' : 'a different value'})`);
try {
  await secrets.get('UNRELATED_SECRET');
  console.log('SDK: UNRELATED_SECRET was given');
} catch (e) {
  if (!(e instanceof NotDeclaredError)) throw e;
  console.log('SDK: UNRELATED_SECRET refused (not declared)');
}
fs.writeFileSync('ran.txt', 'yes');
