// Every status of protocol.md's table, over real sockets, with its body and X-Exit-Code.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { AifoError } from '../../src/protocol/errors.js';
import type { Runner } from '../../src/proxy/runners/types.js';
import { fixture, nodeExec, parsePidLine, rawExchange, request, startProxy, tempDir, connect } from '../helpers/proxy.js';

test('401 for a missing or wrong token, before anything that reveals policy', async (t) => {
  const p = await startProxy(t);
  for (const token of [null, 'wrong', '', 'b'.repeat(32), 'a'.repeat(31), 'a'.repeat(33), 'x'.repeat(5000)]) {
    const r = await request(p, { token, form: [['tool', 'not-a-tool'], ['cwd', p.workspace]] });
    assert.equal(r.status, 401, `token ${String(token).slice(0, 10)}`);
    assert.equal(r.body.toString(), 'unauthorized\n');
    assert.equal(r.headers['x-exit-code'], '86');
    assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(r.headers['connection'], 'close');
  }
  const basic = await request(p, { token: null, extraHeaders: `Authorization: Basic ${p.token}\r\n`, form: nodeExec(p, ['-e', '0']) });
  assert.equal(basic.status, 401);
  const lower = await request(p, { token: null, extraHeaders: `authorization: bearer   ${p.token}  \r\n`, form: nodeExec(p, ['-e', '0']) });
  assert.equal(lower.status, 200, 'scheme is case-insensitive');
});

test('426 when authorized but X-Aifo-Proto is missing or not 1/2', async (t) => {
  const p = await startProxy(t);
  for (const proto of [null, '3', '', 'two']) {
    const r = await request(p, { proto, form: nodeExec(p, ['-e', '0']) });
    assert.equal(r.status, 426);
    assert.equal(r.body.toString(), 'Unsupported shim protocol; expected 1 or 2\n');
    assert.equal(r.headers['x-exit-code'], '86');
  }
});

test('404 for unknown paths and 405 for other methods on known paths', async (t) => {
  const p = await startProxy(t);
  const r404 = await request(p, { path: '/nope' });
  assert.equal(r404.status, 404);
  assert.equal(r404.body.toString(), 'not found\n');
  for (const path of ['/exec', '/signal', '/notify']) {
    const r = await request(p, { path, method: 'GET' });
    assert.equal(r.status, 405);
    assert.equal(r.body.toString(), 'method not allowed\n');
    assert.equal(r.headers['x-exit-code'], '86');
  }
});

test('403 for tools in no allowlist; nothing runs', async (t) => {
  const p = await startProxy(t);
  for (const tool of ['sh', 'bash', 'rm', '../node', 'NODE', 'node ']) {
    const r = await request(p, { form: [['tool', tool], ['cwd', p.workspace]] });
    assert.equal(r.status, 403, tool);
    assert.equal(r.body.toString(), `forbidden: tool '${tool}' is not allowed\n`);
    assert.equal(r.headers['x-exit-code'], '86');
  }
});

test('400 for bad cwd, bad exec id, missing tool, invalid UTF-8, and field limits', async (t) => {
  const p = await startProxy(t);
  const outside = tempDir(t);
  mkdirSync(path.join(p.workspace, 'sub'));
  symlinkSync(outside, path.join(p.workspace, 'escape'));
  const cases: [string, Parameters<typeof request>[1], RegExp][] = [
    ['relative cwd', { form: [['tool', 'node'], ['cwd', 'rel']] }, /not an absolute path/],
    ['dotdot', { form: [['tool', 'node'], ['cwd', `${p.workspace}/sub/../..`]] }, /'\.' or '\.\.'/],
    ['outside', { form: [['tool', 'node'], ['cwd', outside]] }, /outside the workspace/],
    ['symlink escape', { form: [['tool', 'node'], ['cwd', `${p.workspace}/escape`]] }, /resolves to .* outside the workspace/],
    ['missing cwd dir', { form: [['tool', 'node'], ['cwd', `${p.workspace}/nope`]] }, /does not exist/],
    ['no tool', { form: [['cwd', p.workspace]] }, /'tool' is missing/],
    ['exec id', { execId: 'a/../b', form: nodeExec(p, ['-e', '0']) }, /X-Aifo-Exec-Id/],
    ['exec id shell', { execId: '$(reboot)', form: nodeExec(p, ['-e', '0']) }, /X-Aifo-Exec-Id/],
    ['bad utf8', { body: Buffer.concat([Buffer.from('tool=node&arg=%FF%FE&cwd='), Buffer.from(p.workspace)]) }, /not valid UTF-8/],
    ['long tool', { form: [['tool', 'x'.repeat(65)], ['cwd', p.workspace]] }, /'tool' is 65 bytes/],
    ['long cwd', { form: [['tool', 'node'], ['cwd', '/' + 'a'.repeat(4100)]] }, /'cwd' is 4101 bytes/],
    ['long arg', { form: [['tool', 'node'], ['arg', 'x'.repeat(128 * 1024 + 1)]] }, /'arg' #1 is 131073 bytes/],
    ['many args', { body: 'tool=node&' + 'arg=a&'.repeat(8193) }, /more than 8192 'arg'/],
  ];
  for (const [name, spec, re] of cases) {
    const r = await request(p, spec);
    assert.equal(r.status, 400, name);
    assert.match(r.body.toString(), /^bad request: /, name);
    assert.match(r.body.toString(), re, name);
    assert.equal(r.headers['x-exit-code'], '86', name);
  }
  // A bad /signal: missing exec id, bad signal name.
  const s1 = await request(p, { path: '/signal', form: [['signal', 'INT']] });
  assert.equal(s1.status, 400);
  const s2 = await request(p, { path: '/signal', form: [['exec_id', 'abc'], ['signal', 'STOP']] });
  assert.equal(s2.status, 400);
  assert.match(s2.body.toString(), /signal 'STOP' is not one of INT TERM HUP KILL/);
});

test('404 for /signal to an exec id that is not running', async (t) => {
  const p = await startProxy(t);
  const r = await request(p, { path: '/signal', form: [['exec_id', 'deadbeef'], ['signal', 'INT']] });
  assert.equal(r.status, 404);
  assert.equal(r.headers['x-exit-code'], '86');
});

test('409 when no runner provides the tool', async (t) => {
  const p = await startProxy(t);
  const r = await request(p, { form: [['tool', 'hadolint'], ['cwd', p.workspace]] });
  assert.equal(r.status, 409);
  assert.match(r.body.toString(), /^tool 'hadolint' not available in running sidecars; start /, 'protocol.md\'s 409 text');
  assert.equal(r.headers['x-exit-code'], '86');
});

test('413 for a body over 2 MiB, declared or chunked; never truncated and run', async (t) => {
  const p = await startProxy(t);
  const big = 'tool=node&arg=' + 'x'.repeat(2 * 1024 * 1024);
  const r = await request(p, { body: big });
  assert.equal(r.status, 413);
  assert.equal(r.body.toString(), 'request too large: body of 2097166 bytes, at most 2097152 allowed\n');
  // Chunked, no Content-Length: the limit is enforced while reading.
  const head = `POST /exec HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${p.token}\r\nX-Aifo-Proto: 2\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`;
  const chunk = Buffer.alloc(512 * 1024, 'a');
  const parts = [Buffer.from(head)];
  for (let i = 0; i < 6; i++) parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n'));
  parts.push(Buffer.from('0\r\n\r\n'));
  const r2 = await rawExchange(p.addr, Buffer.concat(parts));
  assert.equal(r2.status, 413);
  assert.equal(r2.headers['x-exit-code'], '86');
});

test('431 for headers over 64 KiB; the proxy keeps serving', async (t) => {
  const p = await startProxy(t);
  const r = await request(p, { extraHeaders: `X-Big: ${'y'.repeat(70 * 1024)}\r\n`, form: nodeExec(p, ['-e', '0']) });
  assert.equal(r.status, 431);
  assert.equal(r.body.toString(), 'request headers too large\n');
  const ok = await request(p, { form: nodeExec(p, ['-e', 'process.stdout.write("ok")']) });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'ok');
});

