// Hostile-input suite (issue 7 item 2): a bounded, seeded fuzz loop on loopback against a proxy
// child process, then checks that it still answers and that its memory and descriptors came back.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import split2 from 'split2';
import { encodeForm } from '../../src/protocol/form.js';
import { cliBundle, fixture, parsePidLine, parseResponse, runShim, tempDir } from '../helpers/proxy.js';
import { proxyReady } from '../helpers/proxy-ready.js';

const SEED = Number(process.env['AIFO_FUZZ_SEED'] ?? Date.now() % 1_000_000);
const ITERATIONS = 3000;
const DROPPED_CONNECTIONS = 10_000;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with AIFO_FUZZ_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Child {
  child: ChildProcess;
  port: number;
  token: string;
  workspace: string;
}

async function proxyChild(t: TestContext): Promise<Child> {
  const workspace = tempDir(t);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: tempDir(t) };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const child = spawn(process.execPath, [cliBundle, 'proxy', '--workspace', workspace, '--verbose'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  const logs: string[] = [];
  child.stderr!.pipe(split2()).on('data', (l: string) => logs.push(l));
  const ready = await proxyReady(child);
  t.after(() => assert.ok(!logs.join('\n').includes(ready.token), 'the token never appears in the proxy log'));
  return { child, port: Number(new URL(ready.url).port), token: ready.token, workspace };
}

function usage(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}

/** Sends raw bytes; resolves with the status (0 when the connection closed without one). */
function send(port: number, bytes: Buffer, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => s.destroy(), timeoutMs);
    s.on('data', (c) => chunks.push(c));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      resolve(m ? Number(m[1]) : 0);
    });
    s.write(bytes);
    // End the request side after a moment: a complete request has been answered by then.
    setTimeout(() => s.end(), 200);
  });
}

