// Fails when types/openapi.d.ts is not what `npm run gen-types` makes from the OpenAPI
// document now: regenerates into a temporary file with the pinned openapi-typescript and compares.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const spec = path.resolve(pkg, '../../crates/hush-server/openapi.json');
const checkedIn = path.join(pkg, 'types/openapi.d.ts');
const cli = path.join(pkg, 'node_modules/openapi-typescript/bin/cli.js');
if (!fs.existsSync(cli)) {
  console.error('openapi-typescript is not installed: run `npm ci` in sdk/node');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hush-gen-types-'));
try {
  const out = path.join(tmp, 'openapi.d.ts');
  execFileSync(process.execPath, [cli, spec, '-o', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  const want = fs.readFileSync(out, 'utf8');
  const have = fs.existsSync(checkedIn) ? fs.readFileSync(checkedIn, 'utf8') : '';
  if (want !== have) {
    console.error(
      `sdk/node/types/openapi.d.ts is not generated from ${path.relative(pkg, spec)} as it is now: run \`npm run gen-types\` in sdk/node and commit the result`,
    );
    process.exit(1);
  }
  console.log('types/openapi.d.ts is current');
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
