// e2e (real Docker): the docker runner against real toolchain sidecars built by
// `aifo images build` (scripts/ci-docker.sh). Images are found by tag AIFO_TEST_IMAGE_TAG
// (default `local`); missing images fail the suite with a message saying how to build them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import Dockerode from 'dockerode';
import type { ExecEnd } from '../../src/protocol/end.js';
import { AifoError } from '../../src/protocol/errors.js';
import { newExecId } from '../../src/protocol/execid.js';
import { routeTool, type ToolchainKind } from '../../src/protocol/tools.js';
import { createDockerRunner } from '../../src/proxy/runners/docker.js';
import type { Runner, RunningExec } from '../../src/proxy/runners/types.js';
import { sidecarDown, sidecarUp } from '../../src/sidecar/index.js';

const TAG = process.env['AIFO_TEST_IMAGE_TAG'] || 'local';
const KINDS: readonly ToolchainKind[] = ['rust', 'node', 'python', 'c-cpp', 'go'];
const docker = new Dockerode();

async function requireImages(kinds: readonly ToolchainKind[]): Promise<void> {
  const missing: string[] = [];
  for (const k of kinds) {
    try {
      await docker.getImage(`aifo-toolchain-${k}:${TAG}`).inspect();
    } catch {
      missing.push(`aifo-toolchain-${k}:${TAG}`);
    }
  }
  if (missing.length > 0) {
    throw new Error(
      `e2e images missing: ${missing.join(', ')}. Build them with scripts/ci-docker.sh ` +
        `(or \`aifo images build --toolchain <kind>\`), or point AIFO_TEST_IMAGE_TAG at a tag you built.`,
    );
  }
}

/** Waits for `cond` to hold, checking every 50 ms; fails after `ms`. */
async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function collect(output: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of output) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

let workspace: string;
let session: string;
let runner: Runner;
let sidecars: Map<ToolchainKind, string>;

async function start(r: Runner, tool: string, args: string[], o: { cwd?: string; tty?: boolean; kind?: ToolchainKind } = {}): Promise<RunningExec> {
  const route = routeTool(tool);
  const kind = o.kind ?? (route ? await r.place(tool, route) : 'c-cpp');
  return r.start({ execId: newExecId(), tool, args, cwd: o.cwd ?? workspace, tty: o.tty ?? false, kind });
}

async function run(tool: string, args: string[], o: { cwd?: string; tty?: boolean; kind?: ToolchainKind } = {}): Promise<{ out: string; end: ExecEnd }> {
  const ex = await start(runner, tool, args, o);
  const [out, end] = await Promise.all([collect(ex.output), ex.ended]);
  return { out: out.toString('utf8'), end };
}

before(async () => {
  await requireImages(KINDS);
  workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-ws-')));
  // Sidecars run as our uid; the workspace must be theirs to write.
  await chmod(workspace, 0o777);
  session = `e2e-${randomBytes(4).toString('hex')}`;
  const up = await sidecarUp({ kinds: KINDS, workspace, session, tag: TAG, uid: process.getuid!(), gid: process.getgid!() });
  sidecars = new Map(Object.entries(up.sidecars) as [ToolchainKind, string][]);
  runner = createDockerRunner({ sidecars, docker });
});

