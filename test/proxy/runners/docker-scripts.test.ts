// integration: the docker runner's constant sidecar scripts, run on this machine under dash,
// bash and busybox sh (a sidecar's /bin/sh may be any of them). No engine needed: the scripts
// only use sh, setsid, mkdir, mv, rm, kill and sleep.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXEC_WRAPPER, GROUP_SCRIPT, ORPHAN_LIST_SCRIPT, SCRIPT_ARG0 } from '../../../src/proxy/runners/docker/scripts.js';
import { program } from '../../helpers/programs.js';

const SHELLS: [string, string[]][] = [
  ['dash', [program('dash')]],
  ['bash', [program('bash')]],
  ['busybox sh', [program('busybox'), 'sh']],
];

let home: string;
let tmp: string;

before(async () => {
  home = await mkdtemp(path.join(os.tmpdir(), 'aifo-scripts-home-'));
  tmp = await mkdtemp(path.join(os.tmpdir(), 'aifo-scripts-tmp-'));
});
after(async () => {
  await chmod(home, 0o700).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  out: string;
  ms: number;
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: home, TMPDIR: tmp, ...extra };
}

/** Starts EXEC_WRAPPER under `shell`; stderr is captured apart to prove the tool's is merged. */
function wrapper(shell: string[], id: string, argv: string[], extra: Record<string, string> = {}) {
  const t0 = performance.now();
  const p = spawn(shell[0]!, [...shell.slice(1), '-c', EXEC_WRAPPER, SCRIPT_ARG0, id, ...argv], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  p.stdout.on('data', (c: Buffer) => out.push(c));
  p.stderr.on('data', (c: Buffer) => err.push(c));
  const done = new Promise<Ran & { err: string }>((resolve) =>
    p.once('close', (code) => resolve({ code, out: Buffer.concat(out).toString('utf8'), err: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 })),
  );
  return { p, done };
}

function group(shell: string[], id: string, sig: string, extra: Record<string, string> = {}): Ran {
  const t0 = performance.now();
  const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', GROUP_SCRIPT, SCRIPT_ARG0, id, sig], { env: env(extra), encoding: 'utf8' });
  return { code: r.status, out: r.stdout, ms: performance.now() - t0 };
}

async function waitFor(file: string): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!existsSync(file)) {
    if (performance.now() > deadline) assert.fail(`${file} never appeared`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const [label, shell] of SHELLS) {
  describe(`sidecar scripts under ${label}`, () => {
    test('the tool is the group leader, its pgid is recorded, stderr joins stdout, the directory goes', async () => {
      const id = `lead-${label.replace(' ', '-')}`;
      const { done } = wrapper(shell, id, ['sh', '-c', 'cat "$HOME/.aifo-exec/$0/pgid"; echo $$; ps -o pgid= -p $$ | tr -d " "; echo to-stderr >&2; exit 7', id]);
      const r = await done;
      const [recorded, pid, pgid, msg] = r.out.trim().split('\n');
      assert.equal(recorded, pid);
      assert.equal(pgid, pid);
      assert.equal(msg, 'to-stderr');
      assert.equal(r.err, '');
      assert.equal(r.code, 7);
      assert.equal(existsSync(path.join(home, '.aifo-exec', id)), false);
    });

    test('the tool starts with SIGINT not ignored (a background job would)', async () => {
      const { done } = wrapper(shell, 'sigign', ['sh', '-c', 'grep SigIgn /proc/$$/status']);
      const mask = BigInt(`0x${(await done).out.trim().split(/\s+/)[1]}`);
      assert.equal(mask & 2n, 0n, 'SIGINT (bit 2) must not be ignored');
    });

    test('the wrapper ends only when the whole group is gone', async () => {
      const { done } = wrapper(shell, 'grandchild', ['sh', '-c', 'sleep 1 & echo leader-done']);
      const r = await done;
      assert.equal(r.out, 'leader-done\n');
      assert.ok(r.ms >= 900, `ended after ${r.ms.toFixed(0)} ms, before the grandchild`);
    });

    test('group script: alive, signal, then gone; the status is 128+N', async () => {
      const id = `sig-${label.replace(' ', '-')}`;
      const { done } = wrapper(shell, id, ['sh', '-c', 'while :; do sleep 1; done']);
      await waitFor(path.join(home, '.aifo-exec', id, 'pgid'));
      const pgid = (await readFile(path.join(home, '.aifo-exec', id, 'pgid'), 'utf8')).trim();
      const alive = group(shell, id, '0');
      assert.deepEqual([alive.code, alive.out.trim()], [0, pgid]);
      assert.equal(group(shell, id, 'INT').code, 0);
      const r = await done;
      assert.equal(r.code, 130);
      assert.equal(existsSync(path.join(home, '.aifo-exec', id)), false);
      assert.equal(group(shell, id, '0').code, 2, 'no pgid once the exec is over');
    });

    test('HOME not writable: both scripts use the same TMPDIR fallback', async () => {
      // Nobody, root included, can create a directory below a regular file.
      const noHome = path.join('/proc/self/status', 'home');
      const id = `fallback-${label.replace(' ', '-')}`;
      const { done } = wrapper(shell, id, ['sh', '-c', 'while :; do sleep 1; done'], { HOME: noHome });
      const dir = path.join(tmp, `.aifo-exec-${process.getuid!()}`, id);
      await waitFor(path.join(dir, 'pgid'));
      assert.equal(group(shell, id, 'TERM', { HOME: noHome }).code, 0);
      assert.equal((await done).code, 143);
      assert.equal(existsSync(dir), false);
    });

    test('request data stays data: quotes, $(…) and newlines in the exec id slot and args', async () => {
      const args = ['$(touch pwned)', "'; exit 9; '", 'a\nb', '"'];
      const { done } = wrapper(shell, 'data', ['printf', '%s|', ...args]);
      const r = await done;
      assert.equal(r.out, `${args.join('|')}|`);
      assert.equal(existsSync(path.join(home, 'pwned')), false);
    });

    test('orphan list: an owned exec is listed while its wrapper runs, never once the wrapper is gone', async () => {
      const id = `own-${label.replace(' ', '-')}`;
      const owned = wrapper(shell, id, ['sh', '-c', 'echo "owner=${AIFO_EXEC_OWNER-unset}"; exec sleep 30'], { AIFO_EXEC_OWNER: '4242 777 4026531836' });
      const unowned = wrapper(shell, `${id}-none`, ['sleep', '30']);
      const pgidFile = path.join(home, '.aifo-exec', id, 'pgid');
      await waitFor(pgidFile);
      await waitFor(path.join(home, '.aifo-exec', `${id}-none`, 'pgid'));
      const pgid = (await readFile(pgidFile, 'utf8')).trim();
      const list = (): string[] => {
        const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', ORPHAN_LIST_SCRIPT, SCRIPT_ARG0], { env: env(), encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.split('\n').filter((l) => l.startsWith(`${id}`));
      };
      assert.deepEqual(list(), [`${id} ${pgid} 4242 777 4026531836`], 'listed with its pgid and owner; the unowned exec is not');
      // The wrapper dies without its trap (SIGKILL): its directory stays, but is no longer listed.
      owned.p.kill('SIGKILL');
      await owned.done;
      assert.ok(existsSync(pgidFile));
      assert.deepEqual(list(), []);
      process.kill(-Number(pgid), 'SIGKILL');
      unowned.p.kill('SIGTERM');
      group(shell, `${id}-none`, 'KILL');
      await unowned.done;
    });
  });
}
