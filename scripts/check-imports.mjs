#!/usr/bin/env node
// Enforces DESIGN.md's shape: src/protocol imports nothing of ours; src/shim and src/proxy
// import src/protocol and never each other. Run by `npm run build`, so a wrong import fails it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'src');
const rules = {
  protocol: (target) => target.startsWith('protocol/'),
  shim: (target) => target.startsWith('protocol/') || target.startsWith('shim/'),
  proxy: (target) => !target.startsWith('shim/') && !target.startsWith('cli/'),
};

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

const problems = [];
for (const [room, allowed] of Object.entries(rules)) {
  const dir = path.join(root, room);
  let files;
  try {
    files = [...walk(dir)];
  } catch {
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (!spec.startsWith('.')) {
        if (room === 'protocol' && !spec.startsWith('node:')) problems.push(`${path.relative(root, file)}: protocol must not import '${spec}'`);
        continue;
      }
      const target = path.relative(root, path.resolve(path.dirname(file), spec));
      if (target.startsWith('..') || !allowed(target)) {
        problems.push(`${path.relative(root, file)}: '${room}' must not import '${spec}' (${target})`);
      }
    }
  }
}
if (problems.length) {
  console.error('check-imports: layering violations (DESIGN.md "Layout"):\n  ' + problems.join('\n  '));
  process.exit(1);
}