after(async () => {
  await runner?.close();
  if (session) await sidecarDown({ session, docker });
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

describe('docker runner: toolchains', () => {
  test('cargo --version streams from the rust sidecar', async () => {
    const { out, end } = await run('cargo', ['--version']);
    assert.match(out, /^cargo 1\.\d+/);
    assert.deepEqual(end, { kind: 'exited', code: 0 });
  });

  test('output streams as produced, not at the end', async () => {
    const ex = await start(runner, 'python3', ['-c', 'import time; print("first", flush=True); time.sleep(1.5); print("second")']);
    const t0 = performance.now();
    const first = await new Promise<{ chunk: Buffer; at: number }>((resolve) => ex.output.once('data', (chunk: Buffer) => resolve({ chunk, at: performance.now() })));
    const rest = await collect(ex.output);
    const end = await ex.ended;
    const endAt = performance.now();
    assert.match(first.chunk.toString('utf8'), /^first/);
    assert.ok(endAt - first.at > 1000, `first output ${(first.at - t0).toFixed(0)} ms after start, end ${(endAt - t0).toFixed(0)} ms`);
    assert.match(rest.toString('utf8'), /second/);
    assert.equal(end.kind, 'exited');
  });

  test('cargo build of a crate in the workspace leaves the artifact on the host', async () => {
    const crate = path.join(workspace, 'hello-crate');
    await mkdir(path.join(crate, 'src'), { recursive: true });
    await writeFile(path.join(crate, 'Cargo.toml'), '[package]\nname = "hello-crate"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n');
    await writeFile(path.join(crate, 'src', 'main.rs'), 'fn main() { println!("hello from aifo"); }\n');
    const { out, end } = await run('cargo', ['build', '--offline'], { cwd: crate });
    assert.deepEqual(end, { kind: 'exited', code: 0 }, out);
    const bin = path.join(crate, 'target', 'debug', 'hello-crate');
    assert.ok(existsSync(bin), `${bin} missing; cargo said:\n${out}`);
    const ran = await run(bin, [], { kind: 'rust', cwd: crate });
    assert.equal(ran.out, 'hello from aifo\n');
  });

  test('npm --version in the node sidecar', async () => {
    const { out, end } = await run('npm', ['--version']);
    assert.match(out, /^\d+\.\d+\.\d+\n$/);
    assert.deepEqual(end, { kind: 'exited', code: 0 });
  });

  test('python3 -c, and python is python3', async () => {
    const a = await run('python3', ['-c', 'import sys; print(sys.version_info[0])']);
    assert.equal(a.out, '3\n');
    const b = await run('python', ['-c', 'import sys; print(sys.version_info[0])']);
    assert.equal(b.out, '3\n');
  });

  test('go version in the go sidecar', async () => {
    const { out, end } = await run('go', ['version']);
    assert.match(out, /^go version go1\./);
    assert.deepEqual(end, { kind: 'exited', code: 0 });
  });

  test('a C program compiled with gcc and run', async () => {
    const dir = path.join(workspace, 'c-hello');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'hello.c'), '#include <stdio.h>\nint main(void) { printf("hello %d\\n", 6 * 7); return 3; }\n');
    const cc = await run('gcc', ['-o', 'hello', 'hello.c'], { cwd: dir });
    assert.deepEqual(cc.end, { kind: 'exited', code: 0 }, cc.out);
    const ran = await run('./hello', [], { cwd: dir, kind: 'c-cpp' });
    assert.equal(ran.out, 'hello 42\n');
    assert.deepEqual(ran.end, { kind: 'exited', code: 3 });
  });
});

