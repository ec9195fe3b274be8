// e2e (real Docker): what the Debian-built images contain. Toolchain images: their tools,
// setsid and ps, a HOME any uid can use, nothing that carries apt credentials or host
// configuration. Agent image: /opt/aifo/bin from the layout function as its own layer (digest
// reproducible), PATH and SHELL, node for the shim, no compilers, slim without curl or apt.
// Images by tag AIFO_TEST_IMAGE_TAG (default `local`); missing images fail with how to build.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { before, describe, test } from 'node:test';
import Dockerode from 'dockerode';
import { dirEntries, writeTar } from '../../src/images/tar.js';
import { SOURCE_DATE_EPOCH } from '../../src/images/mmdebstrap.js';
import { DemuxStream } from '../../src/proxy/runners/docker/demux.js';
import { writeShimDir } from '../../src/wrappers/layout.js';
import { packageRoot } from '../../src/images/definitions.js';
import { cliBundle } from '../helpers/proxy.js';

const TAG = process.env['AIFO_TEST_IMAGE_TAG'] || 'local';
const docker = new Dockerode();

const TOOLS: Record<string, string[]> = {
  rust: ['cargo', 'rustc', 'make', 'cc', 'gcc'],
  node: ['node', 'npm', 'npx'],
  python: ['python', 'python3', 'pip', 'pip3'],
  'c-cpp': ['gcc', 'g++', 'cc', 'c++', 'clang', 'clang++', 'make', 'cmake', 'ninja', 'pkg-config'],
  go: ['go', 'gofmt'],
};

async function requireImage(ref: string, how: string): Promise<Dockerode.ImageInspectInfo> {
  try {
    return await docker.getImage(ref).inspect();
  } catch {
    throw new Error(`e2e image ${ref} missing. Build it with scripts/ci-docker.sh (or \`${how}\`), or set AIFO_TEST_IMAGE_TAG.`);
  }
}

/** `docker run --rm --network none [--user] IMAGE sh -c SCRIPT` through the engine API. */
async function runIn(image: string, script: string, o: { user?: string } = {}): Promise<{ code: number; out: string }> {
  const c = await docker.createContainer({
    Image: image,
    Entrypoint: ['/bin/sh', '-c', script],
    Cmd: [],
    AttachStdout: true,
    AttachStderr: true,
    ...(o.user ? { User: o.user } : {}),
    HostConfig: { NetworkMode: 'none', AutoRemove: false },
  });
  try {
    const raw = (await c.attach({ stream: true, stdout: true, stderr: true })) as unknown as Readable;
    const demux = new DemuxStream();
    raw.pipe(demux);
    const chunks: Buffer[] = [];
    const collected = (async () => {
      for await (const ch of demux) chunks.push(ch as Buffer);
    })();
    await c.start();
    const { StatusCode } = (await c.wait()) as { StatusCode: number };
    await collected;
    return { code: StatusCode, out: Buffer.concat(chunks).toString('utf8') };
  } finally {
    await c.remove({ force: true });
  }
}

const FORBIDDEN = 'test ! -e /etc/apt/auth.conf && test -z "$(ls -A /etc/apt/auth.conf.d 2>/dev/null)" && test ! -e /root/.netrc && test ! -e /etc/apt/apt.conf.d/99mmdebstrap && test -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -x lock | grep -v -x partial)" && ! grep -rqiE "proxy|password|login" /etc/apt/apt.conf.d /etc/apt/sources.list* 2>/dev/null && echo clean';

