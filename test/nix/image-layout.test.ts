// nix/checks/image-layout.mjs, the checker behind the flake's image-layout checks, run on image
// archives made here: layers packed by GNU tar (pax and gnu formats, as dockerTools' customisation
// layer and Python's tarfile write them), /opt/aifo/bin written by the real layout function, a
// config and manifest.json as dockerTools' stream script writes them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeShimDir } from '../../src/wrappers/layout.js';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const checker = path.join(root, 'nix', 'checks', 'image-layout.mjs');

const H = 'a'.repeat(32);
const NODE = `/nix/store/${H}-nodejs-slim-22.0.0/bin/node`;
const SH = `/nix/store/${'b'.repeat(32)}-bash-interactive-5.2/bin/sh`;
const PASSWD = `/nix/store/${'c'.repeat(32)}-passwd/etc/passwd`;
const GROUP = `/nix/store/${'d'.repeat(32)}-group/etc/group`;
// Longer than ustar's 100-byte name field: needs a pax header or a GNU long-name record.
const LONG = `nix/store/${'e'.repeat(32)}-a-package-with-a-rather-long-name-1.0/share/doc/${'deep/'.repeat(12)}README`;

const ENV = {
  PATH: '/opt/aifo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  SHELL: '/opt/aifo/bin/sh',
  HOME: '/home/coder',
};

let tmp = '';
let shimBundle = '';
let layoutDir = '';
before(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'aifo-image-layout-'));
  shimBundle = path.join(tmp, 'aifo-shim.cjs');
  writeFileSync(shimBundle, '#!/usr/bin/env node\nconsole.log("shim");\n');
  layoutDir = path.join(tmp, 'layout');
  await writeShimDir(layoutDir, { shimBundle, node: NODE, realShells: { sh: SH, bash: SH.replace(/sh$/, 'bash'), dash: SH.replace(/sh$/, 'dash') } });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Layer {
  /** Fills the layer's root directory. */
  fill: (dir: string) => void | Promise<void>;
  format?: 'pax' | 'gnu';
}

function write(file: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

function link(target: string, at: string): void {
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at);
}

function tar(args: string[]): void {
  const r = spawnSync('tar', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `tar ${args.join(' ')}: ${r.stderr}`);
}

const storeLayer: Layer = {
  format: 'pax',
  fill: (d) => {
    write(path.join(d, NODE), 'ELF node', 0o555);
    write(path.join(d, SH), '#!bash', 0o555);
    write(path.join(d, PASSWD), 'root:x:0:0:root user:/var/empty:/bin/sh\ncoder:x:1000:1000:coder:/home/coder:/opt/aifo/bin/sh\n');
    write(path.join(d, GROUP), 'root:x:0:\ncoder:x:1000:\n');
    write(path.join(d, LONG), 'long');
  },
};

function customisation(change: (d: string) => void = () => {}): Layer {
  return {
    format: 'gnu',
    fill: async (d) => {
      await writeShimDir(path.join(d, 'opt/aifo/bin'), {
        shimBundle,
        node: NODE,
        realShells: { sh: SH, bash: SH.replace(/sh$/, 'bash'), dash: SH.replace(/sh$/, 'dash') },
      });
      link(PASSWD, path.join(d, 'etc/passwd'));
      link(GROUP, path.join(d, 'etc/group'));
      link(SH, path.join(d, 'bin/sh'));
      for (const w of ['tmp', 'home/coder']) {
        mkdirSync(path.join(d, w), { recursive: true });
        chmodSync(path.join(d, w), 0o1777);
      }
      change(d);
    },
  };
}

let seq = 0;
/** Packs layers into an image archive like dockerTools' stream: layers, config, manifest.json. */
async function image(layers: Layer[], config: Record<string, unknown> = {}): Promise<Buffer> {
  const work = path.join(tmp, `image-${seq++}`);
  const out = path.join(work, 'out');
  mkdirSync(out, { recursive: true });
  const names: string[] = [];
  for (const [i, l] of layers.entries()) {
    const dir = path.join(work, `layer-${i}`);
    mkdirSync(dir, { recursive: true });
    await l.fill(dir);
    const file = path.join(work, `layer-${i}.tar`);
    tar([`--format=${l.format ?? 'pax'}`, '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@1', '-C', dir, '-cf', file, '.']);
    const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
    mkdirSync(path.join(out, digest));
    writeFileSync(path.join(out, digest, 'layer.tar'), readFileSync(file));
    names.push(`${digest}/layer.tar`);
  }
  const cfg = JSON.stringify({
    created: '1970-01-01T00:00:01+00:00',
    config: { Env: Object.entries(ENV).map(([k, v]) => `${k}=${v}`), Cmd: ['/bin/bash'], Labels: { 'org.aifo.image': 'agent' } },
    ...config,
  });
  const cfgName = `${createHash('sha256').update(cfg).digest('hex')}.json`;
  writeFileSync(path.join(out, cfgName), cfg);
  writeFileSync(path.join(out, 'manifest.json'), JSON.stringify([{ Config: cfgName, RepoTags: ['aifo-agent:nix'], Layers: names }]));
  const archive = path.join(work, 'image.tar');
  tar(['--format=pax', '-C', out, '-cf', archive, ...names, cfgName, 'manifest.json']);
  return readFileSync(archive);
}

