// The escalation module with an injected clock: no sleeping, exact timings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DISCONNECT_PLAN, escalate, planAfterSignal, type Clock } from '../../src/proxy/terminate.js';
import { isAuthorized } from '../../src/proxy/auth.js';
import { normaliseCwd } from '../../src/proxy/request.js';
import { redactArgs, shellJoin } from '../../src/proxy/log.js';

function fakeClock(): Clock & { advance(ms: number): Promise<void> } {
  let now = 0;
  const timers: { at: number; fn: () => void; live: boolean }[] = [];
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const t = { at: now + ms, fn, live: true };
      timers.push(t);
      return { cancel: () => (t.live = false) };
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = timers.filter((t) => t.live && t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        due.live = false;
        now = due.at;
        due.fn();
        for (let i = 0; i < 5; i++) await Promise.resolve();
      }
      now = end;
    },
  };
}

test('disconnect plan: INT at 150 ms, TERM at 500 ms, KILL at 1500 ms', async () => {
  const clock = fakeClock();
  const sent: [number, string][] = [];
  escalate({ signal: async (s) => void sent.push([clock.now(), s]), groupAlive: async () => true }, DISCONNECT_PLAN, clock);
  await clock.advance(2000);
  assert.deepEqual(sent, [[150, 'INT'], [500, 'TERM'], [1500, 'KILL']]);
});

test('escalation stops as soon as the group is gone', async () => {
  const clock = fakeClock();
  const sent: string[] = [];
  let alive = true;
  escalate({ signal: async (s) => void (sent.push(s), (alive = false)), groupAlive: async () => alive }, DISCONNECT_PLAN, clock);
  await clock.advance(2000);
  assert.deepEqual(sent, ['INT']);
});

test('after a client /signal INT, TERM and KILL follow if the group lives on', async () => {
  const clock = fakeClock();
  const sent: [number, string][] = [];
  escalate({ signal: async (s) => void sent.push([clock.now(), s]), groupAlive: async () => true }, planAfterSignal('INT'), clock);
  await clock.advance(20_000);
  assert.deepEqual(sent, [[0, 'INT'], [5000, 'TERM'], [10_000, 'KILL']]);
});

test('auth: Bearer scheme case-insensitive, exact token only', () => {
  const tok = '0123456789abcdef0123456789abcdef';
  assert.equal(isAuthorized(`Bearer ${tok}`, tok), true);
  assert.equal(isAuthorized(`bearer    ${tok}  `, tok), true);
  for (const bad of [undefined, tok, `Basic ${tok}`, `Bearer "${tok}"`, `Bearer ${tok}.`, 'Bearer', '']) {
    assert.equal(isAuthorized(bad, tok), false, String(bad));
  }
});

test('cwd normalisation folds slashes and refuses escapes', () => {
  assert.equal(normaliseCwd('/workspace//a/', '/workspace'), '/workspace/a');
  assert.equal(normaliseCwd('/workspace', '/workspace'), '/workspace');
  for (const bad of ['/workspacex', '/', 'workspace', '/workspace/./a', '/workspace/../etc']) {
    assert.throws(() => normaliseCwd(bad, '/workspace'), /bad request/, bad);
  }
});

test('log argv: secrets redacted, shell-joined', () => {
  assert.deepEqual(redactArgs(['--token', 'abc', '--key=zz', 'Authorization: Bearer xyz', 'ok']), ['--token', '***', '--key=***', 'Authorization: Bearer ***', 'ok']);
  assert.equal(shellJoin(['a', 'b c', "it's", '']), `a 'b c' 'it'"'"'s' ''`);
});
