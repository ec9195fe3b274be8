// e2e (real Docker): the shim bundle → the proxy (docker runner) → real toolchain sidecars, the
// whole path an agent uses. Images come from scripts/ci-docker.sh (tag AIFO_TEST_IMAGE_TAG).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Dockerode from 'dockerode';
import type { ToolchainKind } from '../../src/protocol/tools.js';
import { clientUrl, listen } from '../../src/proxy/listen.js';
import { createLogger } from '../../src/proxy/log.js';
import { createDockerRunner } from '../../src/proxy/runners/docker.js';
import type { Runner } from '../../src/proxy/runners/types.js';
import { createProxyServer, type ProxyServer } from '../../src/proxy/server.js';
import { sidecarDown, sidecarUp } from '../../src/sidecar/index.js';
import { cliBundle, hashStdout, runShim, shimBundle } from '../helpers/proxy.js';
import { proxyReady } from '../helpers/proxy-ready.js';

const TAG = process.env['AIFO_TEST_IMAGE_TAG'] || 'local';
const docker = new Dockerode();
const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

let workspace: string;
let session: string;
let sidecars: Map<ToolchainKind, string>;
const token = randomBytes(16).toString('hex');
const logs: string[] = [];
/** The default proxy (v2 TTY on), one with max runtime 2 s, and one without a TTY (byte-exact). */
let main: { proxy: ProxyServer; url: string };
let strict: { proxy: ProxyServer; url: string };
let plain: { proxy: ProxyServer; url: string };

const runners: Runner[] = [];

async function startProxy(opts: { tty: boolean; maxSecs?: number }): Promise<{ proxy: ProxyServer; url: string }> {
  const runner = createDockerRunner({ sidecars });
  runners.push(runner);
  const log = createLogger(true, (s) => logs.push(...s.split('\n').filter(Boolean)));
  const proxy = createProxyServer({ token, runner, workspace, log, tty: opts.tty, maxSecs: opts.maxSecs });
  const addr = await listen(proxy.server, { type: 'tcp', host: '127.0.0.1', port: 0 });
  return { proxy, url: clientUrl(addr) };
}

before(async () => {
  for (const k of ['rust', 'c-cpp'] as const) {
    await docker.getImage(`aifo-toolchain-${k}:${TAG}`).inspect().catch(() => {
      throw new Error(`image aifo-toolchain-${k}:${TAG} missing: build it with scripts/ci-docker.sh`);
    });
  }
  workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-shim-')));
  await chmod(workspace, 0o777);
  session = `e2eshim-${randomBytes(4).toString('hex')}`;
  const up = await sidecarUp({ kinds: ['rust', 'c-cpp'], workspace, session, tag: TAG, uid: process.getuid!(), gid: process.getgid!() });
  sidecars = new Map(Object.entries(up.sidecars) as [ToolchainKind, string][]);
  main = await startProxy({ tty: true });
  strict = await startProxy({ tty: false, maxSecs: 2 });
  plain = await startProxy({ tty: false });
});

after(async () => {
  await main?.proxy.shutdown();
  await strict?.proxy.shutdown();
  await plain?.proxy.shutdown();
  // The runner keeps an engine event stream open; without close() the process never exits.
  await Promise.all(runners.map((r) => r.close()));
  await sidecarDown({ session }).catch(() => undefined);
  await rm(workspace, { recursive: true, force: true });
});

const via = (p: { url: string }, cwd = workspace) => ({ url: p.url, token, workspace: cwd });

async function psIn(kind: ToolchainKind): Promise<string> {
  const c = docker.getContainer(sidecars.get(kind)!);
  const ex = await c.exec({ Cmd: ['ps', '-eo', 'pid,pgid,args'], AttachStdout: true, AttachStderr: true, Tty: true });
  const stream = await ex.start({ hijack: true, stdin: false, Tty: true });
  const chunks: Buffer[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d));
  await new Promise((r) => stream.on('end', r));
  return Buffer.concat(chunks).toString('latin1');
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - t0;
}