const baseExpect = {
  repoTag: 'aifo-agent:nix',
  created: '1970-01-01T00:00:01Z',
  env: ENV,
  cmd: ['/bin/bash'],
  labels: { 'org.aifo.image': 'agent' },
  dirs: { '/tmp': '1777', '/home/coder': '1777' },
  users: { coder: { uid: 1000, gid: 1000, home: '/home/coder' } },
  paths: ['/bin/sh', `/${LONG}`],
  shimDir: '/opt/aifo/bin',
  tools: ['cargo', 'node', 'python3', 'go', 'make', 'say'],
  wrappers: ['sh', 'bash', 'dash'],
  shebang: `#!${NODE}`,
  requireStore: ['nodejs-slim-22'],
  forbidStore: ['^[0-9a-z]{32}-curl-'],
  maxBytes: 1024 * 1024,
  maxStorePaths: 10,
};

function run(archive: Buffer, expect: Record<string, unknown>): { status: number | null; stdout: string; stderr: string } {
  const file = path.join(tmp, `expect-${seq++}.json`);
  writeFileSync(file, JSON.stringify(expect));
  const r = spawnSync(process.execPath, [checker, '--expect', file], { input: archive, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('nix/checks/image-layout.mjs', () => {
  test('an image laid out by the layout function passes, pax and gnu layers alike', async () => {
    const r = run(await image([storeLayer, customisation()]), { ...baseExpect, layoutFrom: layoutDir });
    assert.equal(r.stderr, '');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^aifo-agent:nix: 2 layers, \d+ entries, 5 store paths, 0\.0 MiB\n$/);
  });

  test('a tool that is not a symlink to aifo-shim fails, naming the tool', async () => {
    const broken = customisation((d) => {
      unlinkSync(path.join(d, 'opt/aifo/bin/cargo'));
      write(path.join(d, 'opt/aifo/bin/cargo'), '#!/bin/sh\nexec aifo-shim cargo "$@"\n', 0o755);
    });
    const r = run(await image([storeLayer, broken]), { ...baseExpect, layoutFrom: layoutDir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /opt\/aifo\/bin\/cargo: is a file, expected a symlink to aifo-shim/);
    assert.match(r.stderr, /opt\/aifo\/bin\/cargo: expected a symlink to aifo-shim, got a file/);
  });

  test('/tmp without the sticky world-writable mode fails', async () => {
    const r = run(await image([storeLayer, customisation((d) => chmodSync(path.join(d, 'tmp'), 0o755))]), baseExpect);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/tmp: mode 0755, expected 1777/);
  });

  test('Env, Cmd, labels and the creation date are compared with the config', async () => {
    const archive = await image([storeLayer, customisation()], { created: '2026-01-01T00:00:00Z' });
    const r = run(archive, { ...baseExpect, env: { ...ENV, SHELL: '/bin/bash' }, cmd: ['sleep', 'infinity'], labels: { 'org.aifo.image': 'toolchain' } });
    assert.equal(r.status, 1);
    for (const re of [/Env SHELL is "\/opt\/aifo\/bin\/sh", expected "\/bin\/bash"/, /Cmd is \["\/bin\/bash"\]/, /label org\.aifo\.image/, /config\.created is 2026/]) {
      assert.match(r.stderr, re);
    }
  });

  test('forbidden store paths and budgets fail; a whiteout in a later layer removes a path', async () => {
    const curl: Layer = { fill: (d) => write(path.join(d, `nix/store/${'f'.repeat(32)}-curl-8.0/bin/curl`), Buffer.alloc(2 * 1024 * 1024), 0o555) };
    const withCurl = await image([storeLayer, curl, customisation()]);
    const r = run(withCurl, baseExpect);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /store paths matching \/\^\[0-9a-z\]\{32\}-curl-\/ must not be in the image: f{32}-curl-8\.0/);
    assert.match(r.stderr, /2\.0 MiB of files, budget 1\.0 MiB/);

    const whiteout: Layer = { fill: (d) => write(path.join(d, `nix/store/.wh.${'f'.repeat(32)}-curl-8.0`), '') };
    const removed = run(await image([storeLayer, curl, whiteout, customisation()]), baseExpect);
    assert.equal(removed.stderr, '');
    assert.equal(removed.status, 0);
  });

  test('an entry the layout function did not write is reported', async () => {
    const extra = customisation((d) => write(path.join(d, 'opt/aifo/bin/curl'), '#!/bin/sh\n', 0o755));
    const r = run(await image([storeLayer, extra]), { ...baseExpect, layoutFrom: layoutDir });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/opt\/aifo\/bin: curl not written by the layout function/);
  });

  test('a missing user, a missing path and a wrong shebang are reported', async () => {
    const r = run(await image([storeLayer, customisation()]), {
      ...baseExpect,
      users: { agent: { uid: 1001, gid: 1001, home: '/home/agent' } },
      paths: ['/usr/bin/env'],
      shebang: '#!/usr/bin/node',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /\/etc\/passwd has no user agent/);
    assert.match(r.stderr, /\/usr\/bin\/env: missing/);
    assert.match(r.stderr, /aifo-shim starts with "#!\/nix\/store\/a{32}-nodejs-slim-22\.0\.0\/bin\/node", expected "#!\/usr\/bin\/node"/);
  });

  test('input that is not an image archive exits 2 with one message', () => {
    const r = run(Buffer.from('not a tar archive\n'.repeat(100)), baseExpect);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^image-layout: cannot read the image archive: /);
  });
});
