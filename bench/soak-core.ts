// Soak: many execs through the proxy's local runner, each output checked byte for byte, with
// the proxy's latency, RSS and open descriptors sampled (issue 7 item 3). Used by bench/soak.ts
// (the full run, figures) and test/faults/soak.test.ts (a smaller run that asserts correctness).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { encodeForm } from '../src/protocol/form.js';
import { proxyReady } from '../test/helpers/proxy-ready.js';

export interface SoakResult {
  sequential: number;
  concurrent: number;
  failures: string[];
  p50Ms: number;
  p99Ms: number;
  rssKb: { start: number; peak: number; end: number };
  fds: { start: number; peak: number; end: number };
}

function usage(pid: number): { rssKb: number; fds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)![1]), fds: readdirSync(`/proc/${pid}/fd`).length };
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

export async function soak(opts: { cli: string; workspace: string; home: string; sequential: number; concurrent: number }): Promise<SoakResult> {
  // `make` is the cheapest allowed tool: each exec prints a payload unique to its id.
  writeFileSync(path.join(opts.workspace, 'soak.mk'), 'all:\n\t@echo "payload-$(ID)-$(ID)$(ID)"\n');
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: opts.home };
  delete env['AIFO_TOOLEEXEC_TOKEN'];
  const proxy = spawn(process.execPath, [opts.cli, 'proxy', '--workspace', opts.workspace, '--max-execs', String(opts.concurrent + 100)], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  const ready = await proxyReady(proxy);
  const port = Number(new URL(ready.url).port);
  const token = ready.token;
  const pid = proxy.pid!;
  const start = usage(pid);
  const peak = { ...start };
  const sampler = setInterval(() => {
    try {
      const u = usage(pid);
      peak.rssKb = Math.max(peak.rssKb, u.rssKb);
      peak.fds = Math.max(peak.fds, u.fds);
    } catch {
      /* exited */
    }
  }, 50);
  const latencies: number[] = [];
  const failures: string[] = [];

  const exec = (id: number): Promise<void> =>
    new Promise((resolve) => {
      const body = encodeForm([['tool', 'make'], ['cwd', opts.workspace], ['arg', '-s'], ['arg', '-f'], ['arg', 'soak.mk'], ['arg', `ID=${id}`]]);
      const t0 = performance.now();
      const req = http.request({ host: '127.0.0.1', port, path: '/exec', method: 'POST', agent: false, headers: { Authorization: `Bearer ${token}`, 'X-Aifo-Proto': '2', 'X-Aifo-Tty': '0', 'Content-Length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          const out = Buffer.concat(chunks).toString('utf8');
          const want = `payload-${id}-${id}${id}\n`;
          if (res.statusCode !== 200 || out !== want || res.trailers['x-exit-code'] !== '0') {
            failures.push(`exec ${id}: status ${res.statusCode} exit ${res.trailers['x-exit-code']} output ${JSON.stringify(out.slice(0, 80))}`);
          }
          resolve();
        });
        res.on('error', (e) => (failures.push(`exec ${id}: ${e.message}`), resolve()));
      });
      req.on('error', (e) => (failures.push(`exec ${id}: ${e.message}`), resolve()));
      req.end(body);
    });

  for (let i = 0; i < opts.sequential; i++) await exec(i);
  await Promise.all(Array.from({ length: opts.concurrent }, (_, i) => exec(opts.sequential + i)));
  await new Promise((r) => setTimeout(r, 500));
  clearInterval(sampler);
  const end = usage(pid);
  proxy.kill('SIGTERM');
  await new Promise((r) => proxy.on('close', r));
  return {
    sequential: opts.sequential,
    concurrent: opts.concurrent,
    failures,
    p50Ms: pct(latencies, 50),
    p99Ms: pct(latencies, 99),
    rssKb: { start: start.rssKb, peak: peak.rssKb, end: end.rssKb },
    fds: { start: start.fds, peak: peak.fds, end: end.fds },
  };
}
