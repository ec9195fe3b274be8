// Fault suite (issue 7 item 1): the proxy and the shim under crashes, stops and client faults,
// with real processes; the proxy runs as the CLI bundle where its death is the fault.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import split2 from 'split2';
import { buildRequest, cliBundle, connect, fixture, groupAlive, nodeExec, parsePidLine, runShim, startProxy, tempDir, waitGroupGone } from '../helpers/proxy.js';
import { proxyReady } from '../helpers/proxy-ready.js';

const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

interface ChildProxy {
  child: ChildProcess;
  url: string;
  token: string;
  stderr: string[];
  /** Exit code once the proxy process has closed; listened for from spawn on, so never missed. */
  closed: Promise<number | null>;
}

async function proxyChild(t: TestContext, args: string[], home: string): Promise<ChildProxy> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const child = spawn(process.execPath, [cliBundle, 'proxy', '--verbose', ...args], { env });
  const closed = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  t.after(() => child.kill('SIGKILL'));
  const stderr: string[] = [];
  child.stderr!.pipe(split2()).on('data', (l: string) => stderr.push(l));
  const ready = await proxyReady(child);
  return { child, url: ready.url, token: ready.token, stderr, closed };
}

test('proxy SIGKILLed mid-stream: the shim follows the disconnect rules promptly; a restart on the same socket works at once', async (t) => {
  const home = tempDir(t);
  const workspace = tempDir(t);
  const sock = path.join(tempDir(t), 'run', 'toolexec.sock');
  const first = await proxyChild(t, ['--listen', `unix://${sock}`, '--workspace', workspace], home);
  const r = runShim({ url: first.url, token: first.token, workspace }, [fixture('forever.mjs')]);
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  const t0 = performance.now();
  first.child.kill('SIGKILL');
  assert.equal((await r.exit).code, 0, 'disconnect: exit 0 by default');
  assert.ok(performance.now() - t0 < 3000, 'the shim noticed at once');
  assert.match(text(r.stderr), /aifo-coder: disconnect, waiting for process termination…/);
  assert.ok(existsSync(sock), 'a SIGKILLed proxy leaves its socket file');
  const second = await proxyChild(t, ['--listen', `unix://${sock}`, '--workspace', workspace], home);
  const ok = runShim({ url: second.url, token: second.token, workspace }, ['-e', 'process.stdout.write("again")']);
  assert.equal((await ok.exit).code, 0);
  assert.equal(text(ok.stdout), 'again');
  await waitGroupGone(pgid, 3000); // the restarted proxy stopped the orphan
  second.child.kill('SIGTERM');
  await second.closed;
  assert.equal(existsSync(sock), false, 'SIGTERM removes the socket');
});

test('proxy SIGTERMed while execs run: they are escalated, their clients get a final answer, the socket is removed', async (t) => {
  const home = tempDir(t);
  const workspace = tempDir(t);
  const sock = path.join(tempDir(t), 'toolexec.sock');
  const p = await proxyChild(t, ['--listen', `unix://${sock}`, '--workspace', workspace], home);
  const runs = [runShim({ url: p.url, token: p.token, workspace }, [fixture('forever.mjs')]), runShim({ url: p.url, token: p.token, workspace }, [fixture('forever.mjs'), 'ignore-int'])];
  const groups = await Promise.all(runs.map(async (r) => parsePidLine(await r.waitFor('pid=')).pgid));
  p.child.kill('SIGTERM');
  const codes = await Promise.all(runs.map(async (r) => (await r.exit).code));
  assert.deepEqual(codes, [130, 143], 'INT ends the first (128+2); the second ignores INT and TERM ends it (128+15)');
  for (const g of groups) assert.equal(groupAlive(g), false);
  // The proxy may be gone before the shims report: its close was listened for from spawn on.
  assert.equal(await p.closed, 0);
  assert.equal(existsSync(sock), false, 'the socket is removed');
});

test('client gone before headers, mid-body or mid-stream: no exec, no process left', async (t) => {
  const p = await startProxy(t);
  const marker = path.join(p.workspace, 'ran');
  const form = nodeExec(p, ['-e', `require('fs').writeFileSync(${JSON.stringify(marker)}, 'x'); setInterval(() => {}, 1000)`]);
  const full = buildRequest(p, { form });
  const headEnd = full.indexOf('\r\n\r\n') + 4;
  for (const cut of [10, headEnd - 2, headEnd + 5]) {
    const s = connect(p.addr);
    await new Promise<void>((res) => s.once('connect', () => res()));
    s.write(full.subarray(0, cut));
    await new Promise((res) => setTimeout(res, 100));
    s.destroy();
  }
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(p.proxy.registry.size, 0);
  assert.equal(existsSync(marker), false, 'an incomplete request never runs');
  // Mid-stream, with a tool that ignores INT and TERM: KILL (at 1.5 s) ends it.
  const r = runShim(p, [fixture('forever.mjs'), 'ignore-int', 'ignore-term']);
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  r.child.kill('SIGKILL');
  assert.ok((await waitGroupGone(pgid, 2500)) < 2500);
});

