// The shim bundle against a real proxy: output, exit codes, transports, curl, errors.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fixture, groupAlive, hashStdout, parsePidLine, runShim, startProxy, tempDir } from '../helpers/proxy.js';
import { program } from '../helpers/programs.js';

const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

for (const unix of [false, true]) {
  const via = unix ? 'UDS' : 'TCP';
  test(`exit codes 0, 1, 3, 127 and death by signal through the shim (${via})`, async (t) => {
    const p = await startProxy(t, { unix });
    for (const [arg, want] of [['0', 0], ['1', 1], ['3', 3], ['127', 127], ['SIGKILL', 137], ['SIGTERM', 143]] as const) {
      const r = runShim(p, [fixture('exit-with.mjs'), arg]);
      assert.equal((await r.exit).code, want, `exit-with ${arg}`);
    }
  });

  test(`stdout and stderr arrive merged in order (${via})`, async (t) => {
    const p = await startProxy(t, { unix });
    const r = runShim(p, [fixture('stderr-then-stdout.mjs')]);
    assert.equal((await r.exit).code, 0);
    const want = Array.from({ length: 50 }, (_, i) => `${i % 2 ? 'out' : 'err'} ${i}\n`).join('');
    assert.equal(text(r.stdout), want);
  });
}

test('unix socket is 0600 in a 0700 directory, a stale one is replaced, and it is removed on close', async (t) => {
  const p = await startProxy(t, { unix: true });
  assert.equal(p.addr.type, 'unix');
  const sock = p.addr.type === 'unix' ? p.addr.path : '';
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  assert.equal(statSync(sock.replace(/\/[^/]+$/, '')).mode & 0o777, 0o700);
  await p.close();
  assert.equal(existsSync(sock), false);
});

test('arguments with spaces, quotes, UTF-8 and shell metacharacters arrive unchanged; cwd is used', async (t) => {
  const p = await startProxy(t);
  const sub = tempDir(undefined);
  const args = ['a b', `it's "q"`, 'é ü 漢字 🙂', '$(id)', '; rm -rf /', '', '%41+&=', '\\n'];
  const r = runShim({ ...p, workspace: p.workspace }, [fixture('print-args.mjs'), ...args]);
  assert.equal((await r.exit).code, 0);
  const got = JSON.parse(text(r.stdout));
  assert.deepEqual(got.args, args);
  assert.equal(got.cwd, p.workspace);
  void sub;
});

test('all 256 byte values pass through unchanged', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, [fixture('bytes.mjs'), String(256 * 1024 + 17)]);
  assert.equal((await r.exit).code, 0);
  const direct = spawn(process.execPath, [fixture('bytes.mjs'), String(256 * 1024 + 17)]);
  const parts: Buffer[] = [];
  direct.stdout.on('data', (c: Buffer) => parts.push(c));
  await new Promise((r2) => direct.on('close', r2));
  assert.ok(Buffer.concat(r.stdout).equals(Buffer.concat(parts)));
});

test('100 MB of output through the shim is byte-identical to the direct run', async (t) => {
  const p = await startProxy(t);
  const size = String(100 * 1000 * 1000);
  const hashOf = (child: ReturnType<typeof spawn>): Promise<[string, number]> =>
    new Promise((resolve) => {
      const h = createHash('sha256');
      let n = 0;
      child.stdout!.on('data', (c: Buffer) => {
        h.update(c);
        n += c.length;
      });
      child.on('close', () => resolve([h.digest('hex'), n]));
    });
  const direct = await hashOf(spawn(process.execPath, [fixture('bytes.mjs'), size]));
  const r = runShim(p, [fixture('bytes.mjs'), size]);
  const got = hashStdout(r);
  assert.equal((await r.exit).code, 0);
  assert.equal((await got).bytes, direct[1]);
  assert.equal((await got).hash, direct[0]);
});

test('curl fallback: Ctrl-C reaches the group through curl\'s /signal, over TCP and the unix socket', async (t) => {
  // A `curl` first on PATH that logs each URL it is given, then runs the real one.
  const bin = tempDir(t);
  const log = path.join(bin, 'calls');
  writeFileSync(path.join(bin, 'curl'), `#!/bin/sh\nfor a; do case $a in http*) echo "$a" >> "${log}";; esac; done\nexec "${program('curl')}" "$@"\n`, { mode: 0o755 });
  for (const unix of [false, true]) {
    const p = await startProxy(t, { unix });
    const r = runShim(p, [fixture('forever.mjs')], { env: { AIFO_SHIM_NATIVE_HTTP: '0', PATH: `${bin}:${process.env['PATH']}` } });
    const { pgid } = parsePidLine(await r.waitFor('pid='));
    r.child.kill('SIGINT');
    assert.equal((await r.exit).code, 0, text(r.stderr));
    assert.equal(groupAlive(pgid), false, 'the group is gone');
    const calls = readFileSync(log, 'utf8').trim().split('\n').slice(-2);
    assert.match(calls[0]!, /\/exec$/);
    assert.match(calls[1]!, /\/signal$/, calls.join(' '));
  }
});

test('curl fallback: a Ctrl-C to the whole process group (as a terminal sends it) does not cut the exchange', async (t) => {
  const p = await startProxy(t);
  // Its own process group, so the test can signal shim and curl together.
  const r = runShim(p, [fixture('forever.mjs')], { env: { AIFO_SHIM_NATIVE_HTTP: '0' }, detached: true });
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  process.kill(-r.child.pid!, 'SIGINT');
  assert.equal((await r.exit).code, 0, text(r.stderr));
  assert.doesNotMatch(text(r.stderr), /disconnect/, 'curl stayed attached until the group was gone');
  assert.equal(groupAlive(pgid), false);
});

