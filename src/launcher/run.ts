// `aifo run`: sidecars, the proxy in-process, and the agent container, from one command; and
// everything removed again however it ends (agent exit, Ctrl-C, SIGTERM, or a crashed launcher
// cleaned by the next run). Talks to the engine through its API (dockerode).
import { randomBytes } from 'node:crypto';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { AifoError } from '../protocol/errors.js';
import type { ToolchainKind } from '../protocol/tools.js';
import { newToken } from '../proxy/auth.js';
import { clientUrl, listen } from '../proxy/listen.js';
import { createLogger } from '../proxy/log.js';
import { createNotifyHandler, notifyOptionsFromEnv } from '../proxy/notifications.js';
import { procStartTime } from '../proxy/runners/orphans.js';
import { createDockerRunner } from '../proxy/runners/docker.js';
import { createProxyServer } from '../proxy/server.js';
import { sidecarCachePath, sidecarCreateOptions, sidecarDown, sidecarUp } from '../sidecar/index.js';
import { agentReaches, probeCreateOptions } from './doctor.js';
import { checkShimDir } from '../wrappers/layout.js';
import { toolchainImageRef } from '../images/definitions.js';
import { maxSecsFromEnv } from '../cli/proxy.js';

export const LABEL_AGENT = 'org.aifo.agent';
export const LABEL_SESSION = 'org.aifo.session';
export const LABEL_LAUNCHER = 'org.aifo.launcher';
/** The launcher's private socket directory, removed by the next run if the launcher died. */
export const LABEL_SOCKET_DIR = 'org.aifo.socket-dir';
/** Where the socket directory appears in the agent (protocol.md "Transports"). */
export const AGENT_SOCKET_DIR = '/run/aifo';
const AGENT_URL_UNIX = `unix://${AGENT_SOCKET_DIR}/toolexec.sock`;
/** On Ctrl-C/SIGTERM/SIGHUP the agent gets TERM, and KILL after this many seconds. */
const AGENT_STOP_GRACE_SECS = 3;
/** Where the agent's shims live (the images bake it; AIFO_SHIM_DIR is mounted over it). */
const SHIM_BIN = '/opt/aifo/bin';
/** The agent's PATH when its image names none (Debian's default). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The agent's PATH: the shims first, then the image's own PATH (any other entry for the shims
 * dropped), so `cargo` is the shim in whatever image the user picked with --image.
 */
export function agentPath(imagePath: string | undefined): string {
  const rest = (imagePath ?? DEFAULT_PATH).split(':').filter((e) => e !== '' && e !== SHIM_BIN && e !== `${SHIM_BIN}/`);
  return [SHIM_BIN, ...rest].join(':');
}

/** PATH from the image's config, or undefined (no such image yet, no PATH in it). */
async function imagePath(docker: Dockerode, image: string): Promise<string | undefined> {
  try {
    const info = await docker.getImage(image).inspect();
    return info.Config?.Env?.find((e) => e.startsWith('PATH='))?.slice('PATH='.length);
  } catch {
    return undefined;
  }
}

export interface RunOptions {
  readonly kinds: readonly ToolchainKind[];
  readonly image: string;
  readonly workspace: string;
  readonly transport: 'unix' | 'tcp';
  readonly dryRun: boolean;
  readonly keep: boolean;
  readonly command: readonly string[];
  /** AIFO_SHIM_DIR: mounted read-only over /opt/aifo/bin. */
  readonly shimDir?: string | undefined;
  readonly tag?: string | undefined;
  readonly verbose?: boolean | undefined;
}

/** `pid:starttime` of this launcher, so a later run can tell a dead launcher from a live one. */
function launcherId(): string {
  return `${process.pid}:${procStartTime(process.pid) ?? '?'}`;
}

function launcherAlive(id: string): boolean {
  const [pid, start] = id.split(':');
  return procStartTime(Number(pid)) === start;
}

/**
 * Removes what launchers that are gone left behind (agent containers and their sessions'
 * sidecars). Only sessions whose launcher is provably dead are touched.
 */
export async function reapDeadLaunchers(docker: Dockerode, log: (l: string) => void): Promise<string[]> {
  const list = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL_LAUNCHER}`] }) });
  const removed: string[] = [];
  for (const c of list) {
    const id = c.Labels[LABEL_LAUNCHER] ?? '';
    if (launcherAlive(id)) continue;
    const session = c.Labels[LABEL_SESSION];
    log(`aifo: removing ${c.Names[0]?.replace(/^\//, '')} left by launcher ${id} that is gone`);
    await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    removed.push(c.Id);
    const sockDir = c.Labels[LABEL_SOCKET_DIR];
    // Only a directory this tool made (aifo-run-*), never a path a label could point anywhere.
    if (sockDir && path.isAbsolute(sockDir) && path.basename(sockDir).startsWith('aifo-run-')) {
      await rm(sockDir, { recursive: true, force: true }).catch(() => undefined);
    }
    if (session) removed.push(...(await sidecarDown({ session, docker }).catch(() => [])));
  }
  return removed;
}