test('cargo --version streams through shim, proxy and rust sidecar; exit code from the trailer', async () => {
  const r = runShim(via(main), ['--version'], { tool: 'cargo' });
  assert.equal((await r.exit).code, 0, text(r.stderr));
  assert.match(text(r.stdout), /^cargo \d+\.\d+/);
});

test('cargo build of a crate in the workspace leaves the artifact on the host', async () => {
  const crate = path.join(workspace, 'hello');
  await mkdir(path.join(crate, 'src'), { recursive: true });
  await writeFile(path.join(crate, 'Cargo.toml'), '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n');
  await writeFile(path.join(crate, 'src/main.rs'), 'fn main() { println!("hello from the rust sidecar"); }\n');
  await chmod(crate, 0o777);
  const r = runShim(via(main, crate), ['build', '--offline'], { tool: 'cargo', cwd: crate });
  assert.equal((await r.exit).code, 0, text(r.stdout) + text(r.stderr));
  const bin = path.join(crate, 'target/debug/hello');
  assert.ok(existsSync(bin), 'target/debug/hello exists on the host');
  assert.equal(execFileSync(bin, { encoding: 'utf8' }), 'hello from the rust sidecar\n');
});

test('a C program compiled with gcc in the c-cpp sidecar runs on the host; make goes to c-cpp', async () => {
  await writeFile(path.join(workspace, 'hi.c'), '#include <stdio.h>\nint main(void){puts("hi from gcc");return 3;}\n');
  const r = runShim(via(main), ['-o', 'hi', 'hi.c'], { tool: 'gcc' });
  assert.equal((await r.exit).code, 0, text(r.stdout));
  const run = spawnSync(path.join(workspace, 'hi'), { encoding: 'utf8' });
  assert.equal(run.stdout, 'hi from gcc\n');
  assert.equal(run.status, 3);
  await writeFile(path.join(workspace, 'Makefile'), 'all:\n\t@echo made-here\n');
  const m = runShim(via(main), [], { tool: 'make' });
  assert.equal((await m.exit).code, 0);
  assert.match(text(m.stdout), /made-here/);
  // X-Aifo-Tty: the shim's stdout is a pipe here, so no pty in the sidecar and no CRLF (`$(make)` works).
  assert.equal(text(m.stdout), 'made-here\n');
  assert.ok(logs.some((l) => /proxy result tool=make kind=c-cpp code=0/.test(l)), logs.join('\n'));
});

test('Ctrl-C through the shim kills the process group inside the sidecar', async () => {
  await writeFile(path.join(workspace, 'Makefile'), 'sleepy:\n\t@echo started; sleep 312\n');
  const r = runShim(via(main), ['sleepy'], { tool: 'make' });
  await r.waitFor('started');
  assert.match(await psIn('c-cpp'), /sleep 312/);
  r.child.kill('SIGINT');
  assert.equal((await r.exit).code, 0);
  await until(async () => !/sleep 312/.test(await psIn('c-cpp')), 3000, 'sleep 312 to leave the sidecar');
});

test('SIGKILL of the shim mid-stream: the group inside the sidecar is gone within 2 s', async () => {
  await writeFile(path.join(workspace, 'Makefile'), 'sleepy:\n\t@echo started; sleep 313\n');
  const r = runShim(via(main), ['sleepy'], { tool: 'make' });
  await r.waitFor('started');
  r.child.kill('SIGKILL');
  const ms = await until(async () => !/sleep 313/.test(await psIn('c-cpp')), 2000, 'sleep 313 to leave the sidecar');
  assert.ok(ms < 2000);
});