describe('docker runner: exec semantics', () => {
  test('the request cwd is the working directory (reference ignored it, §8.9)', async () => {
    const sub = path.join(workspace, 'sub dir');
    await mkdir(sub, { recursive: true });
    const { out } = await run('python3', ['-c', 'import os; print(os.getcwd())'], { cwd: sub });
    assert.equal(out, `${sub}\n`);
  });

  test('exit codes come through; a missing tool is 127', async () => {
    assert.deepEqual((await run('python3', ['-c', 'import sys; sys.exit(7)'])).end, { kind: 'exited', code: 7 });
    assert.deepEqual((await run('no-such-tool-here', [], { kind: 'python' })).end, { kind: 'exited', code: 127 });
  });

  test('arguments arrive verbatim, never through a shell string', async () => {
    const args = ['$(id)', '"; touch /tmp/pwned; "', "it's", 'a\nb', '*', ''];
    const { out } = await run('python3', ['-c', 'import sys, json; print(json.dumps(sys.argv[1:]))', ...args]);
    assert.deepEqual(JSON.parse(out), args);
  });

  test('stderr and stdout are merged in order', async () => {
    const code = 'import sys\nfor i in range(5):\n print(f"out{i}", flush=True)\n print(f"err{i}", file=sys.stderr, flush=True)';
    const { out } = await run('python3', ['-c', code]);
    assert.equal(out, 'out0\nerr0\nout1\nerr1\nout2\nerr2\nout3\nerr3\nout4\nerr4\n');
  });

  test('with a TTY the tool sees a terminal', async () => {
    const { out, end } = await run('python3', ['-c', 'import sys; print(sys.stdout.isatty(), sys.stderr.isatty())'], { tty: true });
    assert.equal(out, 'True True\r\n');
    assert.deepEqual(end, { kind: 'exited', code: 0 });
  });

  test('the exec directory is removed after a failing command (reference §8.17)', async () => {
    const execId = newExecId();
    const ex = await runner.start({ execId, tool: 'python3', args: ['-c', 'import sys; sys.exit(3)'], cwd: workspace, tty: false, kind: 'python' });
    await collect(ex.output);
    assert.deepEqual(await ex.ended, { kind: 'exited', code: 3 });
    const probe = await run('sh', ['-c', 'ls -A "$HOME/.aifo-exec"; echo end'], { kind: 'python' });
    assert.ok(!probe.out.includes(execId), probe.out);
  });

  test('100 MB of output is byte-identical to the generator run directly', async () => {
    const gen = 'import random,sys; r=random.Random(42); w=sys.stdout.buffer.write\nfor _ in range(100): w(r.randbytes(1<<20))';
    const direct = await run('sh', ['-c', 'python3 -c "$1" | sha256sum', 'sh', gen], { kind: 'python' });
    const expected = direct.out.split(' ')[0];
    const ex = await start(runner, 'python3', ['-c', gen]);
    const h = createHash('sha256');
    let n = 0;
    for await (const c of ex.output) {
      h.update(c as Buffer);
      n += (c as Buffer).length;
    }
    assert.deepEqual(await ex.ended, { kind: 'exited', code: 0 });
    assert.equal(n, 100 * 2 ** 20);
    assert.equal(h.digest('hex'), expected);
  });

  test('a slow reader slows the tool: nothing is dropped, nothing piles up', async () => {
    const ex = await start(runner, 'python3', ['-c', 'import sys; w=sys.stdout.buffer.write\nfor i in range(64): w(bytes([i]) * (1<<20))']);
    ex.output.pause();
    await new Promise((r) => setTimeout(r, 1500));
    // The tool could have written 64 MiB by now; with backpressure only buffers' worth is here.
    assert.ok(ex.output.readableLength < 4 * 2 ** 20, `buffered ${ex.output.readableLength} bytes while paused`);
    const all = await collect(ex.output);
    assert.equal(all.length, 64 * 2 ** 20);
    for (let i = 0; i < 64; i++) assert.equal(all[i * 2 ** 20 + 12345], i);
    assert.deepEqual(await ex.ended, { kind: 'exited', code: 0 });
  });
});