describe('toolchain images', () => {
  for (const [kind, tools] of Object.entries(TOOLS)) {
    test(`aifo-toolchain-${kind}: tools, setsid, ps, writable HOME, no credentials`, async () => {
      const ref = `aifo-toolchain-${kind}:${TAG}`;
      const info = await requireImage(ref, `aifo images build --toolchain ${kind}`);
      assert.equal(info.Config.Labels?.['org.aifo.kind'], kind);
      assert.match(info.Config.Labels?.['org.aifo.input-hash'] ?? '', /^[0-9a-f]{64}$/);
      const env = info.Config.Env ?? [];
      assert.ok(env.includes('HOME=/home/coder'), env.join(' '));
      const script = [
        'for t in "$@" setsid ps kill sleep mkdir; do command -v "$t" >/dev/null || { echo "missing $t"; exit 1; }; done',
        'mkdir -p "$HOME/.aifo-exec/x" && touch "$HOME/.aifo-exec/x/pgid" || exit 2',
        'command -v curl >/dev/null && { echo "curl present"; exit 3; }',
        FORBIDDEN,
      ].join('\n');
      const r = await runIn(ref, `${script}`.replace('"$@"', tools.join(' ')), { user: '4321:4321' });
      assert.equal(r.code, 0, r.out);
      assert.equal(r.out, 'clean\n');
    });
  }

  test('aifo images build (the CLI): an image whose inputs did not change is skipped by its input hash', async () => {
    const info = await requireImage(`aifo-toolchain-go:${TAG}`, 'aifo images build --toolchain go');
    const out = execFileSync(process.execPath, [cliBundle, 'images', 'build', '--toolchain', 'go', '--tag', TAG], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as { ref: string; id: string; skipped: boolean });
    assert.deepEqual(lines.map((l) => [l.ref, l.skipped, l.id]), [[`aifo-toolchain-go:${TAG}`, true, info.Id]]);
  });

  test('rust: cargo and rustc answer; the image has make and a C linker for build scripts', async () => {
    const r = await runIn(`aifo-toolchain-rust:${TAG}`, 'cargo --version && rustc --version && make --version | head -1 && cc --version | head -1', { user: '4321:4321' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^cargo 1\.\d+.*\nrustc 1\.\d+.*\nGNU Make .*\ncc .*\n$/);
  });
});

describe('agent image (slim)', () => {
  let info: Dockerode.ImageInspectInfo;
  const ref = `aifo-agent:${TAG}`;
  before(async () => {
    info = await requireImage(ref, 'aifo images build --agent');
  });

  test('PATH starts with /opt/aifo/bin; SHELL is the wrapper; tool names resolve to the shim', async () => {
    const env = info.Config.Env ?? [];
    assert.ok(env.includes('PATH=/opt/aifo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'), env.join(' '));
    assert.ok(env.includes('SHELL=/opt/aifo/bin/sh'), env.join(' '));
    const r = await runIn(ref, 'command -v cargo; command -v make; readlink /opt/aifo/bin/cargo; test -x /opt/aifo/bin/aifo-shim && echo shim-ok', { user: '4321:4321' });
    assert.equal(r.out, '/opt/aifo/bin/cargo\n/opt/aifo/bin/make\naifo-shim\nshim-ok\n');
  });

  test('no compilers, no curl, no apt in slim; bash, dash, coreutils and node are there', async () => {
    const r = await runIn(
      ref,
      [
        'for t in gcc cc g++ clang make cmake cargo rustc go python3 curl apt apt-get; do',
        '  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do [ -x "$d/$t" ] && echo "has $d/$t"; done',
        'done',
        'for t in bash dash ls cat node ps; do [ -x "/bin/$t" ] || [ -x "/usr/bin/$t" ] || echo "missing $t"; done',
        FORBIDDEN,
      ].join('\n'),
    );
    assert.equal(r.out, 'clean\n');
  });

  test('the shim runs on the image node and, unconfigured, fails with 86', async () => {
    const r = await runIn(ref, 'cargo --version; echo "rc=$?"', { user: '4321:4321' });
    const why = r.out.split('\n').filter((l) => /Error|^Node\.js|rc=/.test(l)).join(' | ');
    assert.ok(/rc=86\n$/.test(r.out) && r.out.includes('AIFO_TOOLEEXEC_URL'), `the shim does not run on the image's node: ${why}`);
  });

  test('/opt/aifo/bin is its own layer, and the same inputs give the same layer digest', async () => {
    const label = info.Config.Labels?.['org.aifo.shim-layer'];
    assert.match(label ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(info.RootFS.Layers?.[1], label);
    // Lay the directory out again from the same bundle and hash it the way the builder does.
    const work = await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-layer-'));
    try {
      await writeShimDir(path.join(work, 'bin'), { shimBundle: path.join(packageRoot(), 'dist', 'aifo-shim.cjs'), node: '/usr/bin/node', mtime: SOURCE_DATE_EPOCH });
      const a = await writeTar(await dirEntries(path.join(work, 'bin'), 'opt/aifo/bin'), path.join(work, 'a.tar'), SOURCE_DATE_EPOCH);
      const b = await writeTar(await dirEntries(path.join(work, 'bin'), 'opt/aifo/bin'), path.join(work, 'b.tar'), SOURCE_DATE_EPOCH);
      assert.equal(a.sha256, b.sha256);
      assert.equal(`sha256:${a.sha256}`, label, 'the image was built from another shim bundle; rebuild it (scripts/ci-docker.sh)');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});


describe('codex agent image', () => {
  test('codex runs on the image node, not through the node shim', async () => {
    const ref = `aifo-agent-codex:${TAG}`;
    const info = await requireImage(ref, 'aifo images build --agent codex');
    assert.equal(info.Config.Labels?.['org.aifo.agent'], 'codex');
    const version = info.Config.Labels?.['org.aifo.agent-version'] ?? '';
    const r = await runIn(ref, 'codex --version', { user: '4321:4321' });
    assert.equal(r.code, 0, r.out);
    assert.equal(r.out, `codex-cli ${version}\n`);
  });
});

describe('agent image (full)', () => {
  test('curl and apt are kept, apt lists are not; /opt/aifo/bin is the same layer as in slim', async () => {
    const ref = `aifo-agent-full:${TAG}`;
    const full = await requireImage(ref, 'aifo images build --agent --flavor full');
    const slim = await requireImage(`aifo-agent:${TAG}`, 'aifo images build --agent');
    assert.equal(full.Config.Labels?.['org.aifo.flavor'], 'full');
    assert.equal(full.RootFS.Layers?.[1], slim.RootFS.Layers?.[1], 'the shim layer differs between flavors');
    const r = await runIn(ref, ['for t in curl apt-get; do command -v "$t" >/dev/null || echo "missing $t"; done', FORBIDDEN].join('\n'));
    assert.equal(r.out, 'clean\n');
  });
});
