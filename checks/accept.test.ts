// Phase-4 acceptance suite (release notes v5 "Acceptance tests"): native HTTP over TCP and over a
// Unix socket with a real toolchain sidecar, the shell wrappers in the agent image, and the golden
// verbose log lines. npm runs it against the Debian-built images (`npm run test:accept`); the Nix
// VM test runs it against the Nix images, naming them through the same variables:
//   AIFO_CHECKS_AIFO                  the aifo CLI (default: this checkout's dist/aifo.mjs)
//   AIFO_CHECKS_AGENT_IMAGE           default aifo-agent:local
//   AIFO_CHECKS_TOOLCHAIN_IMAGE_RUST  default aifo-toolchain-rust:local
// Containers use --network host (TCP on 127.0.0.1) or --network none (Unix socket) only.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import split2 from 'split2';

const repo = path.resolve(import.meta.dirname, '..', '..');
const AIFO = process.env['AIFO_CHECKS_AIFO'] || path.join(repo, 'dist/aifo.mjs');
const AGENT = process.env['AIFO_CHECKS_AGENT_IMAGE'] || 'aifo-agent:local';
const RUST = process.env['AIFO_CHECKS_TOOLCHAIN_IMAGE_RUST'] || 'aifo-toolchain-rust:local';
const uid = process.getuid!();
const gid = process.getgid!();

/** The CLI as argv: a .mjs/.js bundle runs under this node, a built binary runs as it is. */
function aifoArgv(args: string[]): [string, string[]] {
  return /\.(m?js|cjs)$/.test(AIFO) ? [process.execPath, [AIFO, ...args]] : [AIFO, args];
}

interface Done {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Done> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Proxy {
  child: ChildProcess;
  url: string;
  token: string;
  lines: string[];
}

/** Starts `aifo proxy --verbose` and reads its URL and token lines; stderr lines are collected. */
async function startProxy(listen: string): Promise<Proxy> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const [cmd, args] = aifoArgv(['proxy', '--runner', 'docker', '--session', session, '--workspace', workspace, '--listen', listen, '--verbose']);
  const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  child.stderr!.pipe(split2()).on('data', (l: string) => lines.push(l));
  const vars: Record<string, string> = {};
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`aifo proxy exited with ${code}: ${lines.join('\n')}`)));
    child.stdout!.pipe(split2()).on('data', (l: string) => {
      const i = l.indexOf('=');
      vars[l.slice(0, i)] = l.slice(i + 1);
      if (vars['AIFO_TOOLEEXEC_URL'] && vars['AIFO_TOOLEEXEC_TOKEN']) resolve();
    });
  });
  child.removeAllListeners('exit');
  return { child, url: vars['AIFO_TOOLEEXEC_URL']!, token: vars['AIFO_TOOLEEXEC_TOKEN']!, lines };
}

/**
 * `docker run` of the agent image. The token goes in the docker client's environment and is
 * passed by name (`-e AIFO_TOOLEEXEC_TOKEN`), so it never appears in an argv.
 */
function agent(opts: { network: 'host' | 'none'; url?: string; token?: string; mounts?: string[]; env?: Record<string, string> }, cmd: string[]): Promise<Done> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...(opts.env ?? {}) };
  const args = ['run', '--rm', '--network', opts.network, '--user', `${uid}:${gid}`, '-v', `${workspace}:${workspace}`, '-w', workspace];
  for (const m of opts.mounts ?? []) args.push('-v', m);
  if (opts.url) {
    env['AIFO_TOOLEEXEC_URL'] = opts.url;
    args.push('-e', 'AIFO_TOOLEEXEC_URL');
  }
  if (opts.token) {
    env['AIFO_TOOLEEXEC_TOKEN'] = opts.token;
    args.push('-e', 'AIFO_TOOLEEXEC_TOKEN');
  }
  for (const k of Object.keys(opts.env ?? {})) args.push('-e', k);
  return run('docker', [...args, AGENT, ...cmd], env);
}

let workspace: string;
let session: string;
let sockDir: string;
let tcp: Proxy;
let uds: Proxy;

before(async () => {
  for (const image of [AGENT, RUST]) {
    const r = await run('docker', ['image', 'inspect', image]);
    if (r.code !== 0) throw new Error(`acceptance image ${image} is missing: build it (bash scripts/ci-docker.sh, or nix run .#load-images)`);
  }
  workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-accept-')));
  await chmod(workspace, 0o777);
  sockDir = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-accept-sock-')));
  session = `accept-${randomBytes(4).toString('hex')}`;
  const [cmd, args] = aifoArgv(['sidecar', 'up', '--toolchain', 'rust', '--image', `rust=${RUST}`, '--workspace', workspace, '--session', session]);
  const up = await run(cmd, args);
  assert.equal(up.code, 0, `aifo sidecar up: ${up.stderr}`);
  tcp = await startProxy('tcp://127.0.0.1:0');
  uds = await startProxy(`unix://${sockDir}/toolexec.sock`);
});

