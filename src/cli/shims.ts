// `aifo shims write DIR` / `aifo shims check DIR`: the /opt/aifo/bin layout from this build, for
// images and for host override (AIFO_SHIM_DIR).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AifoError } from '../protocol/errors.js';
import { checkShimDir, writeShimDir, type ShimLayoutOptions } from '../wrappers/layout.js';

/** The shim bundle beside this CLI bundle (dist/), or dist/ of the repo when run from build/. */
export function defaultShimBundle(): string {
  for (const rel of ['./aifo-shim.cjs', '../../../dist/aifo-shim.cjs']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new AifoError('AIFO_E_CONFIG', 'cannot find the aifo-shim bundle; run `npm run build` or pass --shim-bundle');
}

export interface ShimsWriteOptions {
  readonly shimBundle?: string | undefined;
  readonly node?: string | undefined;
  readonly sh?: string | undefined;
  readonly bash?: string | undefined;
  readonly dash?: string | undefined;
  readonly mtime?: number | undefined;
}

export async function shimsWrite(dir: string, o: ShimsWriteOptions): Promise<void> {
  const realShells: { sh?: string; bash?: string; dash?: string } = {};
  if (o.sh !== undefined) realShells.sh = o.sh;
  if (o.bash !== undefined) realShells.bash = o.bash;
  if (o.dash !== undefined) realShells.dash = o.dash;
  const opts: { -readonly [K in keyof ShimLayoutOptions]: ShimLayoutOptions[K] } = {
    shimBundle: o.shimBundle ?? defaultShimBundle(),
    realShells,
  };
  if (o.node !== undefined) opts.node = o.node;
  if (o.mtime !== undefined) opts.mtime = o.mtime;
  const entries = await writeShimDir(dir, opts);
  for (const e of entries) {
    process.stdout.write(`${e.mode.toString(8)} ${e.type} ${e.name}${e.target ? ` -> ${e.target}` : ''}\n`);
  }
}

export async function shimsCheck(dir: string): Promise<boolean> {
  const problems = await checkShimDir(dir);
  for (const p of problems) process.stderr.write(`aifo: ${p}\n`);
  if (problems.length === 0) process.stdout.write(`${dir}: complete\n`);
  return problems.length === 0;
}