interface Plan {
  readonly session: string;
  readonly agentName: string;
  readonly sidecars: readonly (Dockerode.ContainerCreateOptions & { name: string; Image: string })[];
  readonly probe: Dockerode.ContainerCreateOptions | undefined;
  readonly createOptions: Dockerode.ContainerCreateOptions;
  readonly envNames: string[];
  readonly url: string;
}

/** The TCP start-up probe's container: host network, the workspace, and the override if any. */
function probeHostConfig(o: RunOptions): Dockerode.HostConfig {
  return { NetworkMode: 'host', Binds: [`${o.workspace}:${o.workspace}`, ...(o.shimDir ? [`${o.shimDir}:${SHIM_BIN}:ro`] : [])] };
}

function agentCreateOptions(o: RunOptions, session: string, agentName: string, url: string, token: string, socketDir: string | undefined, tty: boolean, pathEnv: string): Dockerode.ContainerCreateOptions {
  const binds = [`${o.workspace}:${o.workspace}`];
  if (socketDir) binds.push(`${socketDir}:${AGENT_SOCKET_DIR}`);
  if (o.shimDir) binds.push(`${o.shimDir}:${SHIM_BIN}:ro`);
  return {
    name: agentName,
    Image: o.image,
    ...(o.command.length > 0 ? { Cmd: [...o.command] } : {}),
    // The token goes to the engine in the create request, never into an argv or a log. It is
    // visible to whoever may `docker inspect` the container, i.e. who already controls the engine.
    Env: [`AIFO_TOOLEEXEC_URL=${url}`, `AIFO_TOOLEEXEC_TOKEN=${token}`, `AIFO_CODER_CONTAINER_NAME=${agentName}`, `PATH=${pathEnv}`, `SHELL=${SHIM_BIN}/sh`],
    User: `${process.getuid?.() ?? 1000}:${process.getgid?.() ?? 1000}`,
    WorkingDir: o.workspace,
    Tty: tty,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Labels: { [LABEL_AGENT]: '1', [LABEL_SESSION]: session, [LABEL_LAUNCHER]: launcherId(), ...(socketDir ? { [LABEL_SOCKET_DIR]: socketDir } : {}) },
    HostConfig: {
      Binds: binds,
      // Unix socket: the agent needs no network at all. TCP: the proxy is on the host's loopback.
      NetworkMode: socketDir ? 'none' : 'host',
      Init: true,
    },
  };
}

/** A create request as one line of JSON, with the token's value replaced. */
function shown(c: Dockerode.ContainerCreateOptions): string {
  const env = c.Env?.map((e) => (e.startsWith('AIFO_TOOLEEXEC_TOKEN=') ? 'AIFO_TOOLEEXEC_TOKEN=<token>' : e));
  return JSON.stringify({ ...c, ...(env ? { Env: env } : {}) });
}

/** Prints the plan: every engine call with its arguments, env names but never values of secrets. */
function printPlan(o: RunOptions, plan: Plan): void {
  const out = (l: string): void => void process.stdout.write(l + '\n');
  out(`aifo run plan (dry run: nothing is started)`);
  out(`session ${plan.session}`);
  out(`engine: list containers labelled ${LABEL_LAUNCHER}; remove those of launchers that are gone, with their sessions' sidecars`);
  for (const s of plan.sidecars) {
    out(`engine: inspect image ${s.Image}; create and start sidecar ${s.name}`);
    out(`  create: ${shown(s)}`);
  }
  out(`proxy: docker runner, listen ${o.transport === 'unix' ? 'unix socket (0600) in a private 0700 directory' : 'tcp://127.0.0.1:<free port>'}`);
  out(`agent url: ${plan.url}`);
  if (plan.probe) {
    out(`engine: create, start, wait, logs, remove a probe container (the agent image's shim asks the proxy once; 403 = reachable)`);
    out(`  create: ${shown(plan.probe)}`);
  }
  const c = plan.createOptions;
  out(`engine: create container ${plan.agentName} image ${c.Image} user ${c.User} workdir ${c.WorkingDir} tty ${c.Tty} network ${c.HostConfig?.NetworkMode}`);
  out(`  cmd: ${c.Cmd ? JSON.stringify(c.Cmd) : '(image default)'}`);
  for (const b of c.HostConfig?.Binds ?? []) out(`  bind: ${b}`);
  out(`  env: ${plan.envNames.join(' ')}`);
  // Values of the variables that hold no secret.
  for (const e of c.Env ?? []) if (e.startsWith('PATH=') || e.startsWith('SHELL=')) out(`  ${e}`);
  out(`  create: ${shown(c)}`);
  out(`engine: attach, start, wait; then remove ${plan.agentName}${o.keep ? '' : ' and the sidecars'}`);
}

