// The built `aifo` CLI: shims write/check, proxy start-up output, option validation.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import split2 from 'split2';
import { cliBundle, fixture, runShim, shimBundle, tempDir } from '../helpers/proxy.js';
import { proxyReady } from '../helpers/proxy-ready.js';

const aifo = (...args: string[]) => spawnSync(process.execPath, [cliBundle, ...args], { encoding: 'utf8' });

test('aifo shims write lays out a complete dir that shims check accepts; a broken one is reported', (t) => {
  const dir = path.join(tempDir(t), 'bin');
  const w = aifo('shims', 'write', dir, '--node', process.execPath);
  assert.equal(w.status, 0, w.stderr);
  assert.match(w.stdout, /^777 symlink cargo -> aifo-shim$/m);
  assert.equal(aifo('shims', 'check', dir).status, 0);
  // The installed shim dispatches on its symlink name.
  const r = spawnSync(path.join(dir, 'cargo'), ['--version'], { encoding: 'utf8', env: { ...process.env, AIFO_TOOLCHAIN_VERBOSE: '1', AIFO_TOOLEEXEC_URL: 'http://127.0.0.1:1/exec', AIFO_TOOLEEXEC_TOKEN: 't' } });
  assert.equal(r.status, 86);
  assert.match(r.stderr, /^aifo-shim: tool=cargo /m);
  unlinkSync(path.join(dir, 'make'));
  const c = aifo('shims', 'check', dir);
  assert.equal(c.status, 1);
  assert.match(c.stderr, /make/);
  void shimBundle;
});

test('aifo proxy prints URL and token lines, writes a new --token-file 0600, removes its socket on SIGTERM', async (t) => {
  const d = tempDir(t);
  const sock = path.join(d, 'run', 'toolexec.sock');
  const tokenFile = path.join(d, 'token');
  const env = { ...process.env };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const p = spawn(process.execPath, [cliBundle, 'proxy', '--listen', `unix://${sock}`, '--token-file', tokenFile, '--workspace', d], { env });
  const lines: string[] = [];
  await new Promise<void>((resolve) =>
    p.stdout.pipe(split2()).on('data', (l: string) => {
      lines.push(l);
      if (lines.length === 2) resolve();
    }),
  );
  assert.equal(lines[0], `AIFO_TOOLEEXEC_URL=unix://${sock}`);
  assert.match(lines[1]!, /^AIFO_TOOLEEXEC_TOKEN=[0-9a-f]{32}$/);
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  p.kill('SIGTERM');
  const code = await new Promise((r) => p.on('close', r));
  assert.equal(code, 0);
  assert.throws(() => statSync(sock), /ENOENT/);
});

test('bad options and environment give one clear line and exit 2', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['proxy', '--listen', 'ftp://x'], {}, /--listen 'ftp:\/\/x': expected tcp:\/\/HOST:PORT or unix:\/\/\/path\.sock/],
    [['proxy', '--sidecar', 'java=x'], {}, /--sidecar 'java=x'/],
    [['proxy'], { AIFO_TOOLEEXEC_MAX_SECS: 'soon' }, /AIFO_TOOLEEXEC_MAX_SECS='soon' is not a whole number/],
  ];
  for (const [args, env, re] of cases) {
    const r = spawnSync(process.execPath, [cliBundle, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('aifo proxy takes the token from AIFO_TOOLEEXEC_TOKEN, else from an existing --token-file; --socket-mode 660', async (t) => {
  const d = tempDir(t);
  const start = async (args: string[], env: NodeJS.ProcessEnv): Promise<{ url: string; token: string }> => {
    const p = spawn(process.execPath, [cliBundle, 'proxy', '--workspace', d, ...args], { env });
    t.after(() => p.kill('SIGTERM'));
    return proxyReady(p);
  };
  const noToken = { ...process.env };
  delete noToken['AIFO_TOOLEEXEC_TOKEN'];
  const fromEnv = await start([], { ...noToken, AIFO_TOOLEEXEC_TOKEN: 'token-from-the-environment' });
  assert.equal(fromEnv.token, 'token-from-the-environment');
  const tokenFile = path.join(d, 'kept-token');
  writeFileSync(tokenFile, 'token-from-the-file\n', { mode: 0o600 });
  const fromFile = await start(['--token-file', tokenFile], noToken);
  assert.equal(fromFile.token, 'token-from-the-file');
  assert.equal(readFileSync(tokenFile, 'utf8'), 'token-from-the-file\n', 'an existing token file is read, not rewritten');
  const sock = path.join(d, 'group.sock');
  await start(['--listen', `unix://${sock}`, '--socket-mode', '660'], noToken);
  assert.equal(statSync(sock).mode & 0o777, 0o660);
});

test('aifo proxy --max-secs and AIFO_TOOLEEXEC_MAX_SECS stop a tool at its max runtime: exit 124', async (t) => {
  const d = tempDir(t);
  const noToken = { ...process.env };
  delete noToken['AIFO_TOOLEEXEC_TOKEN'];
  for (const [args, env] of [[['--max-secs', '1'], noToken], [[], { ...noToken, AIFO_TOOLEEXEC_MAX_SECS: '1' }]] as const) {
    const p = spawn(process.execPath, [cliBundle, 'proxy', '--workspace', d, ...args], { env });
    t.after(() => p.kill('SIGTERM'));
    const { url, token } = await proxyReady(p);
    const t0 = performance.now();
    const r = runShim({ url, token, workspace: d }, [fixture('forever.mjs')]);
    assert.equal((await r.exit).code, 124, Buffer.concat(r.stderr).toString());
    const secs = (performance.now() - t0) / 1000;
    assert.ok(secs >= 1 && secs < 8, `ended after ${secs.toFixed(1)} s`);
  }
});
