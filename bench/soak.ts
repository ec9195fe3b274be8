// Soak bench: 10 000 sequential and 500 concurrent execs through the local runner, every output
// checked byte for byte; prints latency and the proxy's RSS and open fds. `SOAK {json}` last.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { soak } from './soak-core.js';

const root = path.resolve(import.meta.dirname, '..', '..');
const workspace = await mkdtemp(path.join(os.tmpdir(), 'aifo-soak-'));
const home = await mkdtemp(path.join(os.tmpdir(), 'aifo-soak-home-'));
const t0 = performance.now();
const r = await soak({ cli: path.join(root, 'dist/aifo.mjs'), workspace, home, sequential: Number(process.env['AIFO_SOAK_SEQ'] ?? 10_000), concurrent: Number(process.env['AIFO_SOAK_CONC'] ?? 500) });
await rm(workspace, { recursive: true, force: true });
await rm(home, { recursive: true, force: true });
console.log(`\nsoak: ${r.sequential} sequential + ${r.concurrent} concurrent execs in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
console.log(`  failures (output or exit not byte-exact): ${r.failures.length}`);
console.log(`  latency p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`);
console.log(`  proxy RSS kB  start ${r.rssKb.start}  peak ${r.rssKb.peak}  end ${r.rssKb.end}`);
console.log(`  proxy fds     start ${r.fds.start}  peak ${r.fds.peak}  end ${r.fds.end}`);
for (const f of r.failures.slice(0, 10)) console.log(`  ${f}`);
console.log(`SOAK ${JSON.stringify({ ...r, failures: r.failures.length })}`);