async function pipeIo(docker: Dockerode, container: Dockerode.Container, tty: boolean): Promise<() => void> {
  const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as NodeJS.ReadWriteStream & { end(): void };
  if (tty) {
    stream.pipe(process.stdout);
  } else {
    docker.modem.demuxStream(stream, process.stdout, process.stderr);
  }
  const stdin = process.stdin;
  if (tty && stdin.isTTY) stdin.setRawMode(true);
  stdin.pipe(stream);
  const resize = (): void => {
    if (process.stdout.isTTY) void container.resize({ h: process.stdout.rows, w: process.stdout.columns }).catch(() => undefined);
  };
  if (tty) process.on('SIGWINCH', resize);
  return () => {
    if (tty) process.off('SIGWINCH', resize);
    stdin.unpipe(stream);
    if (tty && stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    resize();
  };
}

export async function aifoRun(o: RunOptions): Promise<number> {
  const docker = new Dockerode();
  const log = (l: string): void => void process.stderr.write(l + '\n');
  const workspace = await realpath(o.workspace).catch(() => {
    throw new AifoError('AIFO_E_CONFIG', `--workspace '${o.workspace}' does not exist`);
  });
  const opts: RunOptions = { ...o, workspace };
  if (opts.kinds.length === 0) throw new AifoError('AIFO_E_CONFIG', 'name at least one --toolchain (rust node python c-cpp go)');
  if (opts.shimDir) {
    const problems = await checkShimDir(opts.shimDir);
    if (problems.length) throw new AifoError('AIFO_E_CONFIG', `AIFO_SHIM_DIR '${opts.shimDir}' is incomplete: ${problems.join('; ')} (fix: aifo shims write ${opts.shimDir})`);
  }
  const session = `run-${randomBytes(4).toString('hex')}`;
  const agentName = `aifo-agent-${session}`;
  const tty = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const envNames = ['AIFO_TOOLEEXEC_URL', 'AIFO_TOOLEEXEC_TOKEN', 'AIFO_CODER_CONTAINER_NAME', 'PATH', 'SHELL'];
  // The in-process proxy reads the same environment as `aifo proxy`.
  const maxSecs = maxSecsFromEnv(process.env);
  const proxyTty = process.env['AIFO_TOOLEEXEC_TTY'] !== '0';
  const verbose = opts.verbose === true || process.env['AIFO_TOOLCHAIN_VERBOSE'] === '1';
  // Inspecting the image starts nothing, so the dry run shows the real PATH too.
  const pathEnv = agentPath(await imagePath(docker, opts.image));

  // Everything this run creates carries its launcher id, so a next run can remove it should this
  // launcher die (SIGKILL) at any point; kept sidecars (--keep) are meant to outlive it.
  const mine = { [LABEL_LAUNCHER]: launcherId(), [LABEL_SESSION]: session };
  const sidecarLabels = opts.keep ? undefined : { [LABEL_LAUNCHER]: mine[LABEL_LAUNCHER] };
  if (opts.dryRun) {
    const url = opts.transport === 'unix' ? AGENT_URL_UNIX : 'http://127.0.0.1:<port>/exec';
    const createOptions = agentCreateOptions(opts, session, agentName, url, '<token>', opts.transport === 'unix' ? '<socket-dir>' : undefined, tty, pathEnv);
    const sidecars = await Promise.all(
      opts.kinds.map(async (kind) => {
        const image = toolchainImageRef(kind, opts.tag);
        const c = sidecarCreateOptions({
          kind,
          session,
          workspace,
          image,
          uid: process.getuid?.() ?? 1000,
          gid: process.getgid?.() ?? 1000,
          network: 'none',
          cachePath: await sidecarCachePath(docker, kind, image),
          labels: sidecarLabels,
        });
        return { ...c, name: c.name!, Image: image };
      }),
    );
    const probe = opts.transport === 'tcp' ? probeCreateOptions(opts.image, url, '<token>', probeHostConfig(opts), workspace, mine) : undefined;
    printPlan(opts, { session, agentName, sidecars, probe, createOptions, envNames, url });
    return 0;
  }

  await reapDeadLaunchers(docker, log);
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  let exitCode = 1;
  let stoppedBy: NodeJS.Signals | undefined;
  let container: Dockerode.Container | undefined;
  // Signals are ours from here on, so that a Ctrl-C during start-up still cleans up: before the
  // agent exists it stops the start-up at the next step, after that it stops the agent.
  const stop = (sig: NodeJS.Signals): void => {
    stoppedBy ??= sig;
    log(`aifo: ${sig}: stopping${container ? ' the agent' : ''}`);
    // TERM, then KILL after the grace: an interactive shell ignores TERM.
    if (container) void container.stop({ t: AGENT_STOP_GRACE_SECS }).catch(() => undefined);
  };
  const onInt = (): void => stop('SIGINT');
  const onTerm = (): void => stop('SIGTERM');
  const onHup = (): void => stop('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  cleanups.push(async () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
  });
  const stopped = new Error('stopped by a signal during start-up');
  const checkStop = (): void => {
    if (stoppedBy) throw stopped;
  };
  let agentStarted = false;
  try {
    // Registered before the first sidecar exists: a start-up that fails half-way (one kind's
    // image missing) removes the sidecars already started. --keep keeps them only once the
    // agent ran.
    cleanups.push(() => (opts.keep && agentStarted ? Promise.resolve() : sidecarDown({ session, docker })));
    const up = await sidecarUp({
      kinds: opts.kinds,
      workspace,
      session,
      ...(opts.tag ? { tag: opts.tag } : {}),
      uid: process.getuid?.() ?? 1000,
      gid: process.getgid?.() ?? 1000,
      ...(sidecarLabels ? { labels: sidecarLabels } : {}),
      docker,
    });
    checkStop();
    const runner = createDockerRunner({ sidecars: new Map(Object.entries(up.sidecars) as [ToolchainKind, string][]), docker, verbose });
    cleanups.push(() => runner.close());
    const token = newToken();
    const plog = createLogger(verbose);
    const proxy = createProxyServer({ token, runner, workspace, log: plog, maxSecs, tty: proxyTty, notify: createNotifyHandler(notifyOptionsFromEnv(process.env, plog)) });
    let socketDir: string | undefined;
    let url: string;
    if (opts.transport === 'unix') {
      const base = process.env['XDG_RUNTIME_DIR'] && path.isAbsolute(process.env['XDG_RUNTIME_DIR']) ? process.env['XDG_RUNTIME_DIR'] : os.tmpdir();
      socketDir = await mkdtemp(path.join(base, 'aifo-run-'));
      const dir = socketDir;
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
      await listen(proxy.server, { type: 'unix', path: path.join(socketDir, 'toolexec.sock') });
      url = AGENT_URL_UNIX;
    } else {
      const addr = await listen(proxy.server, { type: 'tcp', host: '127.0.0.1', port: 0 });
      url = clientUrl(addr);
      // An engine whose containers cannot use the host network (a VM, rootless setups) would
      // leave every tool call failing later; find out now, with the real shim and proxy.
      const reach = await agentReaches(docker, opts.image, url, token, probeHostConfig(opts), workspace, mine);
      if (!reach.ok) throw new AifoError('AIFO_E_CONFIG', `the agent cannot reach the proxy at ${url} (${reach.detail}); use --unix-socket, or run 'aifo doctor'`);
    }
    cleanups.push(() => proxy.shutdown());
    checkStop();

    const created = await docker.createContainer(agentCreateOptions(opts, session, agentName, url, token, socketDir, tty, pathEnv));
    cleanups.push(() => created.remove({ force: true }));
    checkStop();
    container = created;
    const detach = await pipeIo(docker, created, tty);
    cleanups.push(async () => detach());
    // A closed terminal (SIGHUP) makes writes to it fail; that must not skip the cleanup.
    for (const s of [process.stdout, process.stderr, process.stdin]) s.on('error', () => undefined);
    checkStop();
    agentStarted = true;
    await created.start();
    const r = (await created.wait()) as { StatusCode?: number };
    exitCode = r.StatusCode ?? 1;
  } catch (err) {
    if (err !== stopped) throw err;
  } finally {
    await cleanup();
  }
  // Stopped by a signal: report it the way a shell does (128+N), whatever the agent returned.
  return stoppedBy ? 128 + (os.constants.signals[stoppedBy] ?? 0) : exitCode;
}
