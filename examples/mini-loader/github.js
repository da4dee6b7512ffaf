// mini-loader's github.js, as a workload under `hush run`: the token arrives in the
// environment under the name the run declared, and the script never handles a secrets file.
const fs = require('fs');

const accessToken = process.env.githubtoken;
if (!accessToken) {
  console.error('githubtoken is not set: run me with `hush run --secret githubtoken -- node github.js`');
  process.exit(1);
}

// No network here: stand in for `octokit.users.getAuthenticated()`.
const login = 'octocat';
console.log(`authenticated to GitHub with token ${accessToken}`); // masked by hush run
fs.writeFileSync('user.json', JSON.stringify(login));
console.log(`saved artifact user.json (${login})`);
