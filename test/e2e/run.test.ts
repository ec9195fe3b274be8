// e2e (real Docker): `aifo run` end to end — a scripted agent using the shims over the Unix
// socket and over TCP; cleanup after a normal exit, after Ctrl-C to the launcher and after a
// SIGKILLed launcher; dry run; the host override; an interactive agent shell under tmux.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { cliBundle } from '../helpers/proxy.js';
import { proxyReady } from '../helpers/proxy-ready.js';

let workspace: string;

before(async () => {
  for (const image of ['aifo-agent:local', 'aifo-agent-codex:local', 'aifo-toolchain-rust:local', 'aifo-toolchain-node:local', 'aifo-toolchain-python:local', 'aifo-toolchain-c-cpp:local']) {
    if (spawnSync('docker', ['image', 'inspect', image]).status !== 0) throw new Error(`image ${image} missing: build it with scripts/ci-docker.sh`);
  }
  workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-run-')));
  await chmod(workspace, 0o777);
  const crate = path.join(workspace, 'hello');
  await mkdir(path.join(crate, 'src'), { recursive: true });
  await writeFile(path.join(crate, 'Cargo.toml'), '[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n');
  await writeFile(path.join(crate, 'src/main.rs'), 'fn main() { println!("hi"); }\n');
  await writeFile(path.join(workspace, 'Makefile'), 'all:\n\t@echo made-it\nsleepy:\n\t@echo started; sleep 315\n');
  // Long-running tools for the interactive Ctrl-C test: cargo, npm and python.
  const slow = path.join(workspace, 'slow');
  await mkdir(path.join(slow, 'src'), { recursive: true });
  await writeFile(path.join(slow, 'Cargo.toml'), '[package]\nname = "slow"\nversion = "0.1.0"\nedition = "2021"\n');
  await writeFile(path.join(slow, 'src/main.rs'), 'fn main() { println!("started-cargo"); std::thread::sleep(std::time::Duration::from_secs(316)); }\n');
  await writeFile(path.join(workspace, 'package.json'), JSON.stringify({ name: 'w', version: '1.0.0', scripts: { slow: "node -e \"console.log('started-npm'); setInterval(() => {}, 317000)\"" } }));
  // The scripted agent: every tool through the shims, each output and exit code checked.
  await writeFile(
    path.join(workspace, 'agent.sh'),
    [
      'set -e',
      'cd hello && cargo build --offline -q && test -x target/debug/hello && cd ..',
      'npm --version | grep -Eq "^[0-9]+\\."',
      'test "$(python3 -c "print(6*7)")" = 42',
      'test "$(make -s)" = made-it',
      'set +e; python3 -c "import sys; sys.exit(9)"; test $? = 9 || exit 1',
      'echo agent-ok',
      'exit 4',
    ].join('\n') + '\n',
  );
  await chmod(path.join(workspace, 'agent.sh'), 0o755);
});

after(async () => {
  await rm(workspace, { recursive: true, force: true });
});

