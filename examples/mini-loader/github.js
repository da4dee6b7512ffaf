// mini-loader's github.js with the hush SDK: `secrets.get('githubtoken')` gives the same
// answer under `hush run` (what the run declared), locally from a `.secrets` file or an
// ML_S_-prefixed variable (HUSH_SECRET_PREFIX=ML_S_), and against a hush server.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { secrets } from 'hush-sdk';

// Retrieve the secret.
let accessToken;
try {
  accessToken = await secrets.get('githubtoken');
} catch (e) {
  console.error(e.message); // says where it looked and what to do; never a value
  process.exit(1);
}

// Main async function to fetch and save GitHub username.
async function run() {
  // No network here: stands in for
  //   new Octokit({ auth: accessToken.expose() }).users.getAuthenticated()
  const auth = accessToken.expose();
  const fingerprint = createHash('sha256').update(auth).digest('hex').slice(0, 12);
  const login = 'octocat';
  console.log(`authenticated to GitHub with token ${accessToken}`); // prints [redacted]
  console.log(`token fingerprint ${fingerprint}`);
  fs.writeFileSync('user.json', JSON.stringify(login));
  console.log(`saved artifact user.json (${login})`);
}

// Execute the function.
run().catch(console.error);
