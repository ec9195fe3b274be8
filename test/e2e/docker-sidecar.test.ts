// e2e (real Docker): sidecar lifecycle — `up` / `down` / `ls` and the session file. Uses the
// python toolchain image (the smallest), tag AIFO_TEST_IMAGE_TAG (default `local`).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import Dockerode from 'dockerode';
import { DemuxStream } from '../../src/proxy/runners/docker/demux.js';
import { cliBundle } from '../helpers/proxy.js';
import { defaultSession, readSessionFile, sessionFilePath, sidecarDown, sidecarList, sidecarMap, sidecarUp } from '../../src/sidecar/index.js';

const TAG = process.env['AIFO_TEST_IMAGE_TAG'] || 'local';
const IMAGE = `aifo-toolchain-python:${TAG}`;
const docker = new Dockerode();
const UID = 4321;
const GID = 4321;

let workspace: string;
let stateDir: string;
const sessions: string[] = [];

function newSession(): string {
  const s = `e2e-sc-${randomBytes(4).toString('hex')}`;
  sessions.push(s);
  return s;
}

/** Runs `cmd` in the container as its configured user; returns exit code and merged output. */
async function execIn(name: string, cmd: string[]): Promise<{ code: number | null; out: string }> {
  const ex = await docker.getContainer(name).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const raw = (await ex.start({ hijack: false, stdin: false, Detach: false, Tty: false })) as Readable;
  const demux = new DemuxStream();
  raw.pipe(demux);
  const chunks: Buffer[] = [];
  for await (const c of demux) chunks.push(c as Buffer);
  let info = await ex.inspect();
  while (info.Running) info = await ex.inspect();
  return { code: info.ExitCode, out: Buffer.concat(chunks).toString('utf8') };
}

before(async () => {
  try {
    await docker.getImage(IMAGE).inspect();
  } catch {
    throw new Error(`e2e image ${IMAGE} missing. Build it with scripts/ci-docker.sh (or \`aifo images build --toolchain python\`).`);
  }
  workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-sc-')));
  await chmod(workspace, 0o777);
  // Session files of this test go to a directory of its own.
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-state-'));
  process.env['AIFO_STATE_DIR'] = stateDir;
});