function aifo(args: string[], env: NodeJS.ProcessEnv = process.env): ReturnType<typeof spawn> {
  return spawn(process.execPath, [cliBundle, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Resolves once the child's stdout has printed `needle`. */
function printed(child: ReturnType<typeof spawn>, needle: string): Promise<void> {
  let out = '';
  return new Promise<void>((resolve) => child.stdout!.on('data', (c: Buffer) => ((out += c.toString()), out.includes(needle) && resolve())));
}

function finish(child: ReturnType<typeof spawn>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Nothing in `now` that was not in `before`: what a run left behind (others may come and go). */
function assertNothingNew(before: Awaited<ReturnType<typeof leftovers>>, now: Awaited<ReturnType<typeof leftovers>>): void {
  for (const k of ['containers', 'sockets', 'launchers'] as const) {
    assert.deepEqual(now[k].filter((x) => !before[k].includes(x)), [], `${k} left behind`);
  }
}

/** Containers of `aifo run` sessions, socket directories, launcher processes. */
async function leftovers(): Promise<{ containers: string[]; sockets: string[]; launchers: string[] }> {
  const containers = execFileSync('docker', ['ps', '-a', '--filter', 'label=org.aifo.session', '--format', '{{.Names}}'], { encoding: 'utf8' })
    .split('\n')
    .filter((n) => n.includes('run-'));
  const sockets = (await readdir(os.tmpdir())).filter((n) => n.startsWith('aifo-run-'));
  const launchers = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(`${cliBundle} run`));
  return { containers, sockets, launchers };
}

const ALL = ['--toolchain', 'rust,node,python,c-cpp'];

for (const transport of ['--unix-socket', '--tcp']) {
  test(`a scripted agent builds and runs tools through the shims (${transport}); nothing is left afterwards`, async () => {
    const before = await leftovers();
    const r = await finish(aifo(['run', transport, ...ALL, '--workspace', workspace, '--', './agent.sh']));
    assert.equal(r.code, 4, r.stdout + r.stderr);
    assert.match(r.stdout, /agent-ok/);
    assertNothingNew(before, await leftovers());
  });
}

test('Ctrl-C (SIGINT) to the launcher stops the agent and removes everything', async () => {
  const before = await leftovers();
  const child = aifo(['run', '--toolchain', 'c-cpp', '--workspace', workspace, '--', 'make', 'sleepy']);
  const done = finish(child);
  await printed(child, 'started');
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, '128+SIGINT');
  assertNothingNew(before, await leftovers());
});

test('SIGTERM to the launcher: the running tool is stopped, the agent removed; --keep leaves only the sidecar', async () => {
  const before = await leftovers();
  const child = aifo(['run', '--keep', '--toolchain', 'c-cpp', '--workspace', workspace, '--', 'make', 'sleepy']);
  const done = finish(child);
  await printed(child, 'started');
  child.kill('SIGTERM');
  const r = await done;
  assert.equal(r.code, 143, '128+SIGTERM');
  const kept = (await leftovers()).containers.filter((c) => !before.containers.includes(c));
  assert.equal(kept.length, 1, `only the kept sidecar: ${kept.join(' ')}`);
  assert.match(kept[0]!, /^aifo-tc-c-cpp-run-/);
  // The sidecar lives on, but the tool the agent was running in it was escalated away.
  const ps = execFileSync('docker', ['exec', kept[0]!, 'ps', '-eo', 'args'], { encoding: 'utf8' });
  assert.doesNotMatch(ps, /sleep 315/);
  execFileSync('docker', ['rm', '-f', kept[0]!]);
  assertNothingNew(before, await leftovers());
});

test('Ctrl-C during start-up (sidecars being made, no agent yet) still removes everything', async () => {
  const before = await leftovers();
  const child = aifo(['run', '--toolchain', 'rust,node,python,c-cpp,go', '--workspace', workspace, '--', 'true']);
  const done = finish(child);
  // The first sidecar of this launcher exists: start-up is under way.
  for (const t0 = performance.now(); ; ) {
    const ours = execFileSync('docker', ['ps', '-a', '--filter', `label=org.aifo.launcher`, '--format', '{{.Label "org.aifo.launcher"}}'], { encoding: 'utf8' });
    if (ours.split('\n').some((l) => l.startsWith(`${child.pid}:`))) break;
    assert.ok(performance.now() - t0 < 30_000, 'no sidecar appeared');
    await new Promise((res) => setTimeout(res, 20));
  }
  child.kill('SIGINT');
  const r = await done;
  assert.equal(r.code, 130, r.stderr);
  assertNothingNew(before, await leftovers());
});

test('a start-up that fails half-way (one kind\'s image missing) removes the sidecars it had started', async () => {
  const before = await leftovers();
  execFileSync('docker', ['tag', 'aifo-toolchain-rust:local', 'aifo-toolchain-rust:halfway']);
  try {
    const r = await finish(aifo(['run', '--tag', 'halfway', '--toolchain', 'rust,python', '--workspace', workspace, '--', 'true']));
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /aifo-toolchain-python:halfway/);
    assertNothingNew(before, await leftovers());
  } finally {
    execFileSync('docker', ['rmi', 'aifo-toolchain-rust:halfway']);
  }
});

test('after a SIGKILLed launcher, the next aifo run removes what it left', async () => {
  const pre = await leftovers();
  const child = aifo(['run', '--toolchain', 'c-cpp', '--workspace', workspace, '--', 'make', 'sleepy']);
  await printed(child, 'started');
  child.kill('SIGKILL');
  await new Promise((r) => child.on('close', r));
  const stale = await leftovers();
  assert.ok(stale.containers.length >= 2, `agent and sidecar are left: ${stale.containers}`);
  const next = await finish(aifo(['run', '--toolchain', 'c-cpp', '--workspace', workspace, '--', 'true']));
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /left by launcher .* that is gone/);
  const now = await leftovers();
  assert.deepEqual(now.containers.filter((c) => stale.containers.includes(c)), []);
  const itsSockets = stale.sockets.filter((d) => !pre.sockets.includes(d));
  assert.equal(itsSockets.length, 1, `the killed launcher left one socket directory: ${itsSockets}`);
  assert.deepEqual(now.sockets.filter((d) => itsSockets.includes(d)), [], 'its socket directory is gone too');
});

