// Sidecar sessions: names, labels and the session file. A session is the set of sidecars that
// serve one workspace; its id is part of every container name (`aifo-tc-<kind>-<session>`), its
// containers carry labels that identify it, and a small JSON file maps kind -> container for
// `aifo proxy --runner docker` and for people. The engine's labels are the source of truth; the
// file is rewritten from them on every `up` and removed by `down`.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isToolchainKind, type ToolchainKind } from '../protocol/tools.js';

export const LABEL_SIDECAR = 'org.aifo.sidecar';
export const LABEL_SESSION = 'org.aifo.session';
export const LABEL_KIND = 'org.aifo.kind';
export const LABEL_WORKSPACE = 'org.aifo.workspace';

/** Docker container names allow [a-zA-Z0-9][a-zA-Z0-9_.-]; a session id is a part of one. */
const SESSION_RE = /^[a-z0-9][a-z0-9_.-]{0,47}$/;

export function isValidSession(s: string): boolean {
  return SESSION_RE.test(s);
}

export function assertSession(s: string): string {
  if (!isValidSession(s)) throw new Error(`session id ${JSON.stringify(s)} is invalid; expected ${SESSION_RE} (lower-case letters, digits, _ . -)`);
  return s;
}

/**
 * The default session of a workspace: stable (the same workspace gives the same sidecars, so
 * `up` twice reuses them) and distinct per workspace (two checkouts never share sidecars).
 */
export function defaultSession(workspace: string): string {
  return `ws-${createHash('sha256').update(path.resolve(workspace)).digest('hex').slice(0, 12)}`;
}

export function sidecarName(kind: ToolchainKind, session: string): string {
  return `aifo-tc-${kind}-${session}`;
}

export function cacheVolumeName(kind: ToolchainKind): string {
  return `aifo-cache-${kind}`;
}

export interface SidecarSession {
  readonly session: string;
  /** Host path, mounted at the same path in every sidecar. */
  readonly workspace: string;
  /** kind -> container name. */
  readonly sidecars: Partial<Record<ToolchainKind, string>>;
}

/** `$AIFO_STATE_DIR`, else `$XDG_STATE_HOME/aifo`, else `~/.local/state/aifo`. */
export function stateDir(): string {
  const explicit = process.env['AIFO_STATE_DIR'];
  if (explicit && path.isAbsolute(explicit)) return explicit;
  const xdg = process.env['XDG_STATE_HOME'];
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.local', 'state'), 'aifo');
}

export function sessionFilePath(session: string): string {
  return path.join(stateDir(), 'sessions', `${assertSession(session)}.json`);
}

export async function writeSessionFile(s: SidecarSession): Promise<string> {
  const file = sessionFilePath(s.session);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify({ version: 1, ...s }, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

export async function removeSessionFile(session: string): Promise<void> {
  await rm(sessionFilePath(session), { force: true });
}

/** Reads a session file; undefined when there is none. Validates what it reads. */
export async function readSessionFile(session: string): Promise<SidecarSession | undefined> {
  const file = sessionFilePath(session);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const raw = JSON.parse(text) as { session?: unknown; workspace?: unknown; sidecars?: unknown };
  if (raw.session !== session || typeof raw.workspace !== 'string' || typeof raw.sidecars !== 'object' || raw.sidecars === null) {
    throw new Error(`${file} is not a session file for ${session}; remove it or run \`aifo sidecar up\` again`);
  }
  const sidecars: Partial<Record<ToolchainKind, string>> = {};
  for (const [k, v] of Object.entries(raw.sidecars)) {
    if (!isToolchainKind(k) || typeof v !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v)) {
      throw new Error(`${file}: bad sidecar entry ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
    }
    sidecars[k] = v;
  }
  return { session, workspace: raw.workspace, sidecars };
}

/** The kind -> container map the docker runner takes (`createDockerRunner({ sidecars })`). */
export function sidecarMap(s: SidecarSession): Map<ToolchainKind, string> {
  const m = new Map<ToolchainKind, string>();
  for (const [k, v] of Object.entries(s.sidecars)) if (v && isToolchainKind(k)) m.set(k, v);
  return m;
}
