// Bench, local runner (issue 2 item 6): ratios against baselines measured in the same run.
//   (a) median wall time of `aifo-shim node -e 0` through the proxy ÷ median of `node -e 0`
//       (target ≤ 1.3), with the shim's own start-up shown beside it;
//   (b) 1 GiB through the shim ÷ the same bytes through a plain pipe (target ≥ 0.7), medians of
//       three, with two bare Node pipe hops beside it as the floor of any two-Node path;
//   (c) p50/p99 of 64 concurrent trivial execs (target p99 ≤ 4× p50).
// Prints a table and a final `BENCH-LOCAL {json}` line. A report, not a test: exit 0 on a miss.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { proxyReady } from '../test/helpers/proxy-ready.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const cli = path.join(root, 'dist/aifo.mjs');
const shim = path.join(root, 'dist/aifo-shim.cjs');
const ROUNDS = 30;
const WARMUP = 3;
const CONCURRENT = 64;
const GIB_ROUNDS = 3;
const GIB = 1024 * 1024 * 1024;
// Writes 1 GiB of a fixed 64 KiB pattern, respecting backpressure.
const GENERATOR = `const b=Buffer.alloc(65536,97);let n=${GIB / 65536};function p(){while(n-->0){if(!process.stdout.write(b))return process.stdout.once('drain',p)}}p()`;

interface Run {
  ms: number;
  bytes: number;
  code: number | null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child: ChildProcess = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout!.on('data', (c: Buffer) => (bytes += c.length));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - t0, bytes, code }));
  });
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

