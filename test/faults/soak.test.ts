// A smaller soak in the fault suite: every output byte-exact, nothing leaks (bench/soak.ts runs
// the full 10 000 + 500 and prints the figures).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { soak } from '../../bench/soak-core.js';
import { cliBundle, tempDir } from '../helpers/proxy.js';

test('soak: 1000 sequential and 200 concurrent execs, every output byte-exact, fds back to the start, RSS bounded', async (t) => {
  const r = await soak({ cli: cliBundle, workspace: tempDir(t), home: tempDir(t), sequential: 1000, concurrent: 200 });
  assert.deepEqual(r.failures, []);
  assert.ok(r.fds.end <= r.fds.start + 2, `fds ${JSON.stringify(r.fds)}`);
  // Bounded memory: 1200 execs (200 of them at once) may grow the proxy by buffers and V8's
  // heap, not by anything kept per exec (observed: about +50 MB at the peak).
  assert.ok(r.rssKb.peak - r.rssKb.start < 128 * 1024, `RSS kB ${JSON.stringify(r.rssKb)}`);
  t.diagnostic(`p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, RSS kB ${JSON.stringify(r.rssKb)}, fds ${JSON.stringify(r.fds)}`);
});
