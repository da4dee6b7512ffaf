// A ToolJump integration: uses its required secrets, never logs them.
const crypto = require('crypto');
const fs = require('fs');

const token = process.env.GITHUB_TOKEN;
const webhook = process.env.SLACK_WEBHOOK;
const fingerprint = crypto.createHash('sha256').update(token).digest('hex').slice(0, 12);
console.log(`github token fingerprint ${fingerprint}`);
console.log(`posting to ${webhook}`); // a slip: hush masks it
console.log(`undeclared secret visible: ${process.env.UNRELATED_SECRET !== undefined}`);
fs.writeFileSync('ran.txt', 'yes');
