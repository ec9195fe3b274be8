// Bench, docker runner (issue 3 item 7): ratios against baselines measured in the same run.
//   (a) round trip of a trivial tool through shim → proxy → docker runner, divided by a direct
//       `docker exec SIDECAR <same tool>` (target ≤ 1.0);
//   (b) 1 GiB through the shim, divided by `docker exec SIDECAR cat` of the same file (target ≥ 0.8).
// Prints a table and a final `BENCH-DOCKER {json}` line. A report, not a test: exit 0 on a miss.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, open, realpath, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sidecarDown, sidecarUp } from '../src/sidecar/index.js';
import { proxyReady } from '../test/helpers/proxy-ready.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const cli = path.join(root, 'dist/aifo.mjs');
const shim = path.join(root, 'dist/aifo-shim.cjs');
const TAG = process.env['AIFO_TEST_IMAGE_TAG'] || 'local';
const ROUNDS = 20;
const GIB = 1024 * 1024 * 1024;

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ ms: number; bytes: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    let bytes = 0;
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, bytes, code }));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startProxy(container: string, workspace: string, tty: boolean): Promise<{ env: NodeJS.ProcessEnv; stop: () => void }> {
  const env: NodeJS.ProcessEnv = { ...process.env, AIFO_TOOLEEXEC_TTY: tty ? '1' : '0' };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const child = spawn(process.execPath, [cli, 'proxy', '--runner', 'docker', '--sidecar', `c-cpp=${container}`, '--workspace', workspace], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const ready = await proxyReady(child);
  return {
    env: { ...process.env, AIFO_TOOLEEXEC_URL: ready.url, AIFO_TOOLEEXEC_TOKEN: ready.token },
    stop: () => child.kill('SIGTERM'),
  };
}

async function main(): Promise<void> {
  const workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-bench-docker-')));
  await chmod(workspace, 0o777);
  const session = `bench-${randomBytes(3).toString('hex')}`;
  const up = await sidecarUp({ kinds: ['c-cpp'], workspace, session, tag: TAG, uid: process.getuid!(), gid: process.getgid!() });
  const container = up.sidecars['c-cpp']!;
  try {
    // A 1 GiB file in the workspace, written once.
    const big = path.join(workspace, 'big.bin');
    const fh = await open(big, 'w');
    const block = randomBytes(1024 * 1024);
    for (let i = 0; i < 1024; i++) await fh.write(block);
    await fh.close();
    await writeFile(path.join(workspace, 'Makefile'), 'cat:\n\t@cat big.bin\n');

    const results: Record<string, number> = {};
    for (const tty of [false, true]) {
      const proxy = await startProxy(container, workspace, tty);
      const label = tty ? 'tty' : 'pipe';
      // (a) round trip: `gcc --version`, the cheapest allowed tool, both ways; interleaved.
      // The shim also runs with the agent image's environment: no NODE_EXTRA_CA_CERTS, which
      // makes every Node start here load a CA bundle (~100 ms) that the shim never uses.
      const agentEnv: NodeJS.ProcessEnv = { ...proxy.env };
      delete agentEnv['NODE_EXTRA_CA_CERTS'];
      const viaShim: number[] = [];
      const viaShimAgentEnv: number[] = [];
      const direct: number[] = [];
      for (let i = 0; i < ROUNDS + 3; i++) {
        const s = await run(process.execPath, [shim, 'gcc', '--version'], { cwd: workspace, env: proxy.env });
        const a = await run(process.execPath, [shim, 'gcc', '--version'], { cwd: workspace, env: agentEnv });
        const d = await run('docker', ['exec', ...(tty ? ['-t'] : []), container, 'gcc', '--version']);
        if (s.code !== 0 || a.code !== 0 || d.code !== 0) throw new Error(`round trip failed: shim ${s.code}/${a.code}, docker exec ${d.code}`);
        if (i >= 3) {
          viaShim.push(s.ms);
          viaShimAgentEnv.push(a.ms);
          direct.push(d.ms);
        }
      }
      results[`roundtrip_shim_ms_${label}`] = median(viaShim);
      results[`roundtrip_docker_exec_ms_${label}`] = median(direct);
      results[`roundtrip_ratio_${label}`] = median(viaShim) / median(direct);
      results[`roundtrip_shim_agent_env_ms_${label}`] = median(viaShimAgentEnv);
      results[`roundtrip_ratio_agent_env_${label}`] = median(viaShimAgentEnv) / median(direct);
      // (b) 1 GiB: shim running `make cat` (cat big.bin in the sidecar) vs docker exec cat.
      const s = await run(process.execPath, [shim, 'make', 'cat'], { cwd: workspace, env: proxy.env });
      // The same terminal setting both ways: `docker exec -t` goes through a pty too.
      const d = await run('docker', ['exec', ...(tty ? ['-t'] : []), container, 'cat', big]);
      if (s.bytes < GIB || d.bytes < GIB) throw new Error(`1 GiB: shim gave ${s.bytes} bytes, docker exec ${d.bytes}`);
      results[`gib_shim_mb_s_${label}`] = GIB / 1e6 / (s.ms / 1000);
      results[`gib_docker_exec_mb_s_${label}`] = GIB / 1e6 / (d.ms / 1000);
      results[`gib_ratio_${label}`] = (GIB / s.ms) / (GIB / d.ms);
      proxy.stop();
    }
    const f = (n: number | undefined): string => (n === undefined ? '-' : n.toFixed(2));
    console.log('\ndocker runner bench (c-cpp sidecar; pipe = TTY off, tty = pty on both sides, the v2 default)');
    console.log('metric                                  pipe      tty   target');
    console.log(`round trip shim / docker exec       ${f(results['roundtrip_ratio_pipe']).padStart(8)} ${f(results['roundtrip_ratio_tty']).padStart(8)}   ≤ 1.0`);
    console.log(`  shim median ms                    ${f(results['roundtrip_shim_ms_pipe']).padStart(8)} ${f(results['roundtrip_shim_ms_tty']).padStart(8)}`);
    console.log(`  docker exec median ms             ${f(results['roundtrip_docker_exec_ms_pipe']).padStart(8)} ${f(results['roundtrip_docker_exec_ms_tty']).padStart(8)}`);
    console.log(`  … agent env (no NODE_EXTRA_CA_CERTS) ${f(results['roundtrip_ratio_agent_env_pipe']).padStart(5)} ${f(results['roundtrip_ratio_agent_env_tty']).padStart(8)}   ≤ 1.0`);
    console.log(`  shim median ms, agent env         ${f(results['roundtrip_shim_agent_env_ms_pipe']).padStart(8)} ${f(results['roundtrip_shim_agent_env_ms_tty']).padStart(8)}`);
    console.log(`1 GiB shim / docker exec cat        ${f(results['gib_ratio_pipe']).padStart(8)} ${f(results['gib_ratio_tty']).padStart(8)}   ≥ 0.8`);
    console.log(`  shim MB/s                         ${f(results['gib_shim_mb_s_pipe']).padStart(8)} ${f(results['gib_shim_mb_s_tty']).padStart(8)}`);
    console.log(`  docker exec cat MB/s              ${f(results['gib_docker_exec_mb_s_pipe']).padStart(8)} ${f(results['gib_docker_exec_mb_s_tty']).padStart(8)}`);
    console.log(`BENCH-DOCKER ${JSON.stringify(results)}`);
  } finally {
    await sidecarDown({ session }).catch(() => undefined);
    await rm(workspace, { recursive: true, force: true });
  }
}

await main();