test('exit-code mapping in the agent container, row by row: INT, 2×INT, 3×INT, TERM, HUP; default and legacy', async () => {
  // Inside the agent: the shim runs python in the python sidecar in the background, gets real
  // signals with kill, and the agent records each exit status.
  const script = [
    `PY_NONE='import time; print("started", flush=True); time.sleep(300)'`,
    `PY_INT='import signal,time; signal.signal(signal.SIGINT, signal.SIG_IGN); print("started", flush=True); time.sleep(300)'`,
    `PY_BOTH='import signal,time; signal.signal(signal.SIGINT, signal.SIG_IGN); signal.signal(signal.SIGTERM, signal.SIG_IGN); print("started", flush=True); time.sleep(300)'`,
    'row() {',
    '  label=$1; code=$2; legacy=$3; shift 3',
    '  if [ "$legacy" = 1 ]; then export AIFO_SHIM_EXIT_ZERO_ON_SIGINT=0; else unset AIFO_SHIM_EXIT_ZERO_ON_SIGINT; fi',
    '  rm -f /tmp/o; python3 -c "$code" > /tmp/o 2>&1 & pid=$!',
    '  until grep -q started /tmp/o 2>/dev/null; do sleep 0.1; done',
    '  for s in "$@"; do kill -$s $pid; sleep 0.7; done',
    '  wait $pid; echo "$label=$?"',
    '}',
    'row INT "$PY_NONE" 0 INT; row INT-legacy "$PY_NONE" 1 INT',
    'row INT2 "$PY_INT" 0 INT INT; row INT2-legacy "$PY_INT" 1 INT INT',
    'row INT3 "$PY_BOTH" 0 INT INT INT; row INT3-legacy "$PY_BOTH" 1 INT INT INT',
    'row TERM "$PY_NONE" 0 TERM; row TERM-legacy "$PY_NONE" 1 TERM',
    'row HUP "$PY_NONE" 0 HUP; row HUP-legacy "$PY_NONE" 1 HUP',
  ].join('\n');
  const r = await finish(aifo(['run', '--toolchain', 'python', '--workspace', workspace, '--', 'sh', '-c', script]));
  assert.equal(r.code, 0, r.stderr);
  const rows = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
  assert.deepEqual(rows, {
    INT: '0', 'INT-legacy': '130',
    INT2: '0', 'INT2-legacy': '143',
    INT3: '0', 'INT3-legacy': '137',
    TERM: '0', 'TERM-legacy': '143',
    HUP: '0', 'HUP-legacy': '129',
  });
});

