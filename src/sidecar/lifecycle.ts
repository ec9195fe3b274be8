// `aifo sidecar up|down|ls` without the CLI: one long-lived container per toolchain kind, all
// serving one workspace, through the Engine API (dockerode).
//
// Each sidecar: image `aifo-toolchain-<kind>:<tag>`, no network (`--network none`; the proxy
// reaches it through the engine, not over a network), the workspace bind-mounted at the same
// path (so a cwd means the same thing on the host and in the sidecar), a named cache volume per
// kind, the caller's uid:gid, an init process (reaps orphans, so "the process group is gone"
// is observable), and `sleep infinity` to stay up. `up` is idempotent: a running sidecar with
// the same image and workspace is kept; anything else under that name (exited, half-created
// after a crash, other image or workspace) is removed and created again.
import { realpath, stat } from 'node:fs/promises';
import Dockerode from 'dockerode';
import { AifoError } from '../protocol/errors.js';
import { loadToolchainDefs, toolchainImageRef } from '../images/definitions.js';
import { isToolchainKind, TOOLCHAIN_KINDS, type ToolchainKind } from '../protocol/tools.js';
import {
  assertSession,
  cacheVolumeName,
  defaultSession,
  LABEL_KIND,
  LABEL_SESSION,
  LABEL_SIDECAR,
  LABEL_WORKSPACE,
  removeSessionFile,
  sidecarName,
  writeSessionFile,
  type SidecarSession,
} from './session.js';

const LABEL_IMAGE_REF = 'org.aifo.image-ref';
/** Label the image builder puts on toolchain images: where the kind's cache volume goes. */
const IMAGE_LABEL_CACHE = 'org.aifo.cache';

export interface SidecarUpOptions {
  readonly kinds: readonly ToolchainKind[];
  /** Host directory; resolved with realpath and mounted at that same path. */
  readonly workspace: string;
  /** Image per kind; default `aifo-toolchain-<kind>:<tag>`. */
  readonly images?: Partial<Record<ToolchainKind, string>>;
  /** Image tag for the defaults; default `local`. */
  readonly tag?: string;
  /** Session id; default `defaultSession(workspace)`. */
  readonly session?: string;
  readonly uid: number;
  readonly gid: number;
  /** `none` (default) or `host`. Sidecars need no network to serve the proxy. */
  readonly network?: 'none' | 'host';
  /** Mount the per-kind cache volumes `aifo-cache-<kind>`; default true. */
  readonly cache?: boolean;
  /** More labels on each sidecar created. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly docker?: Dockerode;
  readonly log?: (line: string) => void;
}

export interface SidecarInfo {
  readonly kind: ToolchainKind;
  readonly name: string;
  readonly id: string;
  readonly image: string;
  /** Engine state: running, exited, created, … */
  readonly state: string;
  readonly session: string;
  readonly workspace: string;
}

export interface SidecarUpResult extends SidecarSession {
  /** Where the session file was written. */
  readonly file: string;
  /** Containers created by this call (the others were already running). */
  readonly created: readonly string[];
}

function errStatus(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

function errMessage(err: unknown): string {
  const e = err as { json?: { message?: string } | null; message?: string };
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

async function inspectOrUndefined(docker: Dockerode, name: string): Promise<Dockerode.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(name).inspect();
  } catch (err) {
    if (errStatus(err) === 404) return undefined;
    throw err;
  }
}

async function removeContainer(docker: Dockerode, name: string): Promise<void> {
  try {
    await docker.getContainer(name).remove({ force: true, v: false });
  } catch (err) {
    // 404: already gone; 409: removal already in progress (a concurrent `down`).
    if (errStatus(err) !== 404 && errStatus(err) !== 409) throw err;
  }
}

function defaultCachePaths(): Map<ToolchainKind, string> {
  try {
    return new Map([...loadToolchainDefs()].map(([k, d]) => [k, d.cache]));
  } catch {
    return new Map();
  }
}

