// `aifo images build`: toolchain images `aifo-toolchain-<kind>:<tag>`, the agent images
// `aifo-agent[-full]:<tag>` and real agents on top (`aifo-agent-codex[-full]:<tag>`), from
// Debian packages (images/*.json) with mmdebstrap, loaded into the local engine.
//
// Every image carries the label `org.aifo.input-hash`: a digest of everything that decides its
// contents (definition, flavor, builder revision, layer digests of what sits below). A build
// whose hash matches the existing image is skipped. Debian package updates are not part of the
// hash; `force` rebuilds (CI always builds from scratch).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { TOOLCHAIN_KINDS, type ToolchainKind } from '../protocol/tools.js';
import { writeShimDir } from '../wrappers/layout.js';
import { loadAgentDef, loadToolchainDefs, packageRoot, toolchainImageRef, type AgentImageDef, type Flavor } from './definitions.js';
import { loadImage, type Layer } from './load.js';
import { buildRootfs, checkRootfs, SOURCE_DATE_EPOCH } from './mmdebstrap.js';
import { dirEntries, writeTar } from './tar.js';

/** Bump when a change here changes image contents, so cached images are rebuilt. */
const BUILDER_REVISION = 2;

/** The agent image's own node (Debian's nodejs): runs the shim and the agents. */
const AGENT_NODE = '/usr/bin/node';

export const LABEL_HASH = 'org.aifo.input-hash';
export const LABEL_IMAGE = 'org.aifo.image';
export const LABEL_KIND = 'org.aifo.kind';
export const LABEL_FLAVOR = 'org.aifo.flavor';
export const LABEL_SHIM_LAYER = 'org.aifo.shim-layer';

export { toolchainImageRef } from './definitions.js';

export function agentImageRef(flavor: Flavor = 'slim', tag = 'local', agent?: string): string {
  const name = agent ? `aifo-agent-${agent}` : 'aifo-agent';
  return `${name}${flavor === 'full' ? '-full' : ''}:${tag}`;
}

/** Writes a complete /opt/aifo/bin into `dir` (src/wrappers/layout.ts `writeShimDir`). */
export type ShimLayout = (dir: string) => Promise<void>;

export interface BuildImagesOptions {
  /** Toolchain images to build; default none. */
  readonly kinds?: readonly ToolchainKind[];
  /** Build the agent image (of `flavor`). */
  readonly agent?: boolean;
  /** Real agents to build on top of the agent image (names from images/agent.json, e.g. `codex`). */
  readonly agents?: readonly string[];
  readonly flavor?: Flavor;
  /** Image tag; default `local`. */
  readonly tagSuffix?: string;
  readonly log?: (line: string) => void;
  /** Rebuild even when the input hash matches the existing image. */
  readonly force?: boolean;
  /** mmdebstrap runs at once; default 3 (downloads and dpkg are I/O-bound). */
  readonly concurrency?: number;
  readonly docker?: Dockerode;
  /** Keeps downloaded .debs and the agent's base rootfs; default `$XDG_CACHE_HOME/aifo` or `~/.cache/aifo`. */
  readonly cacheDir?: string;
  /** The shim bundle for /opt/aifo/bin; default `<package>/dist/aifo-shim.cjs` (`npm run build`). */
  readonly shimBundle?: string;
  /** Overrides how /opt/aifo/bin is laid out; default the shared layout function. */
  readonly shimLayout?: ShimLayout;
}

export interface BuiltImage {
  readonly ref: string;
  readonly id: string;
  /** True when an image with the same input hash existed and nothing was built. */
  readonly skipped: boolean;
  readonly seconds: number;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function defaultCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'aifo');
}

/** Runs at most `n` of the tasks at once; rejects with the first failure after all settle. */
async function pool<T>(n: number, tasks: readonly (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  const errors: unknown[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      try {
        results[i] = await tasks[i]!();
      } catch (err) {
        errors.push(err);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, tasks.length)) }, worker));
  if (errors.length > 0) throw errors[0];
  return results;
}

async function existingHash(docker: Dockerode, ref: string): Promise<{ id: string; hash: string | undefined } | undefined> {
  try {
    const info = await docker.getImage(ref).inspect();
    return { id: info.Id, hash: info.Config?.Labels?.[LABEL_HASH] };
  } catch {
    return undefined;
  }
}