test('exit-code mapping in the agent container, disconnect row: 0 by default, 1 with AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT=0', async () => {
  // The proxy is killed under a running tool: the shim in the agent container sees the stream
  // cut after it started (protocol.md "Exit codes"), says so, and exits by the toggle.
  const session = `disc-${process.pid}`;
  const sockDir = await mkdtemp(path.join(os.tmpdir(), 'aifo-e2e-disc-'));
  const up = await finish(aifo(['sidecar', 'up', '--toolchain', 'python', '--workspace', workspace, '--session', session]));
  assert.equal(up.code, 0, up.stderr);
  try {
    for (const [legacy, expected] of [[false, 0], [true, 1]] as const) {
      const penv: NodeJS.ProcessEnv = { ...process.env };
      delete penv['AIFO_TOOLEEXEC_TOKEN'];
      const proxy = spawn(process.execPath, [cliBundle, 'proxy', '--runner', 'docker', '--session', session, '--workspace', workspace, '--listen', `unix://${sockDir}/toolexec.sock`], { env: penv, stdio: ['ignore', 'pipe', 'ignore'] });
      const { token } = await proxyReady(proxy);
      const env: NodeJS.ProcessEnv = { ...process.env, AIFO_TOOLEEXEC_URL: 'unix:///run/aifo/toolexec.sock', AIFO_TOOLEEXEC_TOKEN: token, AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT: legacy ? '0' : '1' };
      const agent = spawn('docker', ['run', '--rm', '--network', 'none', '--user', `${process.getuid!()}:${process.getgid!()}`, '-v', `${workspace}:${workspace}`, '-w', workspace, '-v', `${sockDir}:/run/aifo`,
        '-e', 'AIFO_TOOLEEXEC_URL', '-e', 'AIFO_TOOLEEXEC_TOKEN', '-e', 'AIFO_SHIM_EXIT_ZERO_ON_DISCONNECT',
        'aifo-agent:local', 'sh', '-c', 'python3 -c "import time; print(\'started\', flush=True); time.sleep(300)"; echo "rc=$?"'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const done = finish(agent);
      await printed(agent, 'started');
      proxy.kill('SIGKILL');
      const r = await done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^started\\nrc=${expected}\\n$`), `legacy=${legacy}: ${r.stdout} ${r.stderr}`);
      assert.match(r.stderr, /aifo-coder: disconnect, waiting for process termination…/);
    }
  } finally {
    await finish(aifo(['sidecar', 'down', '--session', session]));
    await rm(sockDir, { recursive: true, force: true });
  }
});

test('--dry-run prints the plan and never the token; nothing starts', async () => {
  const before = await leftovers();
  const r = await finish(aifo(['run', '--dry-run', '--tcp', '--toolchain', 'rust', '--workspace', workspace, '--', 'cargo', 'build']));
  assert.equal(r.code, 0);
  assert.match(r.stdout, /env: AIFO_TOOLEEXEC_URL AIFO_TOOLEEXEC_TOKEN AIFO_CODER_CONTAINER_NAME/);
  assert.match(r.stdout, /cmd: \["cargo","build"\]/);
  // Every engine call with its arguments: the sidecar's and the probe's create requests in full.
  const creates = r.stdout.split('\n').filter((l) => l.startsWith('  create: ')).map((l) => JSON.parse(l.slice('  create: '.length)));
  assert.equal(creates.length, 3, 'sidecar, probe (--tcp), agent');
  assert.match(creates[0].name, /^aifo-tc-rust-run-/);
  assert.equal(creates[0].HostConfig.NetworkMode, 'none');
  assert.deepEqual(creates[0].HostConfig.Mounts[0], { Type: 'bind', Source: workspace, Target: workspace });
  assert.equal(creates[0].HostConfig.Mounts[1].Source, 'aifo-cache-rust');
  assert.equal(creates[1].HostConfig.NetworkMode, 'host');
  assert.ok(creates[2].Env.includes('AIFO_TOOLEEXEC_TOKEN=<token>'));
  assert.doesNotMatch(r.stdout + r.stderr, /[0-9a-f]{32}/, 'no token value');
  assertNothingNew(before, await leftovers());
});

test('AIFO_SHIM_DIR is mounted read-only over /opt/aifo/bin and wins; an incomplete one is refused', async () => {
  const dir = path.join(workspace, 'override-bin');
  execFileSync(process.execPath, [cliBundle, 'shims', 'write', dir, '--node', '/usr/bin/node']);
  await writeFile(path.join(dir, 'OVERRIDE_MARK'), 'from the host\n');
  const r = await finish(aifo(['run', '--toolchain', 'rust', '--workspace', workspace, '--', 'sh', '-c', 'cat /opt/aifo/bin/OVERRIDE_MARK && cargo --version && touch /opt/aifo/bin/x 2>/dev/null || echo read-only'], { ...process.env, AIFO_SHIM_DIR: dir }));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^from the host\ncargo \d[^\n]*\nread-only\n$/);
  await rm(path.join(dir, 'make'));
  const bad = await finish(aifo(['run', '--toolchain', 'rust', '--workspace', workspace, '--', 'true'], { ...process.env, AIFO_SHIM_DIR: dir }));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /AIFO_SHIM_DIR .* is incomplete: .*make/);
});

test('aifo run sets PATH (shims first, then the image\'s own) and SHELL for any agent image', async () => {
  // A toolchain image stands in for a user's own agent image: it has node but no /opt/aifo/bin
  // and no PATH or SHELL of ours, so the shims come from the override directory.
  const dir = path.join(workspace, 'plain-image-bin');
  execFileSync(process.execPath, [cliBundle, 'shims', 'write', dir, '--node', '/usr/bin/node']);
  const script = 'echo "PATH=$PATH"; echo "SHELL=$SHELL"; command -v cargo; cargo --version';
  const r = await finish(aifo(['run', '--image', 'aifo-toolchain-node:local', '--toolchain', 'rust', '--workspace', workspace, '--', 'sh', '-c', script], { ...process.env, AIFO_SHIM_DIR: dir }));
  assert.equal(r.code, 0, r.stderr);
  const image = execFileSync('docker', ['image', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', 'aifo-toolchain-node:local'], { encoding: 'utf8' });
  const imagePath = /^PATH=(.*)$/m.exec(image)?.[1];
  assert.ok(imagePath, 'the image names a PATH');
  const [pathLine, shellLine, cargoPath, version, rest] = r.stdout.split('\n');
  assert.equal(pathLine, `PATH=/opt/aifo/bin:${imagePath}`);
  assert.equal(shellLine, 'SHELL=/opt/aifo/bin/sh');
  assert.equal(cargoPath, '/opt/aifo/bin/cargo');
  assert.match(version!, /^cargo \d/);
  assert.equal(rest, '');
  const plan = await finish(aifo(['run', '--dry-run', '--image', 'aifo-toolchain-node:local', '--toolchain', 'rust', '--workspace', workspace]));
  assert.ok(plan.stdout.split('\n').includes(`  PATH=/opt/aifo/bin:${imagePath}`), plan.stdout);
  assert.match(plan.stdout, /^  SHELL=\/opt\/aifo\/bin\/sh$/m);
});

test('aifo run starts a real coding agent: codex from the codex agent image, with the shims on its PATH', async () => {
  const before = await leftovers();
  const r = await finish(aifo(['run', '--image', 'aifo-agent-codex:local', '--toolchain', 'rust', '--workspace', workspace, '--', 'sh', '-c', 'codex --version && command -v cargo && cargo --version']));
  assert.equal(r.code, 0, r.stderr);
  const [codex, cargoPath, cargo] = r.stdout.trim().split('\n');
  assert.match(codex!, /^codex(-cli)? \d+\.\d+/);
  assert.equal(cargoPath, '/opt/aifo/bin/cargo');
  assert.match(cargo!, /^cargo \d/);
  assertNothingNew(before, await leftovers());
});

test('the token of a real run is in no process list on the host (containers included) and in nothing the launcher prints, verbose', async () => {
  const child = aifo(['run', '--verbose', '--toolchain', 'rust', '--workspace', workspace, '--', 'sh', '-c', 'cargo --version; echo ready; sleep 5']);
  const done = finish(child);
  await printed(child, 'ready');
  // The agent of this launcher, by its launcher label; the token is in its create request.
  const agents = execFileSync('docker', ['ps', '--filter', 'label=org.aifo.agent', '--format', '{{.Names}} {{.Label "org.aifo.launcher"}}'], { encoding: 'utf8' });
  const agent = agents.split('\n').find((l) => l.split(' ')[1]?.startsWith(`${child.pid}:`))?.split(' ')[0];
  assert.ok(agent, agents);
  const env = execFileSync('docker', ['inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', agent], { encoding: 'utf8' });
  const token = /^AIFO_TOOLEEXEC_TOKEN=([0-9a-f]{32})$/m.exec(env)?.[1];
  assert.ok(token, 'the agent has a token');
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  assert.ok(ps.includes('sleep 5'), 'the agent\'s processes are in the host list');
  assert.ok(!ps.includes(token), 'no argv on the host carries the token');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /aifo-coder: proxy result tool=cargo/, 'verbose proxy lines were printed');
  assert.ok(!(r.stdout + r.stderr).includes(token), 'nothing the launcher printed carries the token');
});

test('interactive agent shell under tmux: Ctrl-C stops cargo, npm and python and returns to a clean prompt, no extra shell left', async () => {
  const pane = `aifo-e2e-${process.pid}`;
  const tmux = (...a: string[]): string => execFileSync('tmux', a, { encoding: 'utf8' });
  tmux('new-session', '-d', '-s', pane, '-x', '160', '-y', '40', `cd ${workspace} && ${process.execPath} ${cliBundle} run --toolchain rust,node,python --workspace ${workspace} -- bash --norc -i`);
  try {
    const screen = (): string => tmux('capture-pane', '-p', '-t', pane);
    const waitFor = async (re: RegExp, ms: number): Promise<string> => {
      const t0 = performance.now();
      for (;;) {
        const s = screen();
        if (re.test(s)) return s;
        if (performance.now() - t0 > ms) throw new Error(`pane never matched ${re}:\n${s}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor(/[$#] ?$/m, 20_000);
    const agent = execFileSync('docker', ['ps', '--filter', 'label=org.aifo.agent', '--format', '{{.Names}}'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const session = agent.replace(/^aifo-agent-/, '');
    const shells = (): string[] =>
      execFileSync('docker', ['exec', agent, 'ps', '-eo', 'comm'], { encoding: 'utf8' })
        .split('\n')
        .filter((c) => /^(sh|bash|dash)$/.test(c.trim()));
    const shellsBefore = shells();
    const cases: [string, string, string, RegExp][] = [
      ['cargo', 'cd slow && cargo run -q --offline; cd ..', 'rust', /target\/debug\/slow|cargo run/],
      ['npm', 'npm run -s slow', 'node', /317000/],
      ['python', `python3 -c 'import time; print("started-python", flush=True); time.sleep(318)'`, 'python', /time\.sleep\(318\)/],
    ];
    for (const [name, line, kind, leftover] of cases) {
      tmux('send-keys', '-t', pane, line, 'Enter');
      await waitFor(new RegExp(`started-${name}`), 60_000);
      tmux('send-keys', '-t', pane, 'C-c');
      tmux('send-keys', '-t', pane, `echo back-from-${name}-$((40+2))`, 'Enter');
      await waitFor(new RegExp(`back-from-${name}-42`), 15_000);
      assert.deepEqual(shells(), shellsBefore, `${name}: the same shells as before, none added, the prompt shell kept`);
      const sidecar = `aifo-tc-${kind}-${session}`;
      assert.doesNotMatch(execFileSync('docker', ['exec', sidecar, 'ps', '-eo', 'args'], { encoding: 'utf8' }), leftover, `${name}: nothing left in ${sidecar}`);
    }
    tmux('send-keys', '-t', pane, 'exit', 'Enter');
    // The shell's exit ends the agent; the launcher then removes the agent and the sidecars.
    const t0 = performance.now();
    const mine = (): string[] =>
      execFileSync('docker', ['ps', '-a', '--filter', `label=org.aifo.session=${session}`, '--format', '{{.Names}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    while (mine().length > 0) {
      if (performance.now() - t0 > 30_000) assert.fail(`session ${session} not removed after the agent shell exited: ${mine()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    spawnSync('tmux', ['kill-session', '-t', pane]);
  }
});
