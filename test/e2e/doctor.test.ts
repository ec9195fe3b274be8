// e2e (real Docker): aifo doctor reports a healthy set-up, and each problem with its fix.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { cliBundle, tempDir } from '../helpers/proxy.js';

function doctor(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [cliBundle, 'doctor', ...args], { env });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    c.on('close', (code) => resolve({ code, out }));
  });
}

test('aifo doctor: healthy set-up, both transports reachable from an agent container', async () => {
  const r = await doctor([]);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^ok {4}an agent container reaches the proxy over a Unix socket/m);
  assert.match(r.out, /^ok {4}an agent container reaches the proxy over TCP/m);
  assert.doesNotMatch(r.out, /FAIL/);
});

test('aifo doctor: a missing image, a broken override dir and an unreachable engine, each with its fix', async (t) => {
  const dir = path.join(tempDir(t), 'bin');
  await new Promise((res) => spawn(process.execPath, [cliBundle, 'shims', 'write', dir]).on('close', res));
  await rm(path.join(dir, 'cargo'));
  const r = await doctor(['--image', 'aifo-no-such-agent:none', '--shim-dir', dir]);
  assert.equal(r.code, 1);
  assert.match(r.out, /FAIL {2}agent image aifo-no-such-agent:none is missing\n {6}fix: aifo images build --agent/);
  assert.match(r.out, /FAIL {2}host override .*cargo.*\n {6}fix: aifo shims write /);
  const gone = await doctor([], { ...process.env, DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
  assert.equal(gone.code, 1);
  assert.match(gone.out, /FAIL {2}cannot reach the container engine at unix:\/\/\/nonexistent\/docker\.sock.*\n {6}fix: start it/);
});

test('the start-up reachability probe used by aifo run --tcp tells an unreachable proxy apart', async () => {
  const Dockerode = (await import('dockerode')).default;
  const { agentReaches } = await import('../../src/launcher/doctor.js');
  const r = await agentReaches(new Dockerode(), 'aifo-agent:local', 'http://127.0.0.1:1/exec', 'x', { NetworkMode: 'host' });
  assert.equal(r.ok, false);
  assert.match(r.detail, /cannot reach the proxy at http:\/\/127\.0\.0\.1:1\/exec/);
});
