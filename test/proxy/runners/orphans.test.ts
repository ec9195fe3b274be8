// A proxy that starts after its predecessor died stops the tools that one left behind, and
// leaves alone the tools of a proxy that is still alive (issue 7: restart works at once).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { test, type TestContext } from 'node:test';
import split2 from 'split2';
import { cliBundle, fixture, groupAlive, parsePidLine, runShim, tempDir, waitGroupGone } from '../../helpers/proxy.js';
import { proxyReady } from '../../helpers/proxy-ready.js';
import { ownerGone, ownerId } from '../../../src/proxy/runners/orphans.js';

async function proxyChild(t: TestContext, home: string, workspace: string): Promise<{ child: ChildProcess; url: string; token: string; stderr: string[] }> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const child = spawn(process.execPath, [cliBundle, 'proxy', '--workspace', workspace], { env });
  t.after(() => child.kill('SIGKILL'));
  const stderr: string[] = [];
  child.stderr!.pipe(split2()).on('data', (l: string) => stderr.push(l));
  const ready = await proxyReady(child);
  return { child, url: ready.url, token: ready.token, stderr };
}

test('a restarted proxy stops the tool groups its SIGKILLed predecessor left, and only those', async (t) => {
  const home = tempDir(t);
  const workspace = tempDir(t);
  const first = await proxyChild(t, home, workspace);
  const orphanRun = runShim({ url: first.url, token: first.token, workspace }, [fixture('forever.mjs')]);
  const { pgid: orphan } = parsePidLine(await orphanRun.waitFor('pid='));
  // A second, live proxy on the same HOME with a tool of its own.
  const live = await proxyChild(t, home, workspace);
  const keptRun = runShim({ url: live.url, token: live.token, workspace }, [fixture('forever.mjs')]);
  const { pgid: kept } = parsePidLine(await keptRun.waitFor('pid='));

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('close', r));
  assert.equal(groupAlive(orphan), true, 'a silent tool outlives a SIGKILLed proxy (nobody is left to stop it)');

  const second = await proxyChild(t, home, workspace);
  await waitGroupGone(orphan, 3000);
  assert.ok(second.stderr.some((l) => l.includes(`stopping process group ${orphan} left by a proxy that is gone`)), second.stderr.join('\n'));
  assert.equal(groupAlive(kept), true, "the live proxy's tool is left alone");
  keptRun.child.kill('SIGINT');
  await keptRun.exit;
  await orphanRun.exit;
});

test('ownerGone: only an owner on this boot, in this pid namespace, whose pid and start time no longer match', () => {
  const me = ownerId().split(' ');
  assert.equal(me.length, 5, ownerId());
  const [pid, , ns, boot, uid] = me as [string, string, string, string, string];
  assert.equal(ownerGone(me), false, 'a live owner');
  assert.equal(ownerGone([pid, '1', ns, boot, uid]), true, 'same pid, other start time: that proxy is gone');
  assert.equal(ownerGone([pid, '1', ns, 'another-boot', uid]), false, 'another machine or boot: cannot tell');
  assert.equal(ownerGone([pid, '1', '1', boot, uid]), false, 'another pid namespace: cannot tell');
  assert.equal(ownerGone([pid, '1', ns, boot]), false, 'an old record without boot id and uid');
  assert.equal(ownerGone([pid, '?', ns, boot, uid]), false, 'unknown start time');
});