test('500 when the tool cannot be started (cwd removed between check and spawn)', async (t) => {
  let victim = '';
  const p = await startProxy(t, {
    runnerWrap: (r: Runner): Runner => ({
      ...r,
      place: r.place.bind(r),
      start: async (spec) => {
        rmSync(victim, { recursive: true, force: true });
        return r.start(spec);
      },
    }),
  });
  victim = path.join(p.workspace, 'gone');
  mkdirSync(victim);
  const r = await request(p, { form: nodeExec(p, ['-e', '0'], victim) });
  assert.equal(r.status, 500);
  assert.match(r.body.toString(), /^aifo-coder proxy error: /);
  assert.equal(r.headers['x-exit-code'], '86');
  assert.equal(r.headers['transfer-encoding'], undefined, 'a start failure is a plain response, never a stream');
});

test('503 beyond the configured maximum of concurrent execs, never a silent close', async (t) => {
  const p = await startProxy(t, { maxExecs: 1 });
  const s = connect(p.addr);
  t.after(() => s.destroy());
  let seen = '';
  const started = new Promise<void>((resolve) =>
    s.on('data', (c) => {
      seen += c.toString();
      if (seen.includes('pid=')) resolve();
    }),
  );
  const { buildRequest } = await import('../helpers/proxy.js');
  s.write(buildRequest(p, { form: nodeExec(p, [fixture('forever.mjs')]) }));
  await started;
  const r = await request(p, { form: nodeExec(p, ['-e', '0']) });
  assert.equal(r.status, 503);
  assert.match(r.body.toString(), /^busy/);
  assert.equal(r.headers['x-exit-code'], '86');
  const { pgid } = parsePidLine(seen.slice(seen.indexOf('pid=')));
  process.kill(-pgid, 'SIGKILL');
});

test('504 with exit code 124 when a v1 exec hits max runtime', async (t) => {
  const p = await startProxy(t, { maxSecs: 1 });
  const t0 = performance.now();
  const r = await request(p, { proto: '1', form: nodeExec(p, [fixture('forever.mjs')]) });
  assert.equal(r.status, 504);
  assert.equal(r.body.toString(), 'timeout\n');
  assert.equal(r.headers['x-exit-code'], '124');
  assert.ok(performance.now() - t0 < 5000, 'INT at T ends a tool that does not ignore it');
});

test('the error table holds every status the protocol documents', () => {
  const statuses = new Set(
    (['AIFO_E_BAD_REQUEST', 'AIFO_E_UNAUTHORIZED', 'AIFO_E_FORBIDDEN', 'AIFO_E_NOT_FOUND', 'AIFO_E_METHOD', 'AIFO_E_NO_SIDECAR',
      'AIFO_E_TOO_LARGE', 'AIFO_E_PROTO', 'AIFO_E_HEADERS_TOO_LARGE', 'AIFO_E_SPAWN', 'AIFO_E_BUSY', 'AIFO_E_TIMEOUT'] as const).map(
      (c) => new AifoError(c).status,
    ),
  );
  assert.deepEqual([...statuses].sort(), [400, 401, 403, 404, 405, 409, 413, 426, 431, 500, 503, 504]);
});