function run(cmd: string, args: readonly string[], log: (l: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.once('error', (e) => reject(new Error(`${cmd} could not be started: ${e.message}`)));
    p.once('close', (code) => {
      const stderr = Buffer.concat(err).toString('utf8').trim();
      if (code === 0) {
        // npm's complaint about unrelated user config on the build machine is noise here.
        if (stderr) for (const l of stderr.split('\n')) if (!/^npm warn Unknown user config/.test(l)) log(l);
        resolve(Buffer.concat(out).toString('utf8'));
      } else reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr}`));
    });
  });
}

/** Resolves an npm spec (`npm@10`, `@openai/codex`) to one exact version: the highest match. */
async function npmResolve(spec: string, log: (l: string) => void): Promise<string> {
  const at = spec.lastIndexOf('@');
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : 'latest';
  const out = JSON.parse(await run('npm', ['view', `${name}@${range}`, 'version', '--json'], log)) as string | string[];
  const version = Array.isArray(out) ? out[out.length - 1] : out;
  if (typeof version !== 'string' || !/^[0-9][0-9A-Za-z.+-]*$/.test(version)) throw new Error(`npm view ${spec}: unexpected answer ${JSON.stringify(out)}`);
  return `${name}@${version}`;
}

/**
 * An image layer holding npm packages installed globally under /usr/local. They are installed
 * on the build machine from the npm registry into a staging prefix, so no container needs a
 * network; install scripts are not run on the build machine, and platform binaries come through
 * the packages' optional dependencies for linux/<this cpu>.
 */
async function npmLayer(exact: readonly string[], file: string, log: (l: string) => void, launcherNode?: string): Promise<Layer> {
  const prefix = `${file}.prefix`;
  log(`npm install -g ${exact.join(' ')}`);
  const cpu = process.arch === 'x64' ? 'x64' : process.arch;
  await run('npm', ['install', '--global', '--prefix', prefix, '--ignore-scripts', '--no-audit', '--no-fund', '--os', 'linux', '--cpu', cpu, ...exact], log);
  if (launcherNode) {
    // In the agent image `node` on PATH is the shim (/opt/aifo/bin/node routes it to the node
    // sidecar), so a `#!/usr/bin/env node` entry point would run the agent itself in a sidecar.
    // Each bin becomes a launcher that names the image's own node.
    const bin = path.join(prefix, 'bin');
    for (const name of existsSync(bin) ? await readdir(bin) : []) {
      const link = path.join(bin, name);
      const target = path.posix.normalize(path.posix.join('/usr/local/bin', await readlink(link)));
      await rm(link);
      await writeFile(link, `#!/bin/sh\nexec ${launcherNode} ${target} "$@"\n`, { mode: 0o755 });
    }
  }
  const l = await writeTar(await dirEntries(prefix, 'usr/local'), file, SOURCE_DATE_EPOCH);
  await rm(prefix, { recursive: true, force: true });
  return { file, ...l, createdBy: `aifo images build: npm install -g ${exact.join(' ')}` };
}

/** The shared layout function (src/wrappers/layout.ts), with the agent image's node. */
function defaultShimLayout(shimBundle: string): ShimLayout {
  // Debian's nodejs in the agent image runs the shim.
  return async (dir) => void (await writeShimDir(dir, { shimBundle, node: AGENT_NODE, mtime: SOURCE_DATE_EPOCH }));
}

export async function buildImages(opts: BuildImagesOptions): Promise<BuiltImage[]> {
  const docker = opts.docker ?? new Dockerode();
  const tag = opts.tagSuffix ?? 'local';
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`image tag ${JSON.stringify(tag)} is not a valid docker tag`);
  const flavor = opts.flavor ?? 'slim';
  const baseLog = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const kinds = opts.kinds ?? [];
  const agents = opts.agents ?? [];
  for (const k of kinds) if (!TOOLCHAIN_KINDS.includes(k)) throw new Error(`unknown toolchain kind ${JSON.stringify(k)}; expected one of ${TOOLCHAIN_KINDS.join(', ')}`);
  const toolchainDefs = kinds.length > 0 ? loadToolchainDefs() : undefined;
  const agentDef = opts.agent || agents.length > 0 ? loadAgentDef(flavor) : undefined;
  for (const a of agents) if (!agentDef?.agents[a]) throw new Error(`unknown agent ${JSON.stringify(a)} (images/agent.json lists: ${Object.keys(agentDef?.agents ?? {}).join(', ')})`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'aifo-images-'));
  const results: BuiltImage[] = [];
  try {
    const toolchainTasks = kinds.map((kind) => async (): Promise<BuiltImage> => {
      const def = toolchainDefs!.get(kind)!;
      const ref = toolchainImageRef(kind, tag);
      const log = (l: string): void => baseLog(`[${kind}] ${l}`);
      const t0 = performance.now();
      const npmExact = await Promise.all(def.npm.map((spec) => npmResolve(spec, log)));
      const hash = sha256(JSON.stringify({ rev: BUILDER_REVISION, def, npmExact }));
      const have = await existingHash(docker, ref);
      if (!opts.force && have?.hash === hash) {
        log(`${ref} is up to date (${LABEL_HASH}=${hash.slice(0, 12)}), skipped`);
        return { ref, id: have.id, skipped: true, seconds: 0 };
      }
      log(`building ${ref}: ${def.packages.join(' ')}`);
      const file = path.join(work, `rootfs-${kind}.tar`);
      const r = await buildRootfs(
        { suite: def.suite, variant: 'essential', packages: def.packages, writableDirs: def.writableDirs },
        file,
        { debCache: path.join(cacheDir, 'debs', kind), log },
      );
      await checkRootfs(file);
      const layers: Layer[] = [{ file, ...r, createdBy: `aifo images build: mmdebstrap --variant=essential ${def.suite} (${def.packages.join(' ')})` }];
      if (npmExact.length > 0) layers.push(await npmLayer(npmExact, path.join(work, `npm-${kind}.tar`), log));
      const id = await loadImage(
        docker,
        ref,
        layers,
        {
          env: def.env,
          cmd: ['sleep', 'infinity'],
          labels: { [LABEL_HASH]: hash, [LABEL_IMAGE]: 'toolchain', [LABEL_KIND]: kind, 'org.aifo.cache': def.cache },
        },
        SOURCE_DATE_EPOCH,
      );
      for (const l of layers) await rm(l.file, { force: true });
      const seconds = (performance.now() - t0) / 1000;
      log(`built ${ref} (${(r.size / 2 ** 20).toFixed(0)} MiB) in ${seconds.toFixed(1)} s`);
      return { ref, id, skipped: false, seconds };
    });

    const agentTask = agentDef
      ? async (): Promise<BuiltImage[]> => buildAgentImages(docker, agentDef, flavor, tag, agents, { ...opts, cacheDir, work, log: baseLog })
      : undefined;

    const all = await pool<BuiltImage | BuiltImage[]>(opts.concurrency ?? 3, [...(agentTask ? [agentTask] : []), ...toolchainTasks]);
    for (const r of all) results.push(...(Array.isArray(r) ? r : [r]));
    return results;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface AgentBuildContext extends BuildImagesOptions {
  readonly cacheDir: string;
  readonly work: string;
  readonly log: (line: string) => void;
}

/** The agent's base rootfs, kept in the cache by hash: a shim-only change does not re-run mmdebstrap. */
async function agentBaseLayer(def: AgentImageDef, flavor: Flavor, ctx: AgentBuildContext): Promise<Layer & { hash: string }> {
  const log = (l: string): void => ctx.log(`[agent-${flavor}] ${l}`);
  const hash = sha256(JSON.stringify({ rev: BUILDER_REVISION, suite: def.suite, variant: def.variant, packages: def.packages, dirs: def.writableDirs }));
  const dir = path.join(ctx.cacheDir, 'rootfs');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `agent-${hash.slice(0, 32)}.tar`);
  const meta = `${file}.json`;
  const createdBy = `aifo images build: mmdebstrap --variant=${def.variant} ${def.suite} (${def.packages.join(' ')})`;
  if (!ctx.force && existsSync(file) && existsSync(meta)) {
    const m = JSON.parse(await readFile(meta, 'utf8')) as { sha256: string; size: number };
    log(`base rootfs from cache ${file}`);
    return { file, sha256: m.sha256, size: m.size, createdBy, hash };
  }
  log(`building base rootfs: ${def.packages.join(' ')}`);
  const tmp = `${file}.${process.pid}.tmp`;
  const r = await buildRootfs({ suite: def.suite, variant: def.variant, packages: def.packages, writableDirs: def.writableDirs }, tmp, {
    debCache: path.join(ctx.cacheDir, 'debs', `agent-${flavor}`),
    log,
  });
  await checkRootfs(tmp);
  await rename(tmp, file);
  await writeFile(meta, JSON.stringify(r));
  return { file, ...r, createdBy, hash };
}