after(async () => {
  for (const p of [tcp, uds]) p?.child.kill('SIGTERM');
  const [cmd, args] = aifoArgv(['sidecar', 'down', '--session', session]);
  await run(cmd, args);
  await rm(workspace, { recursive: true, force: true });
  await rm(sockDir, { recursive: true, force: true });
});

test('accept_native_http_tcp: cargo --version streams from the rust sidecar over TCP; exit codes via the trailer', async () => {
  const ok = await agent({ network: 'host', url: tcp.url, token: tcp.token }, ['cargo', '--version']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /^cargo \d+\.\d+/);
  // cargo's own exit status for an unknown subcommand (101) comes back unchanged.
  const bad = await agent({ network: 'host', url: tcp.url, token: tcp.token }, ['cargo', 'no-such-subcommand']);
  assert.equal(bad.code, 101, bad.stdout + bad.stderr);
});

test('accept_native_http_uds: the same over a Unix socket mounted at /run/aifo, agent with no network', async () => {
  const r = await agent({ network: 'none', url: 'unix:///run/aifo/toolexec.sock', token: uds.token, mounts: [`${sockDir}:/run/aifo`] }, ['cargo', '--version']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^cargo \d+\.\d+/);
});

test('accept_wrappers: sh -c and bash -lc run the command and exit, with its status', async () => {
  const hi = await agent({ network: 'none' }, ['/opt/aifo/bin/sh', '-c', 'echo hi']);
  assert.equal(hi.code, 0);
  assert.equal(hi.stdout, 'hi\n');
  const seven = await agent({ network: 'none' }, ['/opt/aifo/bin/bash', '-lc', 'exit 7']);
  assert.equal(seven.code, 7);
  // The exit is appended on its own line: a trailing `&` still works and the shell does not wait.
  const t0 = performance.now();
  const bg = await agent({ network: 'none' }, ['/opt/aifo/bin/sh', '-c', 'sleep 30 &']);
  assert.equal(bg.code, 0, bg.stderr);
  assert.ok(performance.now() - t0 < 20_000, 'the wrapper did not wait for the background job');
  const shell = await agent({ network: 'none' }, ['sh', '-c', 'echo "$SHELL"; command -v cargo; readlink /opt/aifo/bin/cargo']);
  assert.equal(shell.stdout, '/opt/aifo/bin/sh\n/opt/aifo/bin/cargo\naifo-shim\n');
});

test('golden verbose logs: shim and proxy lines, compared line by line', async () => {
  const execId = `golden-${randomBytes(4).toString('hex')}`;
  const before = tcp.lines.length;
  const r = await agent({ network: 'host', url: tcp.url, token: tcp.token, env: { AIFO_TOOLCHAIN_VERBOSE: '1', AIFO_EXEC_ID: execId } }, ['cargo', '--version']);
  assert.equal(r.code, 0, r.stderr);
  const shimLines = r.stderr.split('\n').filter((l) => l.startsWith('aifo-shim: '));
  assert.deepEqual(shimLines, [`aifo-shim: tool=cargo cwd=${workspace} exec_id=${execId}`, `aifo-shim: preparing request to ${tcp.url} (proto=2)`]);
  // The result line is written when the exec ends, just before the response ends.
  const deadline = performance.now() + 5000;
  while (!tcp.lines.slice(before).some((l) => l.startsWith('aifo-coder: proxy result')) && performance.now() < deadline) {
    await new Promise((res) => setTimeout(res, 20));
  }
  const proxyLines = tcp.lines.slice(before).filter((l) => /^aifo-coder: proxy (parsed|exec:|result)/.test(l));
  assert.equal(proxyLines.length, 3, proxyLines.join('\n'));
  assert.equal(proxyLines[0], `aifo-coder: proxy parsed tool=cargo argv=--version cwd=${workspace}`);
  assert.equal(proxyLines[1], 'aifo-coder: proxy exec: proto=v2 (streaming)');
  assert.match(proxyLines[2]!, /^aifo-coder: proxy result tool=cargo kind=rust code=0 dur_ms=\d+$/);
  assert.ok(!tcp.lines.join('\n').includes(tcp.token), 'the token is never logged');
});