/** What one sidecar is created with (used by `up`, and printed by `aifo run --dry-run`). */
export function sidecarCreateOptions(o: {
  kind: ToolchainKind;
  session: string;
  workspace: string;
  image: string;
  uid: number;
  gid: number;
  network: string;
  /** Where the kind's cache volume is mounted; undefined for no cache volume. */
  cachePath: string | undefined;
  /** More labels (aifo run marks its sidecars with its launcher). */
  labels?: Readonly<Record<string, string>> | undefined;
}): Dockerode.ContainerCreateOptions {
  const mounts: Dockerode.MountSettings[] = [{ Type: 'bind', Source: o.workspace, Target: o.workspace }];
  if (o.cachePath) mounts.push({ Type: 'volume', Source: cacheVolumeName(o.kind), Target: o.cachePath });
  return {
    name: sidecarName(o.kind, o.session),
    Image: o.image,
    Cmd: ['sleep', 'infinity'],
    User: `${o.uid}:${o.gid}`,
    WorkingDir: o.workspace,
    Labels: {
      [LABEL_SIDECAR]: '1',
      [LABEL_SESSION]: o.session,
      [LABEL_KIND]: o.kind,
      [LABEL_WORKSPACE]: o.workspace,
      [LABEL_IMAGE_REF]: o.image,
      ...o.labels,
    },
    HostConfig: {
      NetworkMode: o.network,
      Init: true,
      Mounts: mounts,
      SecurityOpt: ['no-new-privileges'],
    },
  };
}

/** The cache path a kind's image names in its label, else our default for the kind. */
function cachePathOf(info: Dockerode.ImageInspectInfo | undefined, kind: ToolchainKind): string | undefined {
  return info?.Config?.Labels?.[IMAGE_LABEL_CACHE] ?? defaultCachePaths().get(kind);
}

/** cachePathOf for an image by name; the default when the engine does not have it. */
export async function sidecarCachePath(docker: Dockerode, kind: ToolchainKind, image: string): Promise<string | undefined> {
  return cachePathOf(await docker.getImage(image).inspect().catch(() => undefined), kind);
}

