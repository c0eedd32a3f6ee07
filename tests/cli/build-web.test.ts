import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** `npm start` builds the console first (prestart); it must do so once, and again only when web/ changed. */
describe('the admin console build before start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fd-webbuild-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const repo = resolve('.');
  // A copy of what the build reads, so the test never rewrites this checkout's web/dist.
  mkdirSync(join(dir, 'scripts'));
  cpSync(join(repo, 'scripts/build-web.mjs'), join(dir, 'scripts/build-web.mjs'));
  cpSync(join(repo, 'web'), join(dir, 'web'), { recursive: true, filter: (src) => !src.includes(`${join(repo, 'web', 'dist')}`) });
  cpSync(join(repo, 'package-lock.json'), join(dir, 'package-lock.json'));
  cpSync(join(repo, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  const build = () => spawnSync(process.execPath, ['scripts/build-web.mjs'], { cwd: dir, encoding: 'utf8' });

  it('builds on the first start, skips on the next, and rebuilds after a console source changes', () => {
    const first = build();
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/console: building the admin console \(once\)/);
    const index = join(dir, 'web/dist/index.html');
    const built = statSync(index).mtimeMs;

    const second = build();
    expect(second).toMatchObject({ status: 0, stderr: '' });
    expect(statSync(index).mtimeMs).toBe(built);

    appendFileSync(join(dir, 'web/index.html'), '\n<!-- edited -->\n');
    const third = build();
    expect(third.status, third.stderr).toBe(0);
    expect(third.stderr).toMatch(/console: sources changed; rebuilding/);
  }, 180_000);
});
