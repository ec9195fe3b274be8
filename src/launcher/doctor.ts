// `aifo doctor`: checks what `aifo run` needs, each problem with the command that fixes it.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Dockerode from 'dockerode';
import { toolchainImageRef } from '../images/definitions.js';
import { TOOLCHAIN_KINDS } from '../protocol/tools.js';
import { newToken } from '../proxy/auth.js';
import { clientUrl, listen } from '../proxy/listen.js';
import { createLogger } from '../proxy/log.js';
import { createLocalRunner } from '../proxy/runners/local.js';
import { createProxyServer } from '../proxy/server.js';
import { checkShimDir } from '../wrappers/layout.js';

export interface DoctorOptions {
  readonly image: string;
  readonly tag: string;
  readonly shimDir?: string | undefined;
}

export interface Finding {
  readonly ok: boolean;
  readonly what: string;
  readonly fix?: string;
}

/** The tool the probe asks for: not allowlisted, so a reachable, authorized proxy answers 403. */
const PROBE_TOOL = 'aifo-doctor-probe';

/** The probe container of agentReaches (also printed by `aifo run --dry-run`). */
export function probeCreateOptions(image: string, url: string, token: string, hostConfig: Dockerode.HostConfig, workdir: string, labels: Record<string, string> = {}): Dockerode.ContainerCreateOptions {
  return {
    Image: image,
    Labels: labels,
    Cmd: ['/opt/aifo/bin/aifo-shim', PROBE_TOOL],
    // Must lie in the proxy's workspace, or the request stops at the cwd check (400).
    WorkingDir: workdir,
    Env: [`AIFO_TOOLEEXEC_URL=${url}`, `AIFO_TOOLEEXEC_TOKEN=${token}`],
    User: `${process.getuid?.() ?? 1000}:${process.getgid?.() ?? 1000}`,
    HostConfig: hostConfig,
  };
}

/**
 * Runs the agent image's shim against a proxy at `url` and tells whether the allowlist's 403 came
 * back, which only a reachable proxy that accepted the token can send. Returns the shim's last
 * output line otherwise.
 */
