// Programs the tests spawn, found on PATH first (a Nix build sandbox has no /usr/bin), then at
// their Debian paths. A missing program fails the test that needs it, with the package to add.
import { existsSync } from 'node:fs';
import path from 'node:path';

export function program(name: string): string {
  // Named explicitly, e.g. by the Nix check (nix/npm-project.nix checkPrograms).
  const given = process.env[`AIFO_TEST_PROG_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  if (given && existsSync(given)) return given;
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), '/usr/bin', '/bin'];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  throw new Error(`test needs '${name}' on PATH (Debian: apt-get install ${name === 'script' ? 'util-linux' : name}; Nix: add it to checkTools)`);
}
