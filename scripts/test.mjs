#!/usr/bin/env node
// Runs one tier of the built tests with node:test: `unit` (everything under build/test but the
// tiers named below), `e2e` (build/test/e2e: needs a Docker engine and the local images) or
// `faults` (build/test/faults: fault injection, hostile input and soak; slower).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const tier = process.argv[2] ?? 'unit';
const root = path.resolve(import.meta.dirname, '..', 'build', 'test');
const SEPARATE_TIERS = new Set(['e2e', 'faults']);

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.test.js')) yield p;
  }
}

const files = [...walk(root)].filter((f) => {
  const top = path.relative(root, f).split(path.sep)[0];
  return tier === 'unit' ? !SEPARATE_TIERS.has(top) : top === tier;
});
if (files.length === 0) {
  console.error(`scripts/test.mjs: no tests for tier '${tier}' under ${root}`);
  process.exit(1);
}
const concurrency = tier === 'unit' ? '2' : '1';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...process.argv.slice(3), ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