export async function sidecarUp(opts: SidecarUpOptions): Promise<SidecarUpResult> {
  const docker = opts.docker ?? new Dockerode();
  const log = opts.log ?? (() => undefined);
  const tag = opts.tag ?? 'local';
  if (opts.kinds.length === 0) throw new Error('no toolchain given; pass at least one kind (e.g. --toolchain rust)');
  for (const k of opts.kinds) if (!isToolchainKind(k)) throw new Error(`unknown toolchain kind ${JSON.stringify(k)}; expected one of ${TOOLCHAIN_KINDS.join(', ')}`);
  for (const [what, n] of [['uid', opts.uid], ['gid', opts.gid]] as const) {
    if (!Number.isInteger(n) || n < 0) throw new Error(`${what} ${n} is not a non-negative integer`);
  }
  let workspace: string;
  try {
    workspace = await realpath(opts.workspace);
    if (!(await stat(workspace)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new Error(`workspace ${opts.workspace} is not an existing directory (${(err as Error).message})`);
  }
  const session = assertSession(opts.session ?? defaultSession(workspace));
  const network = opts.network ?? 'none';
  const created: string[] = [];

  // Kinds start in parallel: each is an independent container. All are waited for before a
  // failure is reported, so a caller that cleans up after one finds every container made.
  const results = await Promise.allSettled(
    [...new Set(opts.kinds)].map(async (kind) => {
      const name = sidecarName(kind, session);
      const image = opts.images?.[kind] ?? toolchainImageRef(kind, tag);
      let imageInfo: Dockerode.ImageInspectInfo;
      try {
        imageInfo = await docker.getImage(image).inspect();
      } catch (err) {
        if (errStatus(err) === 404) {
          // A set-up problem with its fix (the CLI exits 2 for these).
          throw new AifoError('AIFO_E_CONFIG', `image ${image} for the ${kind} sidecar is not in the local engine; build it with \`aifo images build --toolchain ${kind}\``);
        }
        throw err;
      }
      const have = await inspectOrUndefined(docker, name);
      if (have) {
        const labels = have.Config.Labels ?? {};
        const same =
          have.State.Running &&
          !have.State.Restarting &&
          labels[LABEL_WORKSPACE] === workspace &&
          labels[LABEL_SESSION] === session &&
          have.Image === imageInfo.Id &&
          have.Config.User === `${opts.uid}:${opts.gid}`;
        if (same) {
          log(`aifo: sidecar ${name} already running`);
          return;
        }
        log(`aifo: replacing sidecar ${name} (${have.State.Status}${have.Image === imageInfo.Id ? '' : ', other image'}${labels[LABEL_WORKSPACE] === workspace ? '' : ', other workspace'})`);
        await removeContainer(docker, name);
      }
      const cachePath = cachePathOf(imageInfo, kind);
      let container: Dockerode.Container;
      try {
        container = await docker.createContainer(
          sidecarCreateOptions({ kind, session, workspace, image, uid: opts.uid, gid: opts.gid, network, cachePath: (opts.cache ?? true) ? cachePath : undefined, labels: opts.labels }),
        );
      } catch (err) {
        if (errStatus(err) === 409) {
          // Another `up` created it in the meantime: use theirs if it runs.
          const other = await inspectOrUndefined(docker, name);
          if (other?.State.Running) return;
        }
        throw new Error(`cannot create sidecar ${name}: ${errMessage(err)}`, { cause: err });
      }
      try {
        await container.start();
      } catch (err) {
        await removeContainer(docker, name).catch(() => undefined);
        throw new Error(`cannot start sidecar ${name}: ${errMessage(err)}`, { cause: err });
      }
      created.push(name);
      log(`aifo: started sidecar ${name} (${image})`);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;

  const listed = await sidecarList({ session, docker });
  const sidecars: Partial<Record<ToolchainKind, string>> = {};
  for (const s of listed) if (s.state === 'running' && s.workspace === workspace) sidecars[s.kind] = s.name;
  const s: SidecarSession = { session, workspace, sidecars };
  const file = await writeSessionFile(s);
  return { ...s, file, created };
}

export interface SidecarDownOptions {
  /** Session to remove; default `defaultSession(workspace)`. */
  readonly session?: string;
  /** Used for the default session; default the current directory. */
  readonly workspace?: string;
  /** Remove the sidecars of every session. */
  readonly all?: boolean;
  readonly docker?: Dockerode;
  readonly log?: (line: string) => void;
}

/** Removes a session's sidecars (any state) and its session file; returns the names removed. */
export async function sidecarDown(opts: SidecarDownOptions = {}): Promise<string[]> {
  const docker = opts.docker ?? new Dockerode();
  const log = opts.log ?? (() => undefined);
  let session: string | undefined;
  if (!opts.all) {
    session = opts.session ?? defaultSession(await realpath(opts.workspace ?? process.cwd()).catch(() => opts.workspace ?? process.cwd()));
    assertSession(session);
  }
  const listed = await sidecarList({ ...(session ? { session } : {}), docker });
  await Promise.all(listed.map((s) => removeContainer(docker, s.name)));
  for (const s of listed) log(`aifo: removed sidecar ${s.name}`);
  const sessions = new Set(listed.map((s) => s.session));
  if (session) sessions.add(session);
  for (const id of sessions) await removeSessionFile(id);
  return listed.map((s) => s.name);
}

export interface SidecarListOptions {
  readonly session?: string;
  readonly docker?: Dockerode;
}

/** Every sidecar this tool created (any state), optionally of one session; sorted by name. */
export async function sidecarList(opts: SidecarListOptions = {}): Promise<SidecarInfo[]> {
  const docker = opts.docker ?? new Dockerode();
  const label = [`${LABEL_SIDECAR}=1`];
  if (opts.session) label.push(`${LABEL_SESSION}=${assertSession(opts.session)}`);
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label }) });
  const out: SidecarInfo[] = [];
  for (const c of list) {
    const kind = c.Labels[LABEL_KIND] ?? '';
    if (!isToolchainKind(kind)) continue;
    out.push({
      kind,
      name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
      id: c.Id,
      image: c.Labels[LABEL_IMAGE_REF] ?? c.Image,
      state: c.State,
      session: c.Labels[LABEL_SESSION] ?? '',
      workspace: c.Labels[LABEL_WORKSPACE] ?? '',
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