test('disk full on the client side: the shim exits 1 at once with one line, and the tool is stopped', async (t) => {
  const p = await startProxy(t);
  const child = spawn('sh', ['-c', `"${process.execPath}" "${path.join(path.dirname(cliBundle), 'aifo-shim.cjs')}" node "${fixture('bytes.mjs')}" 100000000000 > /dev/full`], {
    cwd: p.workspace,
    env: { ...process.env, AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token },
  });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const t0 = performance.now();
  const code = await new Promise((res) => child.on('close', res));
  assert.equal(code, 1);
  assert.ok(performance.now() - t0 < 5000);
  assert.match(err, /^aifo-shim: cannot write the output \(ENOSPC\); the tool was stopped\n$/);
  while (p.proxy.registry.size > 0) await new Promise((res) => setTimeout(res, 20));
  assert.ok(p.logs.includes('aifo-coder: disconnect'));
});

test('EPIPE (`aifo-shim … | head -1`): first line arrives, the shim ends, the tool is stopped', async (t) => {
  const p = await startProxy(t);
  const child = spawn('sh', ['-c', `"${process.execPath}" "${path.join(path.dirname(cliBundle), 'aifo-shim.cjs')}" node -e "setInterval(() => console.log('line'), 5)" | head -1`], {
    cwd: p.workspace,
    env: { ...process.env, AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise((res) => child.on('close', res));
  assert.equal(out, 'line\n');
  while (p.proxy.registry.size > 0) await new Promise((res) => setTimeout(res, 20));
});

/**
 * A c-cpp sidecar for this test, removed after it, over a fresh world-writable workspace that
 * holds `makefile` (make is the allowed tool that runs a long sleep there).
 */
async function cppSidecar(t: TestContext, session: string, makefile: string): Promise<{ workspace: string; sidecar: string }> {
  const { sidecarUp, sidecarDown } = await import('../../src/sidecar/index.js');
  const workspace = tempDir(t);
  chmodSync(workspace, 0o777);
  writeFileSync(path.join(workspace, 'Makefile'), makefile);
  const up = await sidecarUp({ kinds: ['c-cpp'], workspace, session, uid: process.getuid!(), gid: process.getgid!() });
  t.after(() => sidecarDown({ session }).catch(() => undefined));
  return { workspace, sidecar: up.sidecars['c-cpp']! };
}

test('a sidecar removed mid-exec: a clear end, no hang (docker runner)', async (t) => {
  const { workspace, sidecar } = await cppSidecar(t, `faults-${process.pid}`, 'sleepy:\n\t@echo started; sleep 319\n');
  const p = await proxyChild(t, ['--runner', 'docker', '--sidecar', `c-cpp=${sidecar}`, '--workspace', workspace], tempDir(t));
  const r = runShim({ url: p.url, token: p.token, workspace }, ['sleepy'], { tool: 'make' });
  await r.waitFor('started');
  const t0 = performance.now();
  execFileSync('docker', ['rm', '-f', sidecar]);
  const { code } = await r.exit;
  assert.ok(performance.now() - t0 < 15_000, 'no hang');
  assert.equal(code, 86, `a removed sidecar is a failure of the set-up, not the tool's SIGKILL (got ${code}); stderr: ${text(r.stderr)}`);
  assert.match(text(r.stderr), /^aifo-shim: the toolchain sidecar stopped or was removed while the tool ran; start it again \(aifo sidecar up\) and retry\n$/);
});

test('proxy SIGKILLed while a tool runs in a sidecar: the next proxy stops it and leaves a live proxy\'s execs alone (docker runner)', async (t) => {
  const { workspace, sidecar } = await cppSidecar(t, `faults-orphans-${process.pid}`, 'orphan:\n\t@echo started; sleep 317\nkeep:\n\t@echo started; sleep 316\n');
  const args = ['--runner', 'docker', '--sidecar', `c-cpp=${sidecar}`, '--workspace', workspace];
  const ps = (): string => execFileSync('docker', ['exec', sidecar, 'ps', '-eo', 'args'], { encoding: 'utf8' });

  const doomed = await proxyChild(t, args, tempDir(t));
  const live = await proxyChild(t, args, tempDir(t));
  const orphan = runShim({ url: doomed.url, token: doomed.token, workspace }, ['orphan'], { tool: 'make' });
  const kept = runShim({ url: live.url, token: live.token, workspace }, ['keep'], { tool: 'make' });
  await orphan.waitFor('started');
  await kept.waitFor('started');
  doomed.child.kill('SIGKILL');
  await orphan.exit;
  await doomed.closed;
  assert.match(ps(), /sleep 317/, 'the engine keeps an exec running after its client is gone');

  // The next proxy on this sidecar stops the orphan before it prints its ready lines.
  const next = await proxyChild(t, args, tempDir(t));
  assert.doesNotMatch(ps(), /sleep 317/, 'the orphan is gone');
  assert.match(ps(), /sleep 316/, "a live proxy's exec is left alone");
  const deadline = performance.now() + 2000;
  const said = (): boolean => next.stderr.some((l) => /^aifo-coder: proxy: stopping process group \d+ in \S+ left by a proxy that is gone \(exec_id=[0-9a-f]+\)$/.test(l));
  while (!said() && performance.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  assert.ok(said(), `log: ${next.stderr.join('\n')}`);

  live.child.kill('SIGTERM');
  assert.notEqual((await kept.exit).code, 0);
  assert.doesNotMatch(ps(), /sleep 316/);
});
