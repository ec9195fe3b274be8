// Ctrl-C, disconnect, max runtime and grandchildren, with real process groups.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildRequest, connect, fixture, groupAlive, nodeExec, parsePidLine, parseResponse, runShim, startProxy, waitGroupGone } from '../helpers/proxy.js';

const text = (b: Buffer[]): string => Buffer.concat(b).toString('utf8');

const CTRL_C_CASES = [
  { presses: 1, flags: [], legacy: 130, lastSignal: 'INT' },
  { presses: 2, flags: ['ignore-int'], legacy: 143, lastSignal: 'TERM' },
  { presses: 3, flags: ['ignore-int', 'ignore-term'], legacy: 137, lastSignal: 'KILL' },
] as const;

for (const c of CTRL_C_CASES) {
  for (const legacy of [false, true]) {
    test(`Ctrl-C ${c.presses}× ends the whole group, shim exits ${legacy ? c.legacy : 0}${legacy ? ' (legacy toggle)' : ''}`, async (t) => {
      const p = await startProxy(t);
      const env = legacy ? { AIFO_SHIM_EXIT_ZERO_ON_SIGINT: '0' } : {};
      const r = runShim(p, [fixture('forever.mjs'), ...c.flags], { env });
      const { pgid } = parsePidLine(await r.waitFor('pid='));
      for (let i = 0; i < c.presses; i++) {
        const before = p.logs.length;
        r.child.kill('SIGINT');
        // Wait for the proxy to receive this press before the next one (no blind sleep).
        while (!p.logs.slice(before).some((l) => l.startsWith('aifo-coder: proxy signal:'))) {
          await new Promise((res) => setTimeout(res, 10));
        }
      }
      const { code } = await r.exit;
      assert.equal(code, legacy ? c.legacy : 0);
      assert.equal(groupAlive(pgid), false, 'no process of the group is left');
      assert.ok(p.logs.some((l) => l.endsWith(`sig=${c.lastSignal}`)), p.logs.join('\n'));
    });
  }
}

test('SIGTERM and SIGHUP to the shim are forwarded as TERM and HUP (legacy 143, 129)', async (t) => {
  const p = await startProxy(t);
  for (const [sig, want] of [['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    const r = runShim(p, [fixture('forever.mjs')], { env: { AIFO_SHIM_EXIT_ZERO_ON_SIGINT: '0' } });
    const { pgid } = parsePidLine(await r.waitFor('pid='));
    r.child.kill(sig);
    assert.equal((await r.exit).code, want);
    assert.equal(groupAlive(pgid), false);
  }
});

test('escalation after /signal INT completes with TERM and KILL for a tool ignoring both', async (t) => {
  // Shortened by the injected clock? No: the real plan is 5 s + 5 s; this runs the real thing once.
  const p = await startProxy(t);
  const r = runShim(p, [fixture('forever.mjs'), 'ignore-int', 'ignore-term']);
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  r.child.kill('SIGINT');
  await waitGroupGone(pgid, 12_000);
  assert.equal((await r.exit).code, 0);
});

test('client killed with SIGKILL mid-stream: the group is gone within 2 s', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, [fixture('forever.mjs'), 'ignore-int']);
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  r.child.kill('SIGKILL');
  const ms = await waitGroupGone(pgid, 2000);
  assert.ok(ms < 2000);
  assert.ok(p.logs.includes('aifo-coder: disconnect'));
  assert.ok(p.logs.includes(`aifo-coder: disconnect escalate: sending INT to exec_id=${p.logs.find((l) => l.includes('escalate'))!.split('exec_id=')[1]}`));
});

test('a silent tool is stopped when its client disconnects (noticed on close, not on write)', async (t) => {
  const p = await startProxy(t);
  const s = connect(p.addr);
  s.write(buildRequest(p, { execId: 'silent-1', form: nodeExec(p, [fixture('forever.mjs'), 'silent']) }));
  let head = '';
  await new Promise<void>((res) => s.on('data', (c) => ((head += c.toString()), head.includes('\r\n\r\n') && res())));
  assert.match(head, /^HTTP\/1\.1 200 /, 'headers are sent as soon as the tool started, before any output');
  assert.match(head, /x-exec-id: silent-1/i);
  assert.match(head, /trailer: X-Exit-Code, X-Aifo-End/i);
  // The wrapper writes the pgid just after the spawn that released the headers: wait for it.
  const { existsSync, readFileSync } = await import('node:fs');
  const pgidFile = `${p.execRoot}/silent-1/pgid`;
  while (!existsSync(pgidFile) || readFileSync(pgidFile, 'utf8').trim() === '') await new Promise((r) => setTimeout(r, 10));
  const pgid = Number(readFileSync(pgidFile, 'utf8'));
  s.destroy();
  await waitGroupGone(pgid, 2000);
});

test('v2 max runtime: timeout line in the stream, exit 124, X-Aifo-End timeout', async (t) => {
  const p = await startProxy(t, { maxSecs: 1 });
  const s = connect(p.addr);
  const chunks: Buffer[] = [];
  s.on('data', (c) => chunks.push(c));
  s.write(buildRequest(p, { form: nodeExec(p, [fixture('forever.mjs')]) }));
  await new Promise((res) => s.on('close', res));
  const r = parseResponse(Buffer.concat(chunks));
  assert.equal(r.status, 200);
  assert.match(r.body.toString(), /pid=\d+ pgid=\d+\naifo-coder proxy timeout\n$/);
  assert.deepEqual(r.trailers, { 'x-exit-code': '124', 'x-aifo-end': 'timeout' });
});

test('v1 buffered: whole output with X-Exit-Code header', async (t) => {
  const p = await startProxy(t);
  const s = connect(p.addr);
  const chunks: Buffer[] = [];
  s.on('data', (c) => chunks.push(c));
  s.write(buildRequest(p, { proto: '1', form: nodeExec(p, [fixture('exit-with.mjs'), '3']) }));
  await new Promise((res) => s.on('close', res));
  const r = parseResponse(Buffer.concat(chunks));
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-exit-code'], '3');
  assert.equal(r.headers['x-aifo-end'], 'exited');
  assert.ok(r.headers['content-length'] !== undefined);
});

test('death by signal gives 128+N and X-Aifo-End signal=<NAME>', async (t) => {
  const p = await startProxy(t);
  const s = connect(p.addr);
  const chunks: Buffer[] = [];
  s.on('data', (c) => chunks.push(c));
  s.write(buildRequest(p, { form: nodeExec(p, [fixture('exit-with.mjs'), 'SIGKILL']) }));
  await new Promise((res) => s.on('close', res));
  assert.deepEqual(parseResponse(Buffer.concat(chunks)).trailers, { 'x-exit-code': '137', 'x-aifo-end': 'signal=KILL' });
});

test('a grandchild that left the group but holds stdout cannot keep the exec alive', async (t) => {
  const p = await startProxy(t);
  const t0 = performance.now();
  const r = runShim(p, [fixture('grandchild-holds-stdout.mjs')]);
  assert.equal((await r.exit).code, 0);
  assert.ok(performance.now() - t0 < 5000, 'ended well before the grandchild (30 s)');
  const g = Number(/grandchild=(\d+)/.exec(text(r.stdout))![1]);
  process.kill(g, 'SIGKILL');
});

test('proxy shutdown escalates running execs and gives their clients a final answer', async (t) => {
  const p = await startProxy(t);
  const r = runShim(p, [fixture('forever.mjs')]);
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  await p.close();
  assert.equal(groupAlive(pgid), false);
  assert.equal((await r.exit).code, 130, 'INT ended it: 128+2 from the trailer');
});
