// What the flake's npm build needs from the working tree (issue 5): importNpmLock fetches every
// package from the `resolved` URL and checks it against `integrity`, both read from
// package-lock.json, so an entry without them breaks the Nix build offline; the project's .npmrc
// keeps npm from dropping them. And every bundle the Nix expressions name must be one that
// `npm run build` makes (a renamed bundle once left nix/proxy.nix looking for a file that no
// longer existed, which only a real Nix build would have shown).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
}

test('package-lock.json: every package has a registry `resolved` URL and an sha512 `integrity`', () => {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockEntry> };
  assert.ok(lock.lockfileVersion >= 2, 'importNpmLock reads the `packages` map of lockfile v2/v3');
  const entries = Object.entries(lock.packages).filter(([key, e]) => key !== '' && !e.link);
  assert.ok(entries.length > 0);
  const bad = entries.filter(([key, e]) => {
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    return !e.resolved?.startsWith(`https://registry.npmjs.org/${name}/-/`) || !/^sha512-[A-Za-z0-9+/]{86}==$/.test(e.integrity ?? '');
  });
  assert.deepEqual(bad.map(([key]) => key), []);
});

test('.npmrc keeps `resolved` in the lock file whatever the user\'s own npm configuration says', () => {
  const lines = readFileSync(path.join(root, '.npmrc'), 'utf8').split('\n').map((l) => l.trim());
  assert.ok(lines.includes('omit-lockfile-registry-resolved=false'));
});

test('every dist/ bundle the Nix expressions name is one that npm run build makes', () => {
  const files = [path.join(root, 'flake.nix'), ...readdirSync(path.join(root, 'nix'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.nix')).map((f) => path.join(root, 'nix', f))];
  const named = new Set<string>();
  const computed: string[] = [];
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/dist\/([A-Za-z0-9_.-]+\.[A-Za-z0-9]+)/g)) named.add(m[1]!);
    // A name put together from a variable (`dist/$bundle.mjs`) is one this check cannot see.
    for (const m of text.matchAll(/dist\/\$\S*/g)) computed.push(`${path.relative(root, f)}: ${m[0]}`);
  }
  assert.deepEqual(computed, [], 'bundles are named literally in nix/');
  assert.ok(named.has('aifo.mjs') && named.has('aifo-shim.cjs'), `named: ${[...named].join(', ')}`);
  const missing = [...named].filter((name) => !existsSync(path.join(root, 'dist', name)));
  assert.deepEqual(missing, [], 'named by nix/ but not built');
});
