import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AifoError } from '../../src/protocol/errors.js';
import { allShimTools } from '../../src/protocol/tools.js';
import { checkShimDir, writeShimDir, type LayoutEntry } from '../../src/wrappers/layout.js';
import { program } from '../helpers/programs.js';

let tmp = '';
let bundle = '';
before(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'aifo-layout-'));
  // A stand-in for dist/aifo-shim.cjs: prints the name it was called by, as the shim reads it.
  bundle = path.join(tmp, 'bundle.mjs');
  writeFileSync(bundle, '#!/usr/bin/env node\nconsole.log(process.argv[1].split("/").pop(), process.argv.slice(2).join(","));\n');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

let seq = 0;
const freshDir = (): string => path.join(tmp, `bin-${seq++}`);

/** What is on disk, in the shape writeShimDir returns. */
function listing(dir: string): LayoutEntry[] {
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const st = lstatSync(path.join(dir, name));
      return st.isSymbolicLink()
        ? { name, type: 'symlink' as const, mode: st.mode & 0o7777, target: readlinkSync(path.join(dir, name)) }
        : { name, type: 'file' as const, mode: st.mode & 0o7777 };
    });
}

describe('writeShimDir', () => {
  test('protocol rule: aifo-shim, a symlink for every routed tool and say, wrappers sh bash dash', async () => {
    const dir = freshDir();
    const entries = await writeShimDir(dir, { shimBundle: bundle });
    const want = ['aifo-shim', 'bash', 'dash', 'sh', ...allShimTools()].sort();
    assert.deepEqual(entries.map((e) => e.name), want);
    assert.ok(allShimTools().includes('say'));
    for (const e of entries) {
      if (e.type === 'symlink') assert.equal(e.target, 'aifo-shim', e.name);
      else assert.equal(e.mode, 0o755, e.name);
    }
    assert.deepEqual(entries.filter((e) => e.type === 'file').map((e) => e.name), ['aifo-shim', 'bash', 'dash', 'sh']);
    // What it returns is what is on disk, and nothing else is there (no temporary files).
    assert.deepEqual(listing(dir), entries);
    assert.equal(lstatSync(dir).mode & 0o7777, 0o755);
  });

  test('entries are sorted and every mtime, the directory\'s too, is fixed', async () => {
    const dir = freshDir();
    const entries = await writeShimDir(dir, { shimBundle: bundle, mtime: 1_700_000_000 });
    const names = entries.map((e) => e.name);
    assert.deepEqual(names, [...names].sort());
    for (const name of ['.', ...names]) {
      assert.equal(lstatSync(path.join(dir, name)).mtimeMs, 1_700_000_000_000, name);
    }
    const dir0 = freshDir();
    await writeShimDir(dir0, { shimBundle: bundle });
    assert.equal(lstatSync(path.join(dir0, 'cargo')).mtimeMs, 0);
    assert.equal(lstatSync(dir0).mtimeMs, 0);
  });

  test('reproducible: a second run into a fresh directory gives the same listing and bytes', async () => {
    const a = freshDir();
    const b = freshDir();
    const opts = { shimBundle: bundle, node: '/nix/store/abc-nodejs-20/bin/node' };
    assert.deepEqual(await writeShimDir(a, opts), await writeShimDir(b, opts));
    assert.deepEqual(listing(a), listing(b));
    for (const name of ['aifo-shim', 'sh', 'bash', 'dash']) {
      assert.ok(readFileSync(path.join(a, name)).equals(readFileSync(path.join(b, name))), name);
    }
  });

  test('rewriting an existing directory replaces entries in place', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle });
    rmSync(path.join(dir, 'cargo'));
    rmSync(path.join(dir, 'npm'));
    symlinkSync('elsewhere', path.join(dir, 'npm'));
    chmodSync(path.join(dir, 'sh'), 0o644);
    const entries = await writeShimDir(dir, { shimBundle: bundle });
    assert.deepEqual(listing(dir), entries);
    assert.deepEqual(await checkShimDir(dir), []);
  });

  test('aifo-shim gets the node shebang in place of the bundle\'s own', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle, node: '/opt/node/bin/node' });
    const text = readFileSync(path.join(dir, 'aifo-shim'), 'utf8');
    assert.equal(text, readFileSync(bundle, 'utf8').replace('#!/usr/bin/env node\n', '#!/opt/node/bin/node\n'));

    const bare = path.join(tmp, 'bare.mjs');
    writeFileSync(bare, 'console.log(1);\n');
    const dir2 = freshDir();
    await writeShimDir(dir2, { shimBundle: bare });
    assert.equal(readFileSync(path.join(dir2, 'aifo-shim'), 'utf8'), '#!/usr/bin/node\nconsole.log(1);\n');
  });

  test('checkShimDir refuses a shim that looks node up on PATH (in /opt/aifo/bin that is the shim itself)', async () => {
    for (const node of ['/usr/bin/env node', '/usr/bin/env -S node', '/bin/env node --flag']) {
      const dir = freshDir();
      await writeShimDir(dir, { shimBundle: bundle, node });
      const problems = await checkShimDir(dir);
      assert.equal(problems.length, 1, `${node}: ${problems.join('; ')}`);
      assert.match(problems[0]!, /^aifo-shim: its #! line looks node up on PATH .* write it with --node \/usr\/bin\/node/);
    }
    const ok = freshDir();
    await writeShimDir(ok, { shimBundle: bundle, node: '/nix/store/abc-nodejs-slim-22/bin/node' });
    assert.deepEqual(await checkShimDir(ok), []);
  });

  test('protocol rule: a tool symlink keeps the tool name in argv (the shim routes by it)', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle, node: process.execPath });
    const r = spawnSync(path.join(dir, 'cargo'), ['build', '--release'], { encoding: 'utf8' });
    assert.equal(r.stdout, 'cargo build,--release\n', r.stderr);
  });

  test('the wrappers name the real shells given, and the real sh runs them', async () => {
    const dir = freshDir();
    const realShells = { sh: program('dash'), bash: program('bash'), dash: program('dash') };
    await writeShimDir(dir, { shimBundle: bundle, realShells });
    for (const [name, real] of Object.entries(realShells)) {
      const text = readFileSync(path.join(dir, name), 'utf8');
      assert.ok(text.startsWith('#!/usr/bin/dash\n'), name);
      assert.ok(text.includes(`\naifo_real='${real}'\n`), name);
    }
    // Run through their shebang lines, as PATH lookups of sh and bash will in the agent.
    const sh = spawnSync(path.join(dir, 'sh'), ['-c', 'printf "%s\\n" "$1"', '_', 'a b'], { encoding: 'utf8' });
    assert.equal(sh.stdout, 'a b\n', sh.stderr);
    const bash = spawnSync(path.join(dir, 'bash'), ['-c', 'echo "$BASH_VERSION" | grep -q . && exit 7'], { encoding: 'utf8' });
    assert.equal(bash.status, 7, bash.stderr);
  });

  test('defaults are /bin/sh, /bin/bash, /bin/dash', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle });
    for (const name of ['sh', 'bash', 'dash']) {
      const text = readFileSync(path.join(dir, name), 'utf8');
      assert.ok(text.startsWith('#!/bin/sh\n'), name);
      assert.ok(text.includes(`\naifo_real='/bin/${name}'\n`), name);
    }
  });

  const bad: Array<[string, object, RegExp]> = [
    ['a relative real shell', { realShells: { bash: 'bash' } }, /realShells\.bash: expected an absolute path/],
    ['a quote in a real shell path', { realShells: { sh: "/bin/s'h" } }, /realShells\.sh:/],
    ['a blank in a real shell path', { realShells: { dash: '/bin/da sh' } }, /realShells\.dash:/],
    ['a relative node', { node: 'node' }, /node: expected an absolute interpreter/],
    ['a node path over the shebang limit', { node: `/${'n'.repeat(200)}` }, /node: /],
    ['a fractional mtime', { mtime: 1.5 }, /mtime: /],
  ];
  for (const [name, opts, message] of bad) {
    test(`refuses ${name}, naming the option, before writing anything`, async () => {
      const dir = freshDir();
      await assert.rejects(writeShimDir(dir, { shimBundle: bundle, ...opts }), (err: unknown) => {
        assert.ok(err instanceof AifoError);
        assert.equal(err.code, 'AIFO_E_CONFIG');
        assert.match(err.message, message);
        return true;
      });
      assert.throws(() => lstatSync(dir), { code: 'ENOENT' });
    });
  }
});