test('max runtime in a sidecar: timeout line, exit 124, group gone', async () => {
  await writeFile(path.join(workspace, 'Makefile'), 'sleepy:\n\t@echo started; sleep 314\n');
  const r = runShim(via(strict), ['sleepy'], { tool: 'make' });
  assert.equal((await r.exit).code, 124);
  assert.match(text(r.stdout), /started\n[\s\S]*aifo-coder proxy timeout\n/);
  await until(async () => !/sleep 314/.test(await psIn('c-cpp')), 3000, 'sleep 314 to leave the sidecar');
});

test('100 MB of output from a sidecar is byte-identical (no TTY)', async () => {
  await writeFile(path.join(workspace, 'Makefile'), 'big:\n\t@yes 0123456789abcdef | head -c 100000000\n');
  const r = runShim(via(plain), ['big'], { tool: 'make' });
  const got = hashStdout(r);
  const want = createHash('sha256');
  const line = Buffer.from('0123456789abcdef\n');
  const block = Buffer.concat(Array.from({ length: 4096 }, () => line));
  let left = 100_000_000;
  while (left > 0) {
    const k = Math.min(left, block.length);
    want.update(block.subarray(0, k));
    left -= k;
  }
  assert.equal((await r.exit).code, 0);
  assert.equal((await got).bytes, 100_000_000);
  assert.equal((await got).hash, want.digest('hex'));
});

test('a stopped sidecar gives 409 naming the toolchain to start, not a hang', async () => {
  await docker.getContainer(sidecars.get('rust')!).stop({ t: 0 });
  const r = runShim(via(main), ['--version'], { tool: 'cargo' });
  assert.equal((await r.exit).code, 86);
  assert.match(text(r.stderr), /tool 'cargo' not available in running sidecars; start .*--toolchain rust/);
});

test('the terminal end to end: v2 on a terminal gets a pty in the sidecar; not with AIFO_TOOLEEXEC_TTY=0 on the proxy, nor for v1', async (t) => {
  await writeFile(path.join(workspace, 'tty.mk'), 'probe:\n\t@if [ -t 1 ]; then echo is-tty; else echo no-tty; fi\n');
  const proxyWith = async (env: NodeJS.ProcessEnv): Promise<{ url: string; token: string }> => {
    const penv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete penv['AIFO_TOOLEEXEC_TOKEN'];
    const child = spawn(process.execPath, [cliBundle, 'proxy', '--runner', 'docker', '--sidecar', `c-cpp=${sidecars.get('c-cpp')}`, '--workspace', workspace], { env: penv, stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => child.kill('SIGTERM'));
    return proxyReady(child);
  };
  // The shim on script(1)'s pty, so it asks for a terminal (X-Aifo-Tty: 1).
  const onTerminal = (p: { url: string; token: string }): string =>
    execFileSync('script', ['-qec', `"${process.execPath}" "${shimBundle}" make -s -f tty.mk`, '/dev/null'], {
      cwd: workspace,
      encoding: 'utf8',
      env: { ...process.env, AIFO_TOOLEEXEC_URL: p.url, AIFO_TOOLEEXEC_TOKEN: p.token },
    }).trim();
  assert.equal(onTerminal(await proxyWith({})), 'is-tty', 'v2 default');
  const off = await proxyWith({ AIFO_TOOLEEXEC_TTY: '0' });
  assert.equal(onTerminal(off), 'no-tty', 'AIFO_TOOLEEXEC_TTY=0');
  // v1 (buffered) never gets a terminal, even when asked for one.
  const on = await proxyWith({});
  const body = `tool=make&cwd=${encodeURIComponent(workspace)}&arg=-s&arg=-f&arg=tty.mk`;
  const v1 = await fetch(on.url, { method: 'POST', headers: { Authorization: `Bearer ${on.token}`, 'X-Aifo-Proto': '1', 'X-Aifo-Tty': '1', 'Content-Type': 'application/x-www-form-urlencoded' }, body });
  assert.equal(v1.status, 200);
  assert.equal((await v1.text()).trim(), 'no-tty', 'v1');
});