describe('docker runner: process groups and signals', () => {
  async function groupPids(kind: ToolchainKind, marker: string): Promise<string> {
    const r = await run('sh', ['-c', 'ps -eo pid=,pgid=,args= | grep -F -- "$1" | grep -v grep || true', 'sh', marker], { kind });
    return r.out;
  }

  test('INT reaches the whole process group; ps in the sidecar shows it gone', async () => {
    const marker = `aifo-int-${randomBytes(3).toString('hex')}`;
    const ex = await start(runner, 'sh', ['-c', 'while :; do sleep 1; done', marker], { kind: 'python' });
    const out = collect(ex.output);
    await until(async () => (await groupPids('python', marker)).includes(marker), 5000, 'the loop to run');
    assert.equal(await ex.groupAlive(), true);
    await ex.signal('INT');
    const end = await ex.ended;
    await out;
    assert.deepEqual(end, { kind: 'signaled', signal: 'INT' });
    assert.equal(await ex.groupAlive(), false);
    assert.equal(await groupPids('python', marker), '');
  });

  test('a group ignoring INT lives on until TERM', async () => {
    const marker = `aifo-term-${randomBytes(3).toString('hex')}`;
    const ex = await start(runner, 'sh', ['-c', 'trap "" INT; while :; do sleep 1; done', marker], { kind: 'python' });
    const out = collect(ex.output);
    await until(async () => (await groupPids('python', marker)).includes(marker), 5000, 'the loop to run');
    await ex.signal('INT');
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(await ex.groupAlive(), true, 'INT is ignored, the group must still be there');
    await ex.signal('TERM');
    assert.deepEqual(await ex.ended, { kind: 'signaled', signal: 'TERM' });
    await out;
    assert.equal(await groupPids('python', marker), '');
  });

  test('KILL ends a group whose grandchild holds stdout; the exec ends once the group is gone', async () => {
    const marker = `aifo-kill-${randomBytes(3).toString('hex')}`;
    const ex = await start(runner, 'sh', ['-c', 'trap "" INT TERM; sleep 300 & sleep 301; wait', marker], { kind: 'python' });
    const out = collect(ex.output);
    await until(async () => (await groupPids('python', marker)).includes(marker), 5000, 'the group to run');
    await ex.signal('KILL');
    const end = await ex.ended;
    await out;
    assert.deepEqual(end, { kind: 'signaled', signal: 'KILL' });
    assert.equal(await ex.groupAlive(), false);
    const left = await run('sh', ['-c', 'ps -eo args= | grep -E "^sleep 30[01]$" || true'], { kind: 'python' });
    assert.equal(left.out, '');
  });

  test('a signal right after start is not lost', async () => {
    const ex = await start(runner, 'sh', ['-c', 'while :; do sleep 1; done'], { kind: 'python' });
    await ex.signal('TERM');
    await collect(ex.output);
    assert.deepEqual(await ex.ended, { kind: 'signaled', signal: 'TERM' });
  });
});

describe('docker runner: placement', () => {
  test('make goes to c-cpp when it runs', async () => {
    assert.equal(await runner.place('make', routeTool('make')!), 'c-cpp');
  });

  test('make goes to rust when only rust runs, and runs there', async () => {
    const only = createDockerRunner({ sidecars: new Map([['rust', sidecars.get('rust')!]]), docker });
    try {
      assert.equal(await only.place('make', routeTool('make')!), 'rust');
      const dir = path.join(workspace, 'mk');
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, 'Makefile'), 'all:\n\t@echo made by make\n');
      const ex = await only.start({ execId: newExecId(), tool: 'make', args: [], cwd: dir, tty: false, kind: 'rust' });
      assert.equal((await collect(ex.output)).toString('utf8'), 'made by make\n');
      assert.deepEqual(await ex.ended, { kind: 'exited', code: 0 });
    } finally {
      await only.close();
    }
  });

  test('a dev tool nobody has gives 409 naming the toolchain to start', async () => {
    const only = createDockerRunner({ sidecars: new Map([['node', sidecars.get('node')!]]), docker });
    try {
      await assert.rejects(only.place('cmake', routeTool('cmake')!), (err: unknown) => {
        assert.ok(err instanceof AifoError);
        assert.equal(err.status, 409);
        assert.match(err.message, /tool 'cmake' not available in running sidecars; start an appropriate toolchain \(e\.g\., --toolchain c-cpp\)/);
        return true;
      });
    } finally {
      await only.close();
    }
  });

  test('a kind tool without its sidecar configured gives 409', async () => {
    const only = createDockerRunner({ sidecars: new Map([['node', sidecars.get('node')!]]), docker });
    try {
      await assert.rejects(only.place('cargo', routeTool('cargo')!), (err: unknown) => err instanceof AifoError && err.status === 409 && /--toolchain rust/.test(err.message));
    } finally {
      await only.close();
    }
  });
});

