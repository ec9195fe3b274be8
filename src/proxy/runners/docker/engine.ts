// Small Engine API helpers for the docker runner: run a short script in a sidecar and read its
// exit code, wait for an exec to finish, and tell "the sidecar is gone" from other failures.
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { DemuxStream } from './demux.js';

/** How often an exec that has closed its stream is asked whether it has finished. */
const EXIT_POLL_MS = 20;

export interface ExecResult {
  /** Exit code, or null when the engine never reported one. */
  readonly code: number | null;
  readonly output: Buffer;
}

interface EngineError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

/** The engine's own words for a failed call (dockerode puts them in `json.message`). */
export function engineMessage(err: unknown): string {
  const e = err as EngineError;
  return (e.json?.message ?? e.message ?? String(err)).trim();
}

/**
 * True when the call failed because the container does not exist or is not running: the
 * engine answers 404 (no such container) or 409 (not running / paused) for exec create and
 * start, some versions 500 with that text.
 */
export function isSidecarGone(err: unknown): boolean {
  const e = err as EngineError;
  if (e.statusCode === 404 || e.statusCode === 409) return true;
  return /no such container|is not running|is paused|container .* is restarting/i.test(engineMessage(err));
}

export async function waitExecExit(exec: Dockerode.Exec, signal?: AbortSignal): Promise<Dockerode.ExecInspectInfo> {
  for (;;) {
    const info = await exec.inspect();
    if (!info.Running) return info;
    if (signal?.aborted) throw signal.reason;
    await new Promise((r) => setTimeout(r, EXIT_POLL_MS));
  }
}

/**
 * Runs `cmd` in `container` as its configured user, collects the merged output and returns the
 * exit code. For the runner's own short scripts (probe, signal, liveness), not for tools.
 */
export async function execOnce(docker: Dockerode, container: string, cmd: readonly string[], timeoutMs: number): Promise<ExecResult> {
  const exec = await docker.getContainer(container).exec({
    Cmd: [...cmd],
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: false,
    Tty: false,
  });
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`exec in ${container} timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    const stream = (await exec.start({ hijack: false, stdin: false, Detach: false, Tty: false, abortSignal: ac.signal })) as Readable;
    const demux = new DemuxStream();
    const chunks: Buffer[] = [];
    stream.pipe(demux);
    for await (const c of demux) chunks.push(c as Buffer);
    const info = await waitExecExit(exec, ac.signal);
    return { code: info.ExitCode ?? null, output: Buffer.concat(chunks) };
  } finally {
    clearTimeout(timer);
  }
}