export async function agentReaches(docker: Dockerode, image: string, url: string, token: string, hostConfig: Dockerode.HostConfig, workdir = '/tmp', labels: Record<string, string> = {}): Promise<{ ok: boolean; detail: string }> {
  const c = await docker.createContainer(probeCreateOptions(image, url, token, hostConfig, workdir, labels));
  try {
    await c.start();
    await c.wait();
    const logs = (await c.logs({ stdout: true, stderr: true })).toString('latin1');
    // The allowlist refuses the probe tool before the cwd is looked at, whatever the workspace.
    if (logs.includes(`tool '${PROBE_TOOL}' is not allowed`)) return { ok: true, detail: '' };
    return { ok: false, detail: logs.replace(/[\x00-\x08]/g, '').trim().split('\n').pop() ?? 'no output' };
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

async function probeFromAgent(docker: Dockerode, image: string, transport: 'unix' | 'tcp'): Promise<Finding> {
  const token = newToken();
  // The probe's cwd (/tmp in the container) must lie in the workspace for the request to get as
  // far as the allowlist; nothing runs, so the local runner and /tmp are harmless here.
  const proxy = createProxyServer({ token, runner: createLocalRunner(), workspace: '/tmp', log: createLogger(false, () => undefined) });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'aifo-doctor-'));
  try {
    const addr = await listen(proxy.server, transport === 'unix' ? { type: 'unix', path: path.join(dir, 'toolexec.sock') } : { type: 'tcp', host: '127.0.0.1', port: 0 });
    const url = transport === 'unix' ? 'unix:///run/aifo/toolexec.sock' : clientUrl(addr);
    const r = await agentReaches(docker, image, url, token, { NetworkMode: transport === 'unix' ? 'none' : 'host', Binds: transport === 'unix' ? [`${dir}:/run/aifo`] : [] });
    if (r.ok) return { ok: true, what: `an agent container reaches the proxy over ${transport === 'unix' ? 'a Unix socket (--network none)' : 'TCP 127.0.0.1 (--network host)'}` };
    return {
      ok: false,
      what: `an agent container cannot reach the proxy over ${transport}: ${r.detail}`,
      fix: transport === 'unix' ? 'check that the socket directory can be bind-mounted (not on a filesystem the engine cannot see)' : 'use --unix-socket, or an engine whose containers can use the host network',
    };
  } finally {
    await proxy.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

async function socketPermissions(): Promise<Finding> {
  const base = process.env['XDG_RUNTIME_DIR'] && path.isAbsolute(process.env['XDG_RUNTIME_DIR']) ? process.env['XDG_RUNTIME_DIR'] : os.tmpdir();
  const dir = await mkdtemp(path.join(base, 'aifo-doctor-'));
  const proxy = createProxyServer({ token: newToken(), runner: createLocalRunner(), workspace: os.tmpdir(), log: createLogger(false, () => undefined) });
  try {
    const sock = path.join(dir, 'run', 'toolexec.sock');
    await listen(proxy.server, { type: 'unix', path: sock });
    const sm = (await stat(sock)).mode & 0o777;
    const dm = (await stat(path.dirname(sock))).mode & 0o777;
    if (sm !== 0o600 || dm !== 0o700) {
      return { ok: false, what: `socket ${sm.toString(8)} in directory ${dm.toString(8)} under ${base} (want 600 in 700)`, fix: `check the filesystem of ${base}; set XDG_RUNTIME_DIR to a local directory` };
    }
    return { ok: true, what: `sockets are created 0600 in 0700 directories under ${base}` };
  } finally {
    await proxy.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The engine's Unix socket (DOCKER_HOST unix://…, else /var/run/docker.sock): whoever can write
 * to it controls the engine, and with it the sidecars and every workspace mounted in them.
 * Returns undefined for an engine reached over TCP or SSH (nothing to check here).
 */
export async function engineSocketPermissions(dockerHost: string | undefined): Promise<Finding | undefined> {
  const sock = dockerHost === undefined || dockerHost === '' ? '/var/run/docker.sock' : dockerHost.startsWith('unix://') ? dockerHost.slice('unix://'.length) : undefined;
  if (sock === undefined) return undefined;
  let st;
  try {
    st = await stat(sock);
  } catch (err) {
    return { ok: false, what: `engine socket ${sock}: ${(err as Error).message}`, fix: 'start the engine, or point DOCKER_HOST at its socket' };
  }
  const mode = st.mode & 0o777;
  if (mode & 0o002) {
    return { ok: false, what: `engine socket ${sock} is world-writable (${mode.toString(8)}): every user of this machine controls the engine and the workspaces in the sidecars`, fix: `chmod o-rwx ${sock} (and give access through the docker group)` };
  }
  return { ok: true, what: `engine socket ${sock} is ${mode.toString(8)}, owner ${st.uid}:${st.gid}, not world-writable` };
}

export async function doctor(o: DoctorOptions, print: (f: Finding) => void): Promise<boolean> {
  const docker = new Dockerode();
  const findings: Finding[] = [];
  const add = (f: Finding): void => {
    findings.push(f);
    print(f);
  };
  try {
    await docker.ping();
    const v = await docker.version();
    add({ ok: true, what: `container engine ${v.Version} (API ${v.ApiVersion}) at ${process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock'}` });
  } catch (err) {
    add({ ok: false, what: `cannot reach the container engine at ${process.env['DOCKER_HOST'] ?? 'unix:///var/run/docker.sock'}: ${(err as Error).message}`, fix: 'start it (dockerd, or systemctl start docker), or point DOCKER_HOST at it' });
  }
  const engineOk = findings[0]?.ok === true;
  if (engineOk) {
    for (const kind of TOOLCHAIN_KINDS) {
      const ref = toolchainImageRef(kind, o.tag);
      const have = await docker.getImage(ref).inspect().then(() => true, () => false);
      add(have ? { ok: true, what: `image ${ref}` } : { ok: false, what: `image ${ref} is missing`, fix: `aifo images build --toolchain ${kind}` });
    }
    const agentOk = await docker.getImage(o.image).inspect().then(() => true, () => false);
    add(agentOk ? { ok: true, what: `image ${o.image}` } : { ok: false, what: `agent image ${o.image} is missing`, fix: 'aifo images build --agent' });
    if (agentOk) {
      for (const t of ['unix', 'tcp'] as const) add(await probeFromAgent(docker, o.image, t).catch((e: Error) => ({ ok: false, what: `probe over ${t} failed: ${e.message}`, fix: 'run aifo doctor again with the engine up' })));
    }
  }
  const engineSocket = await engineSocketPermissions(process.env['DOCKER_HOST']);
  if (engineSocket) add(engineSocket);
  add(await socketPermissions());
  if (o.shimDir) {
    const problems = await checkShimDir(o.shimDir);
    add(problems.length === 0 ? { ok: true, what: `host override ${o.shimDir} is complete` } : { ok: false, what: `host override ${o.shimDir}: ${problems.join('; ')}`, fix: `aifo shims write ${o.shimDir}` });
  }
  return findings.every((f) => f.ok);
}
