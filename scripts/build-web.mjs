// Builds the admin console (web/ → web/dist) only when its sources changed since the last build:
// `npm start` runs this first, so the console is built once, not on every start.
// Usage: node scripts/build-web.mjs [--force]
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

const root = fileURLToPath(new URL('..', import.meta.url));
const web = join(root, 'web');
const dist = join(web, 'dist');
const stamp = join(dist, '.sources-sha256');

/** One hash over every console source (and the lock file, which pins vite): names and contents. */
export function webSourcesHash() {
  const h = createHash('sha256');
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (p === dist || name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else h.update(`${relative(root, p)}\0`).update(readFileSync(p)).update('\0');
    }
  };
  walk(web);
  h.update(readFileSync(join(root, 'package-lock.json')));
  return h.digest('hex');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const force = process.argv.includes('--force');
  const want = webSourcesHash();
  const have = existsSync(stamp) ? readFileSync(stamp, 'utf8').trim() : '';
  if (!force && have === want && existsSync(join(dist, 'index.html'))) process.exit(0);
  const vite = join(root, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!existsSync(vite)) {
    // A production install (--omit=dev) has no vite: serve what was built, if anything.
    process.stderr.write(`console: vite is not installed; ${existsSync(dist) ? 'serving the console built before' : 'the admin console is not built (npm ci, then npm start)'}\n`);
    process.exit(0);
  }
  process.stderr.write(`console: ${have ? 'sources changed; rebuilding' : 'building'} the admin console (once)\n`);
  const r = spawnSync(process.execPath, [vite, 'build', '--config', join(web, 'vite.config.ts')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, `${want}\n`);
}
