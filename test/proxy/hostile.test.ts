// Malformed and hostile requests get a documented answer and never take the proxy down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, nodeExec, rawExchange, request, startProxy } from '../helpers/proxy.js';

function rawOrClosed(p: Parameters<typeof rawExchange>[0], bytes: Buffer | string): Promise<number> {
  return rawExchange(p, bytes).then(
    (r) => r.status,
    () => 0,
  );
}

test('malformed HTTP gets 400 and the proxy keeps answering', async (t) => {
  const p = await startProxy(t);
  const cases = [
    'GARBAGE\r\n\r\n',
    'POST /exec HTTP/9.9\r\n\r\n',
    'POST /exec HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n',
    'POST /exec HTTP/1.1\r\nContent-Length: abc\r\n\r\n',
    'POST /exec HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /exec HTTP/1.1\r\nX-\0Bad: 1\r\n\r\n',
    '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03',
  ];
  for (const c of cases) {
    const status = await rawOrClosed(p.addr, Buffer.from(c, 'latin1'));
    assert.ok(status === 400 || status === 0, `${JSON.stringify(c)} → ${status}`);
  }
  const ok = await request(p, { form: nodeExec(p, ['-e', 'process.stdout.write("alive")']) });
  assert.equal(ok.body.toString(), 'alive');
});

test('NUL bytes and invalid UTF-8 in fields are refused with 400, nothing runs', async (t) => {
  const p = await startProxy(t);
  for (const body of ['tool=node%00&arg=x', `tool=node&cwd=${p.workspace}%00`, 'tool=%C0%AF', 'tool=node&arg=%ED%A0%80']) {
    const r = await request(p, { body });
    assert.ok(r.status === 400 || r.status === 403, `${body} → ${r.status}`);
  }
});

test('connections opened and dropped at every phase leave no exec behind', async (t) => {
  const p = await startProxy(t);
  const full = Buffer.from(
    `POST /exec HTTP/1.1\r\nAuthorization: Bearer ${p.token}\r\nX-Aifo-Proto: 2\r\nContent-Length: 500\r\n\r\ntool=node&cwd=${p.workspace}`,
  );
  for (let cut = 0; cut < full.length; cut += 7) {
    const s = connect(p.addr);
    await new Promise<void>((res) => s.once('connect', () => res()));
    s.write(full.subarray(0, cut));
    s.destroy();
  }
  const ok = await request(p, { form: nodeExec(p, ['-e', 'process.stdout.write("still here")']) });
  assert.equal(ok.body.toString(), 'still here');
  while (p.proxy.registry.size > 0) await new Promise((res) => setTimeout(res, 10));
});