function request(c: Child, opts: { path?: string; token?: string; proto?: string; execId?: string; body: string }): Buffer {
  const body = Buffer.from(opts.body, 'utf8');
  let head = `POST ${opts.path ?? '/exec'} HTTP/1.1\r\nHost: x\r\n`;
  if (opts.token !== undefined) head += `Authorization: Bearer ${opts.token}\r\n`;
  head += `X-Aifo-Proto: ${opts.proto ?? '2'}\r\n`;
  if (opts.execId !== undefined) head += `X-Aifo-Exec-Id: ${opts.execId}\r\n`;
  head += `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const DOCUMENTED = new Set([0, 200, 204, 400, 401, 403, 404, 405, 408, 409, 413, 426, 431, 500, 503]);

test(`fuzz: ${ITERATIONS} random and mutated requests (seed ${SEED}), ${DROPPED_CONNECTIONS} dropped connections; the proxy still answers and its memory and fds come back`, async (t) => {
  const c = await proxyChild(t);
  const rnd = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const marker = path.join(c.workspace, 'ran');
  const valid = request(c, { token: c.token, body: encodeForm([['tool', 'node'], ['cwd', c.workspace], ['arg', '-e'], ['arg', `require('fs').writeFileSync(${JSON.stringify(marker)},'')`]]) });
  // Warm up so the first sample is not the cold start.
  for (let i = 0; i < 50; i++) await send(c.port, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  const start = usage(c.child.pid!);

  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b);
    const n = 1 + Math.floor(rnd() * 8);
    for (let i = 0; i < n; i++) {
      const at = Math.floor(rnd() * out.length);
      switch (Math.floor(rnd() * 4)) {
        case 0: out[at] = Math.floor(rnd() * 256); break; // any byte, NUL and invalid UTF-8 included
        case 1: out[at] = 0; break;
        case 2: out[at] = pick([0x0d, 0x0a, 0x3a, 0x25, 0x26, 0x3d, 0x2b]); break; // CR LF : % & = +
        default: out[at] = 0xff;
      }
    }
    return out;
  };
  const generators: (() => Buffer)[] = [
    () => mutate(valid),
    () => Buffer.from(Array.from({ length: Math.floor(rnd() * 2000) }, () => Math.floor(rnd() * 256))),
    () => Buffer.from(`POST /exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer ${c.token}\r\nX-Aifo-Proto: 2\r\n\r\n${pick(['zz', '-1', 'fffffffffffffffff', '1;x', ''])}\r\ntool=node\r\n0\r\n\r\n`),
    () => Buffer.from(`POST ${pick(['/exec', '/signal', '/notify', '/EXEC', '/exec?tool=node', '/../exec', '*'])} HTTP/1.1\r\n` + 'X-Flood: a\r\n'.repeat(Math.floor(rnd() * 3000)) + '\r\n'),
    () => request(c, { token: c.token, path: pick(['/exec', '/signal', '/notify']), body: `tool=${pick(['sh', 'rm', 'node%00', '%C0%AF', ''])}&cwd=${pick(['/', '..', `${c.workspace}/../..`, '%FF'])}&exec_id=${pick(['../x', '$(id)', 'a;b', ''])}&signal=${pick(['INT', 'STOP', '9', ''])}` }),
    () => request(c, { token: 'x'.repeat(Math.floor(rnd() * 300)), body: 'tool=node' }),
  ];
  let ran = false;
  for (let i = 0; i < ITERATIONS; i++) {
    const status = await send(c.port, pick(generators)());
    assert.ok(DOCUMENTED.has(status), `seed ${SEED} iteration ${i}: undocumented status ${status}`);
    if (existsSync(marker)) ran = true;
  }
  // Most mutations break the request; a mutation that happens to stay valid may run the tool,
  // which is fine: what must never run is something the policy refuses (tested below).
  void ran;
  // 10 000 connections opened and dropped at once in batches.
  for (let done = 0; done < DROPPED_CONNECTIONS; done += 500) {
    await Promise.all(
      Array.from({ length: 500 }, () => new Promise<void>((res) => {
        const s = net.connect(c.port, '127.0.0.1');
        s.on('connect', () => s.destroy());
        s.on('error', () => res());
        s.on('close', () => res());
      })),
    );
  }
  // Slow senders hold connections open; others are still served meanwhile.
  const slow = Array.from({ length: 50 }, () => {
    const s = net.connect(c.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.write('POST /exec HTTP/1.1\r\nX-Slow: ');
    return s;
  });
  assert.equal(await send(c.port, valid), 200, 'served while 50 slow senders hang');
  for (const s of slow) s.destroy();

  await new Promise((res) => setTimeout(res, 500));
  const end = usage(c.child.pid!);
  // "Back near the start": descriptors exactly (a leak grows by one per connection), memory within
  // 64 MiB (V8 keeps some heap after a burst; a per-request leak of even 1 KiB would be 13 MB+).
  assert.ok(end.fds <= start.fds + 2, `fds ${start.fds} → ${end.fds}`);
  assert.ok(end.rssKb - start.rssKb < 64 * 1024, `RSS ${start.rssKb} kB → ${end.rssKb} kB`);
  t.diagnostic(`seed ${SEED}; fds ${start.fds} → ${end.fds}; RSS ${start.rssKb} → ${end.rssKb} kB`);
});

test('policy refusals under hostile values: documented status, nothing runs', async (t) => {
  const c = await proxyChild(t);
  const marker = path.join(c.workspace, 'ran');
  const write = ['-e', `require('fs').writeFileSync(${JSON.stringify(marker)},'')`];
  const body = (tool: string, cwd: string) => encodeForm([['tool', tool], ['cwd', cwd], ...write.map((a) => ['arg', a] as [string, string])]);
  // Wrong tokens of every length 0..200, and 10 KiB.
  for (let n = 0; n <= 200; n++) assert.equal(await send(c.port, request(c, { token: 'a'.repeat(n), body: body('node', c.workspace) })), 401, `token length ${n}`);
  assert.equal(await send(c.port, request(c, { token: 'b'.repeat(10 * 1024), body: body('node', c.workspace) })), 401);
  assert.equal(await send(c.port, request(c, { body: body('node', c.workspace) })), 401, 'no token');
  for (const id of ['../../etc', 'a/b', '$(touch x)', '`id`', 'a b', 'x;y', 'é', '.', 'x'.repeat(65)]) {
    assert.equal(await send(c.port, request(c, { token: c.token, execId: id, body: body('node', c.workspace) })), 400, `exec id ${id}`);
  }
  const out = tempDir(t);
  mkdirSync(path.join(c.workspace, 'in'));
  symlinkSync(out, path.join(c.workspace, 'in', 'escape'));
  for (const cwd of [`${c.workspace}/..`, `${c.workspace}/in/../..`, out, `${c.workspace}/in/escape`, '/']) {
    assert.equal(await send(c.port, request(c, { token: c.token, body: body('node', cwd) })), 400, `cwd ${cwd}`);
  }
  for (const tool of ['sh', 'bash', 'env', '/usr/bin/node', 'node\0', 'nodejs', 'curl']) {
    assert.equal(await send(c.port, request(c, { token: c.token, body: body(tool, c.workspace) })), 403, `tool ${JSON.stringify(tool)}`);
  }
  assert.equal(existsSync(marker), false, 'nothing ran');
  // Another client's running exec: /signal without the token is refused and the exec lives on.
  const r = runShim({ url: `http://127.0.0.1:${c.port}/exec`, token: c.token, workspace: c.workspace }, [fixture('forever.mjs')], { env: { AIFO_EXEC_ID: 'victim-1' } });
  const { pgid } = parsePidLine(await r.waitFor('pid='));
  for (const token of [undefined, 'nope']) {
    assert.equal(await send(c.port, request(c, { path: '/signal', ...(token ? { token } : {}), body: 'exec_id=victim-1&signal=KILL' })), 401);
  }
  process.kill(-pgid, 0); // still alive
  assert.equal(await send(c.port, request(c, { path: '/signal', token: c.token, body: 'exec_id=victim-1&signal=INT' })), 204);
  // The shim did not send that INT itself, so it reports the tool's death as it is: 128+2.
  assert.equal((await r.exit).code, 130);
  void parseResponse;
});
