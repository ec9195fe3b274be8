// Secrets (issue 7 item 4): the token is in no error body, log or argv, and token and socket
// files are 0600 from creation even under a permissive umask.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import split2 from 'split2';
import { cliBundle, request, startProxy, tempDir } from '../helpers/proxy.js';

test('no error body or log line contains the token, right or wrong', async (t) => {
  const p = await startProxy(t);
  const wrong = 'f00dfeedf00dfeedf00dfeedf00dfeed';
  const bodies: string[] = [];
  for (const spec of [
    { token: wrong, form: [['tool', 'node']] as [string, string][] },
    { form: [['tool', 'rm'], ['cwd', p.workspace]] as [string, string][] },
    { form: [['tool', 'node'], ['cwd', '/etc']] as [string, string][] },
    { execId: 'bad/id', form: [['tool', 'node']] as [string, string][] },
    { path: '/signal', form: [['exec_id', 'nope'], ['signal', 'INT']] as [string, string][] },
    { proto: '9', form: [] as [string, string][] },
    { extraHeaders: `X-Big: ${'y'.repeat(70 * 1024)}\r\n`, form: [] as [string, string][] },
  ]) {
    const r = await request(p, spec);
    bodies.push(r.raw.toString('latin1'));
  }
  for (const b of bodies) {
    assert.ok(!b.includes(p.token), 'the real token is never echoed');
    assert.ok(!b.includes(wrong), 'nor a wrong one');
  }
  assert.ok(!p.logs.join('\n').includes(p.token));
});

test('token file and socket are 0600 even under umask 000; the token is not in the proxy argv', async (t) => {
  const d = tempDir(t);
  const tokenFile = path.join(d, 'token');
  const sock = path.join(d, 'run', 'toolexec.sock');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const child = spawn('sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, cliBundle, 'proxy', '--listen', `unix://${sock}`, '--token-file', tokenFile, '--workspace', d], { env });
  t.after(() => child.kill('SIGKILL'));
  let token = '';
  await new Promise<void>((resolve) =>
    child.stdout.pipe(split2()).on('data', (l: string) => {
      if (l.startsWith('AIFO_TOOLEEXEC_TOKEN=')) {
        token = l.slice('AIFO_TOOLEEXEC_TOKEN='.length);
        resolve();
      }
    }),
  );
  assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
  assert.equal(statSync(sock).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(sock)).mode & 0o777, 0o700);
  const { readFileSync } = await import('node:fs');
  assert.ok(!readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').includes(token), 'not in the proxy argv');
  child.kill('SIGTERM');
  await new Promise((r) => child.on('close', r));
});