describe('docker runner: sidecar missing or stopped', () => {
  test('routing follows the sidecars: make leaves a stopped c-cpp for rust, comes back when c-cpp runs again, and probes a recreated one anew', async () => {
    const ws = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-route-')));
    await chmod(ws, 0o777);
    const s = `e2e-route-${randomBytes(3).toString('hex')}`;
    try {
      const up = await sidecarUp({ kinds: ['rust', 'c-cpp'], workspace: ws, session: s, tag: TAG, uid: process.getuid!(), gid: process.getgid!() });
      const cpp = up.sidecars['c-cpp']!;
      const r = createDockerRunner({ sidecars: new Map([['rust', up.sidecars.rust!], ['c-cpp', cpp]]), docker });
      try {
        const make = routeTool('make')!;
        assert.equal(await r.place('make', make), 'c-cpp');
        await docker.getContainer(cpp).stop({ t: 0 });
        assert.equal(await r.place('make', make), 'rust', 'a stopped c-cpp is skipped');
        await docker.getContainer(cpp).start();
        assert.equal(await r.place('make', make), 'c-cpp', 'the preferred sidecar is used again once it runs');
        assert.equal(await r.place('cmake', routeTool('cmake')!), 'c-cpp', 'probed: c-cpp has cmake');
        // Recreated under the same name from an image without cmake: the cached "has cmake"
        // belongs to the old container and must not be used.
        await docker.getContainer(cpp).remove({ force: true });
        const created = await docker.createContainer({ name: cpp, Image: `aifo-toolchain-python:${TAG}`, Cmd: ['sleep', 'infinity'], HostConfig: { NetworkMode: 'none' } });
        await created.start();
        await assert.rejects(r.place('cmake', routeTool('cmake')!), (err: unknown) => err instanceof AifoError && err.status === 409);
      } finally {
        await r.close();
      }
    } finally {
      await sidecarDown({ session: s, docker });
      await docker.getContainer(`aifo-tc-c-cpp-${s}`).remove({ force: true }).catch(() => undefined);
      await rm(ws, { recursive: true, force: true });
    }
  });

  test('a stopped sidecar gives 409 from place and from start, and no hang', async () => {
    const ws = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-stop-')));
    const s = `e2e-stop-${randomBytes(3).toString('hex')}`;
    try {
      const up = await sidecarUp({ kinds: ['python'], workspace: ws, session: s, tag: TAG, uid: process.getuid!(), gid: process.getgid!() });
      const name = up.sidecars.python!;
      const r = createDockerRunner({ sidecars: new Map([['python', name]]), docker });
      try {
        assert.equal(await r.place('python3', routeTool('python3')!), 'python');
        await docker.getContainer(name).stop({ t: 0 });
        await assert.rejects(r.place('python3', routeTool('python3')!), (err: unknown) => err instanceof AifoError && err.status === 409 && err.message.includes('is not running'));
        await assert.rejects(
          r.start({ execId: newExecId(), tool: 'python3', args: ['-V'], cwd: ws, tty: false, kind: 'python' }),
          (err: unknown) => err instanceof AifoError && err.status === 409,
        );
        // A dev tool skips the stopped sidecar instead of failing on it.
        await assert.rejects(r.place('make', routeTool('make')!), (err: unknown) => err instanceof AifoError && err.status === 409);
        await docker.getContainer(name).remove({ force: true });
        await assert.rejects(r.place('python3', routeTool('python3')!), (err: unknown) => err instanceof AifoError && err.status === 409 && err.message.includes('does not exist'));
      } finally {
        await r.close();
      }
    } finally {
      await sidecarDown({ session: s, docker });
      await rm(ws, { recursive: true, force: true });
    }
  });
});

describe('docker runner: the workspace is shared', () => {
  test('a file written by a tool appears on the host with the caller as owner', async () => {
    const { end } = await run('python3', ['-c', 'open("from-sidecar.txt","w").write("x")']);
    assert.equal(end.kind, 'exited');
    const f = path.join(workspace, 'from-sidecar.txt');
    assert.equal(await readFile(f, 'utf8'), 'x');
    assert.equal((await stat(f)).uid, process.getuid!());
  });
});
