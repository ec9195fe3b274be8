// flake.lock holds one real pin of nixpkgs and nothing else (issue 5): a locked GitHub revision of
// NixOS/nixpkgs with its NAR hash and date, on the branch flake.nix names, and a root with exactly
// one input. Nix can fetch nothing here, so this is what CI can hold the lock file to.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

interface LockNode {
  inputs?: Record<string, string | string[]>;
  locked?: Record<string, unknown>;
  original?: Record<string, unknown>;
}
interface Lock {
  nodes: Record<string, LockNode>;
  root: string;
  version: number;
}

const lock = JSON.parse(readFileSync(path.join(root, 'flake.lock'), 'utf8')) as Lock;

describe('flake.lock', () => {
  test('is a version 7 lock file whose root has exactly one input, nixpkgs', () => {
    assert.equal(lock.version, 7);
    assert.equal(lock.root, 'root');
    assert.deepEqual(lock.nodes[lock.root]?.inputs, { nixpkgs: 'nixpkgs' });
    assert.deepEqual(Object.keys(lock.nodes).sort(), ['nixpkgs', 'root']);
  });

  test('pins NixOS/nixpkgs by revision, NAR hash and date', () => {
    const locked = lock.nodes['nixpkgs']?.locked ?? {};
    assert.deepEqual(Object.keys(locked).sort(), ['lastModified', 'narHash', 'owner', 'repo', 'rev', 'type']);
    assert.equal(locked['type'], 'github');
    assert.equal(locked['owner'], 'NixOS');
    assert.equal(locked['repo'], 'nixpkgs');
    assert.match(String(locked['rev']), /^[0-9a-f]{40}$/);
    // SRI sha256: 32 bytes in base64 are 43 characters and one '='.
    assert.match(String(locked['narHash']), /^sha256-[A-Za-z0-9+/]{43}=$/);
    const lastModified = locked['lastModified'];
    assert.ok(Number.isInteger(lastModified), `lastModified ${String(lastModified)} is not an integer`);
    // After NixOS 26.05 branched off (May 2026), not in the future.
    assert.ok((lastModified as number) > Date.UTC(2026, 3, 1) / 1000, 'lastModified predates the 26.05 branch');
    assert.ok((lastModified as number) < Date.now() / 1000, 'lastModified is in the future');
  });

  test('the pin follows the branch flake.nix asks for', () => {
    const original = lock.nodes['nixpkgs']?.original ?? {};
    assert.deepEqual(original, { owner: 'NixOS', ref: 'nixos-26.05', repo: 'nixpkgs', type: 'github' });
    const flake = readFileSync(path.join(root, 'flake.nix'), 'utf8');
    const urls = [...flake.matchAll(/^\s*inputs(?:\.[A-Za-z0-9_-]+)*\.url\s*=\s*"([^"]+)";/gm)].map((m) => m[1]);
    assert.deepEqual(urls, [`github:${String(original['owner'])}/${String(original['repo'])}/${String(original['ref'])}`]);
  });
});