async function buildAgentImages(
  docker: Dockerode,
  def: AgentImageDef,
  flavor: Flavor,
  tag: string,
  agents: readonly string[],
  ctx: AgentBuildContext,
): Promise<BuiltImage[]> {
  const out: BuiltImage[] = [];
  const log = (l: string): void => ctx.log(`[agent-${flavor}] ${l}`);
  const t0 = performance.now();

  // The /opt/aifo/bin layer first: it is cheap and its digest is part of every hash above it.
  const shimBundle = ctx.shimBundle ?? path.join(packageRoot(), 'dist', 'aifo-shim.cjs');
  if (!ctx.shimLayout && !existsSync(shimBundle)) throw new Error(`shim bundle ${shimBundle} is missing; run \`npm run build\` first`);
  const layout = ctx.shimLayout ?? defaultShimLayout(shimBundle);
  const shimRoot = path.join(ctx.work, `shim-${flavor}`);
  await mkdir(shimRoot, { recursive: true });
  await layout(shimRoot);
  const shimTar = path.join(ctx.work, `shim-${flavor}.tar`);
  const shim = await writeTar(await dirEntries(shimRoot, def.shimDir.slice(1)), shimTar, SOURCE_DATE_EPOCH);
  log(`/opt/aifo/bin layer sha256:${shim.sha256}`);
  const shimLayer: Layer = { file: shimTar, ...shim, createdBy: `aifo images build: ${def.shimDir} (layout function)` };

  const ref = agentImageRef(flavor, tag);
  const baseHash = sha256(JSON.stringify({ rev: BUILDER_REVISION, def: { ...def, agents: undefined }, flavor }));
  const hash = sha256(JSON.stringify({ baseHash, shim: shim.sha256 }));
  const have = await existingHash(docker, ref);
  let base: (Layer & { hash: string }) | undefined;
  const labels = { [LABEL_IMAGE]: 'agent', [LABEL_FLAVOR]: flavor, [LABEL_SHIM_LAYER]: `sha256:${shim.sha256}` };
  if (!ctx.force && have?.hash === hash) {
    log(`${ref} is up to date, skipped`);
    out.push({ ref, id: have.id, skipped: true, seconds: 0 });
  } else {
    base = await agentBaseLayer(def, flavor, ctx);
    const id = await loadImage(docker, ref, [base, shimLayer], { env: def.env, cmd: ['/bin/bash'], labels: { ...labels, [LABEL_HASH]: hash } }, SOURCE_DATE_EPOCH);
    const seconds = (performance.now() - t0) / 1000;
    log(`built ${ref} in ${seconds.toFixed(1)} s`);
    out.push({ ref, id, skipped: false, seconds });
  }

  for (const name of agents) {
    const a = def.agents[name]!;
    const t1 = performance.now();
    const aref = agentImageRef(flavor, tag, name);
    const exact = await npmResolve(a.npm, log);
    const ahash = sha256(JSON.stringify({ rev: BUILDER_REVISION, agent: hash, npm: exact }));
    const ahave = await existingHash(docker, aref);
    if (!ctx.force && ahave?.hash === ahash) {
      log(`${aref} (${exact}) is up to date, skipped`);
      out.push({ ref: aref, id: ahave.id, skipped: true, seconds: 0 });
      continue;
    }
    const layer = await npmLayer([exact], path.join(ctx.work, `npm-${name}-${flavor}.tar`), log, AGENT_NODE);
    base ??= await agentBaseLayer(def, flavor, ctx);
    const id = await loadImage(
      docker,
      aref,
      [base, shimLayer, layer],
      {
        env: def.env,
        cmd: [a.bin],
        labels: { ...labels, [LABEL_IMAGE]: `agent-${name}`, [LABEL_HASH]: ahash, 'org.aifo.agent': name, 'org.aifo.agent-version': exact.slice(exact.lastIndexOf('@') + 1) },
      },
      SOURCE_DATE_EPOCH,
    );
    const seconds = (performance.now() - t1) / 1000;
    log(`built ${aref} (${exact}) in ${seconds.toFixed(1)} s`);
    out.push({ ref: aref, id, skipped: false, seconds });
  }
  return out;
}
