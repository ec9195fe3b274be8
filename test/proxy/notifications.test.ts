// /notify and the `say` tool: every refusal of the policy, a real allowed command, the timeout.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createNotifyHandler, parseNotificationsCommand, type NotifyOptions } from '../../src/proxy/notifications.js';
import { fixture, request, runShim, startProxy, tempDir } from '../helpers/proxy.js';

interface Setup {
  safe: string;
  config: string;
  said: string;
  opts: NotifyOptions;
}

/** A safe dir holding the stand-in `say`, a config file, and where `say` records its args. */
function setup(t: TestContext, configText: (safe: string) => string, over: Partial<NotifyOptions> = {}): Setup {
  const d = tempDir(t);
  const safe = path.join(d, 'safe');
  mkdirSync(safe);
  copyFileSync(fixture('notify/say'), path.join(safe, 'say'));
  const said = path.join(d, 'said');
  process.env['AIFO_TEST_SAY_LOG'] = said;
  const config = path.join(d, 'aider.conf.yml');
  writeFileSync(config, configText(safe));
  return { safe, config, said, opts: { configPath: config, timeoutMs: 2000, allowlist: ['say'], safeDirs: [safe], maxPlaceholderArgs: 8, ...over } };
}

const notify = (p: Awaited<ReturnType<typeof startProxy>>, cmd: string, args: string[]) =>
  request(p, { path: '/notify', form: [['cmd', cmd], ...args.map((a) => ['arg', a] as [string, string])] });

test('an allowed command runs with the request filling {args}; its exit code and output come back', async (t) => {
  const s = setup(t, (safe) => `model: x\nnotifications-command: ["${safe}/say", "--voice", "{args}"]\n`);
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  const r = await notify(p, 'say', ['build done', "it's fine"]);
  assert.equal(r.status, 200, r.body.toString());
  assert.equal(r.headers['x-exit-code'], '0');
  assert.equal(r.body.toString(), "said: --voice build done it's fine\nto stderr\n");
  assert.deepEqual(readFileSync(s.said, 'utf8').split('\n').filter(Boolean), ['--voice', 'build done', "it's fine"]);
});

test('the say tool through the real shim (native and curl) returns the command\'s exit code', async (t) => {
  const s = setup(t, (safe) => `notifications-command:\n  - ${safe}/say\n  - "{args}"\n`);
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  process.env['SAY_EXIT'] = '3';
  t.after(() => delete process.env['SAY_EXIT']);
  // Natively and through the curl fallback alike.
  for (const native of ['1', '0']) {
    const r = runShim(p, ['hello'], { tool: 'say', env: { AIFO_SHIM_NATIVE_HTTP: native } });
    assert.equal((await r.exit).code, 3, `native=${native}`);
    assert.match(Buffer.concat(r.stdout).toString(), /^said: hello\n/);
  }
});

test('without {args} the request must repeat the configured arguments exactly', async (t) => {
  const s = setup(t, (safe) => `notifications-command: ${safe}/say "all done"\n`);
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  assert.equal((await notify(p, 'say', ['all done'])).status, 200);
  const r = await notify(p, 'say', ['rm -rf /']);
  assert.equal(r.status, 403);
  assert.match(r.body.toString(), /^forbidden: arguments mismatch/);
});

test('every refusal is 403 with its reason, and the command does not run', async (t) => {
  const cases: [string, (s: string, d: string) => string, RegExp, Partial<NotifyOptions>?][] = [
    ['not in a safe directory', (_s, d) => `notifications-command: ["${d}/say", "{args}"]\n`, /is not in a safe directory/],
    ['symlink out of the safe dir', (s) => `notifications-command: ["${s}/link", "{args}"]\n`, /is not in a safe directory/],
    ['basename not allowlisted', (s) => `notifications-command: ["${s}/say", "{args}"]\n`, /command 'say' not allowed/, { allowlist: ['notify-send'] }],
    ['relative executable', () => 'notifications-command: ["say", "{args}"]\n', /must be an absolute path/],
    ['placeholder not trailing', (s) => `notifications-command: ["${s}/say", "{args}", "x"]\n`, /placeholder must be trailing/],
    ['missing key', () => 'model: gpt\n', /notifications-command not found/],
    ['bad config', () => 'notifications-command: ["unterminated\n', /unterminated/],
  ];
  for (const [name, text, re, over] of cases) {
    const s = setup(t, (safe) => text(safe, path.dirname(safe)), over);
    copyFileSync(fixture('notify/say'), path.join(path.dirname(s.safe), 'say'));
    const outside = tempDir(t);
    copyFileSync(fixture('notify/say'), path.join(outside, 'say'));
    symlinkSync(path.join(outside, 'say'), path.join(s.safe, 'link'));
    const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
    const r = await notify(p, 'say', ['x']);
    assert.equal(r.status, 403, `${name}: ${r.body}`);
    assert.match(r.body.toString(), re, name);
    assert.equal(r.headers['x-exit-code'], '86');
    assert.equal(existsSync(s.said), false, `${name}: nothing ran`);
  }
  // cmd must be the executable's basename.
  const s = setup(t, (safe) => `notifications-command: ["${safe}/say", "{args}"]\n`);
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  const r = await notify(p, 'notify-send', ['x']);
  assert.equal(r.status, 403);
  assert.match(r.body.toString(), /only executable basename 'say' is accepted \(got 'notify-send'\)/);
  const missing = await startProxy(t, { notify: createNotifyHandler({ ...s.opts, configPath: path.join(s.safe, 'nope.yml') }) });
  assert.equal((await notify(missing, 'say', [])).status, 403);
  assert.equal(existsSync(s.said), false);
});

test('a command over its timeout is killed and answered 408 with exit code 124', async (t) => {
  const s = setup(t, (safe) => `notifications-command: ["${safe}/say", "{args}"]\n`, { timeoutMs: 300 });
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  const t0 = performance.now();
  const r = await notify(p, 'say', ['sleep']);
  assert.equal(r.status, 408);
  assert.equal(r.headers['x-exit-code'], '124');
  assert.ok(performance.now() - t0 < 3000);
});

test('notify needs the token and protocol 2', async (t) => {
  const s = setup(t, (safe) => `notifications-command: ["${safe}/say", "{args}"]\n`);
  const p = await startProxy(t, { notify: createNotifyHandler(s.opts) });
  assert.equal((await request(p, { path: '/notify', token: 'bad', form: [['cmd', 'say']] })).status, 401);
  assert.equal((await request(p, { path: '/notify', proto: '1', form: [['cmd', 'say']] })).status, 426);
  assert.equal((await request(p, { path: '/notify', form: [] })).status, 400);
  assert.equal(existsSync(s.said), false);
});

test('config shapes: flow sequence, block sequence, string', () => {
  assert.deepEqual(parseNotificationsCommand('notifications-command: ["/usr/bin/say", "{args}"]', 'c'), ['/usr/bin/say', '{args}']);
  assert.deepEqual(parseNotificationsCommand("notifications-command:\n  - /usr/bin/say\n  - '{args}'\nother: 1", 'c'), ['/usr/bin/say', '{args}']);
  assert.deepEqual(parseNotificationsCommand('notifications-command: /usr/bin/say "a b" {args}', 'c'), ['/usr/bin/say', 'a b', '{args}']);
});