test('curl fallback (AIFO_SHIM_NATIVE_HTTP=0): output, exit code, errors, unix socket', async (t) => {
  for (const unix of [false, true]) {
    const p = await startProxy(t, { unix });
    const env = { AIFO_SHIM_NATIVE_HTTP: '0' };
    const r = runShim(p, [fixture('stderr-then-stdout.mjs')], { env });
    assert.equal((await r.exit).code, 0, text(r.stderr));
    assert.match(text(r.stdout), /^err 0\nout 1\n/);
    const r3 = runShim(p, [fixture('exit-with.mjs'), '3'], { env });
    assert.equal((await r3.exit).code, 3);
    const bad = runShim(p, [], { env, tool: 'rm' });
    assert.equal((await bad.exit).code, 86);
    assert.equal(text(bad.stdout), '');
    assert.match(text(bad.stderr), /forbidden: tool 'rm' is not allowed/);
  }
  const gone = runShim({ url: 'http://127.0.0.1:1/exec', token: 't', workspace: '/tmp' }, ['-e', '0'], { env: { AIFO_SHIM_NATIVE_HTTP: '0' } });
  assert.equal((await gone.exit).code, 86);
  assert.match(text(gone.stderr), /^aifo-shim: cannot reach the proxy at http:\/\/127\.0\.0\.1:1\/exec: /);
});

test('the token never reaches curl argv', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, [fixture('forever.mjs')], { env: { AIFO_SHIM_NATIVE_HTTP: '0' } });
  await r.waitFor('pid=');
  const ps = spawn('ps', ['-eo', 'args']);
  let out = '';
  ps.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((res) => ps.on('close', res));
  assert.ok(out.includes('curl'), 'curl is running');
  assert.ok(!out.includes(p.token), 'token not in any process list entry');
  r.child.kill('SIGINT');
  await r.exit;
});

test('missing URL or token, bad URL, unreachable proxy, wrong token: one clear line, exit 86', async (t) => {
  const p = await startProxy(t);
  const cases: [Record<string, string | undefined>, RegExp][] = [
    [{ AIFO_TOOLEEXEC_URL: undefined }, /AIFO_TOOLEEXEC_URL is not set/],
    [{ AIFO_TOOLEEXEC_TOKEN: undefined }, /AIFO_TOOLEEXEC_TOKEN is not set/],
    [{ AIFO_TOOLEEXEC_URL: 'ftp://x/exec' }, /scheme 'ftp:' not supported/],
    [{ AIFO_TOOLEEXEC_URL: 'http://127.0.0.1:1/exec' }, /cannot reach the proxy at http:\/\/127\.0\.0\.1:1\/exec: ECONNREFUSED/],
    [{ AIFO_TOOLEEXEC_URL: 'unix:///nonexistent/x.sock' }, /cannot reach the proxy at unix:\/\/\/nonexistent\/x\.sock: ENOENT/],
    [{ AIFO_EXEC_ID: '../x' }, /AIFO_EXEC_ID/],
  ];
  for (const [env, re] of cases) {
    const r = runShim(p, ['-e', '0'], { env });
    assert.equal((await r.exit).code, 86, re.source);
    const err = text(r.stderr);
    assert.match(err, re);
    assert.equal(err.trim().split('\n').length, 1, `one line: ${err}`);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  }
  const wrong = runShim({ ...p, token: 'nope' }, ['-e', '0']);
  assert.equal((await wrong.exit).code, 86);
  assert.equal(text(wrong.stderr), 'unauthorized\n');
});

test('verbose shim lines are exactly the protocol document\'s, and never show the token', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, ['-e', '0'], { env: { AIFO_TOOLCHAIN_VERBOSE: '1', AIFO_EXEC_ID: 'golden-1' } });
  assert.equal((await r.exit).code, 0);
  assert.deepEqual(text(r.stderr).split('\n').filter(Boolean), [
    `aifo-shim: tool=node cwd=${p.workspace} exec_id=golden-1`,
    `aifo-shim: preparing request to ${p.url} (proto=2)`,
  ]);
  assert.ok(!text(r.stderr).includes(p.token));
  assert.ok(!p.logs.join('\n').includes(p.token), 'proxy log never shows the token');
});

test('the pgid is recorded under $HOME/.aifo-exec/<ExecId>/pgid and removed when the exec ends', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, [fixture('forever.mjs')], { env: { AIFO_EXEC_ID: 'pgid-check' } });
  const line = await r.waitFor('pid=');
  const m = /pid=(\d+) pgid=(\d+)/.exec(line)!;
  assert.equal(m[1], m[2], 'the tool leads its own process group (pid == pgid)');
  const file = `${p.execRoot}/pgid-check/pgid`;
  assert.equal(readFileSync(file, 'utf8').trim(), m[1]);
  r.child.kill('SIGINT');
  assert.equal((await r.exit).code, 0);
  assert.equal(existsSync(`${p.execRoot}/pgid-check`), false);
});

test('EPIPE on the shim\'s stdout (`aifo-shim … | head -1`) stops the tool', async (t) => {
  const p = await startProxy(t);
  const child = spawn('sh', ['-c', `"${process.execPath}" "${fixture('../../dist/aifo-shim.cjs')}" node "${fixture('bytes.mjs')}" 1000000000 | head -c 10 >/dev/null; echo "\${PIPESTATUS:-done}"`], {
    cwd: p.workspace,
    env: { ...process.env, AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token },
  });
  const t0 = performance.now();
  await new Promise((res) => child.on('close', res));
  assert.ok(performance.now() - t0 < 5000, 'shim ended promptly after its reader left');
  // The proxy saw the client go and stopped the tool.
  while (p.proxy.registry.size > 0) await new Promise((res) => setTimeout(res, 20));
  assert.ok(p.logs.includes('aifo-coder: disconnect'));
});