after(async () => {
  for (const s of sessions) await sidecarDown({ session: s, docker }).catch(() => undefined);
  await rm(workspace, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
});

test('up starts one labelled, network-less sidecar per kind with the workspace at the same path', async () => {
  const session = newSession();
  const up = await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  assert.deepEqual(up.sidecars, { python: `aifo-tc-python-${session}` });
  assert.deepEqual(up.created, [`aifo-tc-python-${session}`]);
  const info = await docker.getContainer(up.sidecars.python!).inspect();
  assert.equal(info.State.Running, true);
  assert.equal(info.Config.User, `${UID}:${GID}`);
  assert.equal(info.HostConfig.NetworkMode, 'none');
  assert.equal(info.HostConfig.Init, true);
  assert.equal(info.Config.Labels['org.aifo.session'], session);
  assert.equal(info.Config.Labels['org.aifo.kind'], 'python');
  assert.equal(info.Config.Labels['org.aifo.workspace'], workspace);
  const ws = info.Mounts.find((m) => m.Destination === workspace);
  assert.equal(ws?.Source, workspace);
  const cache = info.Mounts.find((m) => m.Type === 'volume');
  assert.equal(cache?.Name, 'aifo-cache-python');
  assert.equal(cache?.Destination, '/home/coder/.cache/pip');

  // The caller's uid can use HOME, the cache volume and the workspace.
  const r = await execIn(up.sidecars.python!, [
    'sh',
    '-c',
    'mkdir -p "$HOME/.aifo-exec/t" && touch "$PIP_CACHE_DIR/probe-$(id -u)" && touch "$1/made-in-sidecar" && id -u && echo "$HOME"',
    'sh',
    workspace,
  ]);
  assert.equal(r.code, 0, r.out);
  assert.equal(r.out, `${UID}\n/home/coder\n`);
  assert.ok(existsSync(path.join(workspace, 'made-in-sidecar')));
  // No network interface but loopback.
  const net = await execIn(up.sidecars.python!, ['ls', '/sys/class/net']);
  assert.equal(net.out.trim(), 'lo');
});

test('up twice keeps the same containers; the session file maps kind to container', async () => {
  const session = newSession();
  const first = await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  const id1 = (await docker.getContainer(first.sidecars.python!).inspect()).Id;
  const second = await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  const id2 = (await docker.getContainer(second.sidecars.python!).inspect()).Id;
  assert.equal(id2, id1);
  assert.deepEqual(second.created, []);
  assert.equal(second.file, sessionFilePath(session));
  assert.ok(second.file.startsWith(stateDir));
  const file = await readSessionFile(session);
  assert.deepEqual(file, { session, workspace, sidecars: { python: `aifo-tc-python-${session}` } });
  assert.deepEqual([...sidecarMap(file!)], [['python', `aifo-tc-python-${session}`]]);
  assert.equal(JSON.parse(await readFile(second.file, 'utf8')).version, 1);
});

test('a stopped or half-created sidecar from a crash is replaced by the next up', async () => {
  const session = newSession();
  const name = `aifo-tc-python-${session}`;
  // Half-created: a container with the name that was never started, as a crash between
  // create and start leaves it.
  await docker.createContainer({ name, Image: IMAGE, Cmd: ['sleep', 'infinity'], Labels: { 'org.aifo.sidecar': '1', 'org.aifo.session': session, 'org.aifo.kind': 'python' }, HostConfig: { NetworkMode: 'none' } });
  const up = await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  assert.deepEqual(up.created, [name]);
  const info = await docker.getContainer(name).inspect();
  assert.equal(info.State.Running, true);
  assert.equal(info.Config.Labels['org.aifo.workspace'], workspace);
  // Stopped: up starts a fresh one again.
  await docker.getContainer(name).stop({ t: 0 });
  const again = await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  assert.deepEqual(again.created, [name]);
  assert.notEqual((await docker.getContainer(name).inspect()).Id, info.Id);
});

test('ls lists a session; down removes its sidecars (any state) and the session file', async () => {
  const session = newSession();
  await sidecarUp({ kinds: ['python'], workspace, session, tag: TAG, uid: UID, gid: GID });
  const ls = await sidecarList({ session, docker });
  assert.equal(ls.length, 1);
  assert.equal(ls[0]!.kind, 'python');
  assert.equal(ls[0]!.state, 'running');
  assert.equal(ls[0]!.workspace, workspace);
  assert.equal(ls[0]!.image, IMAGE);
  // The CLI prints the same, one tab-separated line per sidecar.
  const cli = execFileSync(process.execPath, [cliBundle, 'sidecar', 'ls', '--session', session], { encoding: 'utf8' });
  assert.equal(cli, `${ls[0]!.name}\tpython\trunning\t${IMAGE}\t${workspace}\n`);
  await docker.getContainer(ls[0]!.name).stop({ t: 0 });
  const removed = await sidecarDown({ session, docker });
  assert.deepEqual(removed, [`aifo-tc-python-${session}`]);
  assert.deepEqual(await sidecarList({ session, docker }), []);
  assert.equal(await readSessionFile(session), undefined);
  // down again is fine.
  assert.deepEqual(await sidecarDown({ session, docker }), []);
});

test('the default session is stable per workspace', async () => {
  assert.equal(defaultSession(workspace), defaultSession(`${workspace}/`));
  assert.notEqual(defaultSession(workspace), defaultSession(`${workspace}-other`));
  assert.match(defaultSession(workspace), /^ws-[0-9a-f]{12}$/);
});

test('a missing image says how to build it', async () => {
  await assert.rejects(
    sidecarUp({ kinds: ['python'], workspace, session: newSession(), images: { python: 'aifo-no-such-image:nope' }, uid: UID, gid: GID }),
    /image aifo-no-such-image:nope for the python sidecar is not in the local engine; build it with `aifo images build --toolchain python`/,
  );
});