async function main(): Promise<void> {
  const workspace = await realpath(await mkdtemp(path.join(os.tmpdir(), 'aifo-bench-local-')));
  const penv: NodeJS.ProcessEnv = { ...process.env };
  delete penv['AIFO_TOOLEEXEC_TOKEN'];
  const proxy = spawn(process.execPath, [cli, 'proxy', '--runner', 'local', '--workspace', workspace, '--max-execs', '512'], { env: penv, stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = await proxyReady(proxy);
  const env: NodeJS.ProcessEnv = { ...process.env, AIFO_TOOLEEXEC_URL: ready.url, AIFO_TOOLEEXEC_TOKEN: ready.token };
  const noProxy: NodeJS.ProcessEnv = { ...process.env };
  delete noProxy['AIFO_TOOLEEXEC_URL'];
  delete noProxy['AIFO_TOOLEEXEC_TOKEN'];
  try {
    // (a) interleaved so drift in machine load hits both sides alike.
    const direct: number[] = [];
    const viaShim: number[] = [];
    const shimStart: number[] = [];
    for (let i = 0; i < ROUNDS + WARMUP; i++) {
      const d = await run(process.execPath, ['-e', '0'], process.env, workspace);
      const s = await run(process.execPath, [shim, 'node', '-e', '0'], env, workspace);
      // The shim alone: no URL, so it prints one line and exits 86 before any network work.
      const z = await run(process.execPath, [shim, 'node', '-e', '0'], noProxy, workspace);
      if (d.code !== 0 || s.code !== 0 || z.code !== 86) throw new Error(`(a) unexpected exit: ${d.code} ${s.code} ${z.code}`);
      if (i >= WARMUP) {
        direct.push(d.ms);
        viaShim.push(s.ms);
        shimStart.push(z.ms);
      }
    }
    // (b) 1 GiB: the same generator read directly from its pipe, through the shim, and through
    // two bare Node hops (`stdin.pipe(stdout)` twice): the floor for any path with two Node
    // processes in it (proxy and shim), measured here so the ratio can be read against it.
    const pipeMs: number[] = [];
    const shimMs: number[] = [];
    const hopsMs: number[] = [];
    const HOP = 'process.stdin.pipe(process.stdout)';
    for (let i = 0; i < GIB_ROUNDS; i++) {
      const pipe = await run(process.execPath, ['-e', GENERATOR], process.env, workspace);
      const through = await run(process.execPath, [shim, 'node', '-e', GENERATOR], env, workspace);
      const hops = await run('/bin/sh', ['-c', '"$0" -e "$1" | "$0" -e "$2" | "$0" -e "$2"', process.execPath, GENERATOR, HOP], process.env, workspace);
      if (pipe.bytes !== GIB || through.bytes !== GIB || through.code !== 0 || hops.bytes !== GIB) {
        throw new Error(`(b) bytes: pipe ${pipe.bytes}, shim ${through.bytes} (exit ${through.code}), node hops ${hops.bytes}`);
      }
      pipeMs.push(pipe.ms);
      shimMs.push(through.ms);
      hopsMs.push(hops.ms);
    }
    // (c) 64 execs started at once.
    const conc = await Promise.all(Array.from({ length: CONCURRENT }, () => run(process.execPath, [shim, 'node', '-e', '0'], env, workspace)));
    if (conc.some((r) => r.code !== 0)) throw new Error(`(c) exits: ${conc.map((r) => r.code).join(',')}`);
    const concDirect = await Promise.all(Array.from({ length: CONCURRENT }, () => run(process.execPath, ['-e', '0'], process.env, workspace)));

    const r = {
      a_direct_median_ms: pct(direct, 50),
      a_shim_median_ms: pct(viaShim, 50),
      a_ratio: pct(viaShim, 50) / pct(direct, 50),
      a_shim_startup_median_ms: pct(shimStart, 50),
      a_shim_startup_ratio: pct(shimStart, 50) / pct(direct, 50),
      b_pipe_mb_s: GIB / 1e6 / (pct(pipeMs, 50) / 1000),
      b_shim_mb_s: GIB / 1e6 / (pct(shimMs, 50) / 1000),
      b_ratio: pct(pipeMs, 50) / pct(shimMs, 50),
      b_two_node_hops_mb_s: GIB / 1e6 / (pct(hopsMs, 50) / 1000),
      b_two_node_hops_ratio: pct(pipeMs, 50) / pct(hopsMs, 50),
      c_p50_ms: pct(conc.map((x) => x.ms), 50),
      c_p99_ms: pct(conc.map((x) => x.ms), 99),
      c_p99_over_p50: pct(conc.map((x) => x.ms), 99) / pct(conc.map((x) => x.ms), 50),
      c_direct_p50_ms: pct(concDirect.map((x) => x.ms), 50),
      c_direct_p99_ms: pct(concDirect.map((x) => x.ms), 99),
    };
    const f = (n: number): string => n.toFixed(2).padStart(9);
    const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
    console.log('\nlocal runner bench (ratios against baselines measured in this run)');
    console.log(`(a) shim node -e 0 / node -e 0      ${f(r.a_ratio)}   target ≤ 1.3  ${verdict(r.a_ratio <= 1.3)}`);
    console.log(`    node -e 0 median ms             ${f(r.a_direct_median_ms)}`);
    console.log(`    shim node -e 0 median ms        ${f(r.a_shim_median_ms)}`);
    console.log(`    shim start-up alone, ms (ratio) ${f(r.a_shim_startup_median_ms)}  (${r.a_shim_startup_ratio.toFixed(2)} × node -e 0)`);
    console.log(`(b) 1 GiB shim / plain pipe         ${f(r.b_ratio)}   target ≥ 0.7  ${verdict(r.b_ratio >= 0.7)}`);
    console.log(`    plain pipe MB/s                 ${f(r.b_pipe_mb_s)}`);
    console.log(`    through the shim MB/s           ${f(r.b_shim_mb_s)}`);
    console.log(`    two bare Node hops MB/s (ratio) ${f(r.b_two_node_hops_mb_s)}  (${r.b_two_node_hops_ratio.toFixed(2)}: the floor for proxy + shim)`);
    console.log(`(c) 64 concurrent: p99 / p50        ${f(r.c_p99_over_p50)}   target ≤ 4    ${verdict(r.c_p99_over_p50 <= 4)}`);
    console.log(`    p50 / p99 ms                    ${f(r.c_p50_ms)} ${f(r.c_p99_ms)}`);
    console.log(`    direct node -e 0 p50 / p99 ms   ${f(r.c_direct_p50_ms)} ${f(r.c_direct_p99_ms)}`);
    console.log(`BENCH-LOCAL ${JSON.stringify(r)}`);
  } finally {
    proxy.kill('SIGTERM');
    await rm(workspace, { recursive: true, force: true });
  }
}

await main();