describe('checkShimDir', () => {
  test('a fresh directory has no problems', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle });
    assert.deepEqual(await checkShimDir(dir), []);
  });

  test('reports a removed symlink, a wrong target, a file in place of a link, a non-executable file', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle });
    rmSync(path.join(dir, 'cargo'));
    rmSync(path.join(dir, 'npm'));
    symlinkSync('/usr/bin/npm', path.join(dir, 'npm'));
    rmSync(path.join(dir, 'pip'));
    writeFileSync(path.join(dir, 'pip'), '#!/bin/sh\nexec "$(dirname "$0")/aifo-shim" "$@"\n', { mode: 0o755 });
    chmodSync(path.join(dir, 'sh'), 0o644);
    chmodSync(path.join(dir, 'aifo-shim'), 0o700);
    assert.deepEqual(await checkShimDir(dir), [
      'aifo-shim: not executable by everyone (mode 700, expected 755)',
      'sh: not executable by everyone (mode 644, expected 755)',
      'cargo: missing symlink to aifo-shim',
      'npm: points to /usr/bin/npm, expected aifo-shim',
      'pip: not a symlink (expected pip -> aifo-shim; the shim needs the tool name in argv)',
    ]);
  });

  test('reports a missing wrapper, an unfilled wrapper and a missing directory', async () => {
    const dir = freshDir();
    await writeShimDir(dir, { shimBundle: bundle });
    rmSync(path.join(dir, 'dash'));
    writeFileSync(path.join(dir, 'bash'), readFileSync(new URL('../../../src/wrappers/sh', import.meta.url)));
    assert.deepEqual(await checkShimDir(dir), [
      'bash: unfilled placeholder (write it with writeShimDir)',
      'dash: missing (shell wrapper)',
    ]);
    assert.deepEqual(await checkShimDir(path.join(tmp, 'nope')), [`${path.join(tmp, 'nope')}: not a directory`]);
  });
});
