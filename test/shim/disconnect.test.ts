// The shim when the proxy goes away mid-stream, and its marker files. The "proxy" here is a raw
// socket server that answers like a proxy and then drops the connection.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, runShim, shimBundle, startProxy, tempDir } from '../helpers/proxy.js';

const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

/** A server that sends a v2 head and one chunk, then drops every connection; counts requests. */
async function droppingProxy(t: TestContext): Promise<{ url: string; requests: () => number }> {
  let requests = 0;
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (c) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n\r\n') && !buf.startsWith('done')) {
        requests += 1;
        buf = 'done';
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Exit-Code\r\nX-Exec-Id: x\r\n\r\n6\r\npartia\r\n');
        setImmediate(() => s.destroy());
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as net.AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/exec`, requests: () => requests };
}

for (const [toggle, want] of [[undefined, 0], ['0', 1]] as const) {
  test(`stream cut after it started: disconnect message, exit ${want}${toggle ? ' (AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT=0)' : ''}, /exec sent once`, async (t) => {
    const dp = await droppingProxy(t);
    for (const native of ['1', '0']) {
      const before = dp.requests();
      const r = runShim({ url: dp.url, token: 't', workspace: tempDir(t) }, ['-e', '0'], {
        env: { AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT: toggle, AIFO_SHIM_NATIVE_HTTP: native, AIFO_TOOLCHAIN_VERBOSE: '1' },
      });
      assert.equal((await r.exit).code, want);
      assert.equal(text(r.stdout), 'partia');
      const err = text(r.stderr);
      assert.match(err, /aifo-coder: disconnect, waiting for process termination…\naifo-coder: terminating now\n\n$/);
      assert.equal(dp.requests() - before, 1, `never sends the same /exec twice (native=${native})`);
    }
  });
}

test('markers are written under $HOME/.aifo-exec/<id>/ during the exec and removed after', async (t) => {
  const p = await startProxy(t);
  const home = tempDir(t);
  const r = runShim(p, [fixture('forever.mjs')], { env: { HOME: home, AIFO_EXEC_ID: 'mark-1' } });
  await r.waitFor('pid=');
  const dir = path.join(home, '.aifo-exec', 'mark-1');
  assert.equal(readFileSync(path.join(dir, 'agent_ppid'), 'utf8').trim(), String(process.pid));
  assert.match(readFileSync(path.join(dir, 'agent_tpgid'), 'utf8'), /^-?\d+\n$/);
  assert.equal(existsSync(path.join(dir, 'tty')), false, 'no terminal, no tty marker');
  r.child.kill('SIGINT');
  await r.exit;
  assert.deepEqual(readdirSync(path.join(home, '.aifo-exec')), []);
});

test('with a terminal, the tty and no_shell_on_tty markers name it', async (t) => {
  const p = await startProxy(t);
  const home = tempDir(t);
  const out = path.join(home, 'seen');
  // script(1) gives the shim a real pty; the tool copies the markers out while it runs.
  const copy = `const fs=require('fs');const d='${home}/.aifo-exec/tty-1/';fs.writeFileSync('${out}',JSON.stringify({tty:fs.readFileSync(d+'tty','utf8'),flag:fs.existsSync(d+'no_shell_on_tty')}))`;
  const cmd = `"${process.execPath}" "${shimBundle}" node -e "${copy}"; tty`;
  // Async: the proxy under test lives in this process and must keep serving.
  const child = spawn('script', ['-qec', cmd, '/dev/null'], {
    cwd: p.workspace,
    env: { ...process.env, HOME: home, AIFO_EXEC_ID: 'tty-1', AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token, AIFO_SHIM_KILL_PARENT_SHELL_ON_SIGINT: '0' },
  });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  const status = await new Promise((res) => child.on('close', res));
  const r = { status, stdout };
  assert.equal(r.status, 0, r.stdout);
  assert.ok(existsSync(out), stdout);
  const seen = JSON.parse(readFileSync(out, 'utf8'));
  const ttyName = r.stdout.trim().split(/\r?\n/).pop();
  assert.equal(seen.tty.trim(), ttyName);
  assert.equal(seen.flag, true);
  assert.equal(existsSync(path.join(home, '.aifo-exec', 'tty-1')), false);
});

test('Ctrl-C on a terminal ends the transient `sh -c` parent of the shim; with AIFO_SHIM_KILL_PARENT_SHELL_ON_SIGINT=0 the parent lives on', async (t) => {
  const p = await startProxy(t);
  for (const [toggle, parentLives] of [['1', false], ['0', true]] as const) {
    const home = tempDir(t);
    const pidFile = path.join(home, 'shim.pid');
    // The shim runs in the background of an `sh -c` (what an agent spawns) on script(1)'s pty,
    // so the test can signal the shim alone, as a Ctrl-C forwarded to it would arrive.
    const body = path.join(home, 'parent.sh');
    writeFileSync(body, `"$NODE" "$SHIM" node -e 'console.log("started"); setInterval(() => {}, 1000)' &\necho $! > "$PIDFILE"\nwait $!\necho "after-$?"\n`);
    const child = spawn('script', ['-qec', `exec sh -c '. "$0"' "${body}"`, '/dev/null'], {
      cwd: p.workspace,
      env: { ...process.env, HOME: home, NODE: process.execPath, SHIM: shimBundle, PIDFILE: pidFile, AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token, AIFO_SHIM_KILL_PARENT_SHELL_ON_SIGINT: toggle },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const closed = new Promise((res) => child.on('close', res));
    const deadline = performance.now() + 10_000;
    while (!(out.includes('started') && existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'))) {
      if (performance.now() > deadline) assert.fail(`never started: ${out}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGINT');
    await closed;
    if (parentLives) assert.match(out, /after-0/, out);
    else assert.doesNotMatch(out, /after-/, `the parent shell should have been ended: ${out}`);
  }
});
