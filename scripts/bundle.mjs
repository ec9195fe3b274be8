#!/usr/bin/env node
// esbuild bundles: dist/aifo.mjs (the CLI and proxy) and dist/aifo-shim.cjs (the in-container
// client). Both are single files with a node shebang; the CLI targets node20 (the flake pins 22).
import { build } from 'esbuild';
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
// Bundled CommonJS dependencies (dockerode, yargs' parsers) call require() for Node built-ins.
// Some (ssh2, through dockerode) also read __dirname/__filename, which ES modules lack.
const requireShim = [
  "import { createRequire as __aifoCreateRequire } from 'node:module';",
  "import { fileURLToPath as __aifoFileURLToPath } from 'node:url';",
  "import { dirname as __aifoDirname } from 'node:path';",
  'const require = __aifoCreateRequire(import.meta.url);',
  'const __filename = __aifoFileURLToPath(import.meta.url);',
  'const __dirname = __aifoDirname(__filename);',
].join(' ');

// A fresh dist/: no bundle of an earlier layout left to be picked up by mistake.
await rm(path.join(root, 'dist'), { recursive: true, force: true });

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'none',
  logLevel: 'warning',
  // Optional native speed-up of ssh2 (docker over ssh://); ssh2 works without it.
  external: ['cpu-features', '*.node'],
};

await build({
  ...common,
  entryPoints: [path.join(root, 'src/cli/main.ts')],
  outfile: path.join(root, 'dist/aifo.mjs'),
  banner: { js: '#!/usr/bin/env node\n' + requireShim },
});
// The shim is CommonJS for node18: agent images built from Debian bookworm ship Node 18, and it is
// installed as an extensionless `aifo-shim`, which every Node version loads as CommonJS when no
// package.json with "type": "module" is above it (the agent's /opt/aifo/bin has none).
await build({
  ...common,
  format: 'cjs',
  target: 'node18',
  entryPoints: [path.join(root, 'src/shim/main.ts')],
  outfile: path.join(root, 'dist/aifo-shim.cjs'),
  banner: { js: '#!/usr/bin/env node' },
  minify: true,
});
await chmod(path.join(root, 'dist/aifo.mjs'), 0o755);
await chmod(path.join(root, 'dist/aifo-shim.cjs'), 0o755);
