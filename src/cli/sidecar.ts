// `aifo sidecar up|down|ls` and `aifo images build`: thin CLI over src/sidecar and src/images.
import { realpath } from 'node:fs/promises';
import { AifoError } from '../protocol/errors.js';
import { isToolchainKind, TOOLCHAIN_KINDS, type ToolchainKind } from '../protocol/tools.js';
import { buildImages } from '../images/build.js';
import type { Flavor } from '../images/definitions.js';
import { defaultSession, readSessionFile, sidecarDown, sidecarList, sidecarMap, sidecarUp } from '../sidecar/index.js';
import { defaultShimBundle } from './shims.js';

export function parseKinds(values: readonly string[] | undefined, flag = '--toolchain'): ToolchainKind[] {
  const kinds: ToolchainKind[] = [];
  for (const v of values ?? []) {
    for (const k of v.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!isToolchainKind(k)) throw new AifoError('AIFO_E_CONFIG', `${flag} '${k}': expected one of ${TOOLCHAIN_KINDS.join(' ')}`);
      if (!kinds.includes(k)) kinds.push(k);
    }
  }
  return kinds;
}

/** KIND=IMAGE overrides for `--image`. */
export function parseImages(values: readonly string[] | undefined): Partial<Record<ToolchainKind, string>> {
  const out: Partial<Record<ToolchainKind, string>> = {};
  for (const v of values ?? []) {
    const m = /^([a-z-]+)=(\S+)$/.exec(v);
    if (!m || !isToolchainKind(m[1]!)) throw new AifoError('AIFO_E_CONFIG', `--image '${v}': expected KIND=IMAGE`);
    out[m[1] as ToolchainKind] = m[2]!;
  }
  return out;
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

export async function cmdSidecarUp(o: { toolchain?: string[] | undefined; workspace?: string | undefined; image?: string[] | undefined; session?: string | undefined; tag?: string | undefined }): Promise<void> {
  const kinds = parseKinds(o.toolchain);
  if (kinds.length === 0) throw new AifoError('AIFO_E_CONFIG', 'name at least one --toolchain (rust node python c-cpp go)');
  const workspace = await realpath(o.workspace ?? process.cwd()).catch(() => {
    throw new AifoError('AIFO_E_CONFIG', `--workspace '${o.workspace}' does not exist`);
  });
  const r = await sidecarUp({
    kinds,
    workspace,
    images: parseImages(o.image),
    ...(o.session ? { session: o.session } : {}),
    ...(o.tag ? { tag: o.tag } : {}),
    uid: process.getuid?.() ?? 1000,
    gid: process.getgid?.() ?? 1000,
    log,
  });
  process.stdout.write(`session=${r.session}\n`);
  for (const [k, name] of sidecarMap(r)) process.stdout.write(`${k}=${name}\n`);
}

export async function cmdSidecarDown(o: { session?: string | undefined; workspace?: string | undefined; all?: boolean | undefined }): Promise<void> {
  const removed = await sidecarDown({
    ...(o.session ? { session: o.session } : {}),
    ...(o.workspace ? { workspace: o.workspace } : {}),
    ...(o.all ? { all: true } : {}),
    log,
  });
  process.stdout.write(removed.map((n) => `${n}\n`).join(''));
}

export async function cmdSidecarLs(o: { session?: string | undefined }): Promise<void> {
  const list = await sidecarList(o.session ? { session: o.session } : {});
  for (const s of list) process.stdout.write(`${s.name}\t${s.kind}\t${s.state}\t${s.image}\t${s.workspace}\n`);
}

/** Sidecars for `aifo proxy --runner docker`: --sidecar KIND=NAME, else a session file. */
export async function sessionSidecars(session: string | undefined, workspace: string | undefined): Promise<Map<ToolchainKind, string>> {
  const id = session ?? defaultSession(await realpath(workspace ?? process.cwd()).catch(() => workspace ?? process.cwd()));
  const s = await readSessionFile(id);
  if (!s) throw new AifoError('AIFO_E_CONFIG', `no sidecar session '${id}'; run 'aifo sidecar up --toolchain …' or pass --sidecar KIND=CONTAINER`);
  return sidecarMap(s);
}

export async function cmdImagesBuild(o: { toolchain?: string[] | undefined; agent?: boolean | undefined; agents?: string[] | undefined; flavor?: string | undefined; tag?: string | undefined; force?: boolean | undefined }): Promise<void> {
  let kinds = parseKinds(o.toolchain);
  const agents = o.agents ?? [];
  if (kinds.length === 0 && !o.agent && agents.length === 0) kinds = [...TOOLCHAIN_KINDS];
  const flavor = (o.flavor ?? 'slim') as Flavor;
  if (flavor !== 'slim' && flavor !== 'full') throw new AifoError('AIFO_E_CONFIG', `--flavor '${o.flavor}': expected slim or full`);
  const built = await buildImages({
    kinds,
    agent: o.agent === true || agents.length > 0,
    agents,
    flavor,
    ...(o.tag ? { tagSuffix: o.tag } : {}),
    ...(o.force ? { force: true } : {}),
    shimBundle: defaultShimBundle(),
    log,
  });
  for (const b of built) process.stdout.write(`${JSON.stringify(b)}\n`);
}
