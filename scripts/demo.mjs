#!/usr/bin/env node
// The README's first command: start the proxy on the local runner, run one tool through the
// shim, show what the agent would see, stop the proxy.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, realpathSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import split2 from 'split2';

const root = path.resolve(import.meta.dirname, '..');
const workspace = realpathSync(mkdtempSync(path.join(os.tmpdir(), 'aifo-demo-')));
const proxy = spawn(process.execPath, [path.join(root, 'dist/aifo.mjs'), 'proxy', '--runner', 'local', '--workspace', workspace, '--verbose'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const env = { ...process.env };
await new Promise((resolve, reject) => {
  proxy.on('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  proxy.stdout.pipe(split2()).on('data', (line) => {
    const m = /^(AIFO_TOOLEEXEC_URL|AIFO_TOOLEEXEC_TOKEN)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
    if (env.AIFO_TOOLEEXEC_URL && env.AIFO_TOOLEEXEC_TOKEN) resolve();
  });
});
proxy.removeAllListeners('exit');
console.log(`\nproxy ready at ${env.AIFO_TOOLEEXEC_URL}; running: aifo-shim node -e '…' in ${workspace}\n`);
const shim = spawn(process.execPath, [path.join(root, 'dist/aifo-shim.cjs'), 'node', '-e',
  'console.log("hello from", process.version, "in", process.cwd()); console.error("(stderr too)"); process.exit(3)'], {
  cwd: workspace,
  env,
  stdio: 'inherit',
});
const code = await new Promise((resolve) => shim.on('close', resolve));
console.log(`\nshim exit code: ${code} (the tool's own)`);
proxy.kill('SIGTERM');
await new Promise((resolve) => proxy.on('close', resolve));
rmSync(workspace, { recursive: true, force: true });
process.exit(code === 3 ? 0 : 1);
