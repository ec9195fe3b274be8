// The `docker` runner (DESIGN.md "Runners"): runs a tool in its toolchain sidecar through the
// Engine API (dockerode over the unix socket, DOCKER_HOST honoured; Podman's compatible API
// works too), never by spawning the docker CLI.
//
// One exec per tool: `/bin/sh -c EXEC_WRAPPER aifo-exec EXECID TOOL ARGS…` (a constant script,
// request data only as positional parameters) with WorkingDir = the request's cwd (the
// workspace is mounted at the same path in every sidecar) and Tty = spec.tty. The wrapper runs
// the tool as the leader of a new process group, records the pgid under
// `$HOME/.aifo-exec/<ExecId>/`, and ends only when the whole group is gone; the exit code comes
// from the engine's exec inspect. Signals and liveness checks are further short execs of
// constant scripts that address `-PGID`.
//
// Death by signal: the wrapper sees the status as a POSIX shell reports it, 128+N, and cannot
// tell it from a tool that chose to exit with 128+N. We map 129–159 to `signaled(<name of N>)`,
// as shells and `wait` do; the exit code a client sees is the same either way (protocol.md: a
// death by signal N gives exit code 128+N) and only the `X-Aifo-End` trailer says `signal=`.
import type { Readable } from 'node:stream';
import { PassThrough } from 'node:stream';
import Dockerode from 'dockerode';
import { ended, type ExecEnd } from '../../protocol/end.js';
import { AifoError } from '../../protocol/errors.js';
import { signalName, type SignalName } from '../../protocol/signals.js';
import type { Route, ToolchainKind } from '../../protocol/tools.js';
import { DemuxStream } from './docker/demux.js';
import { engineMessage, execOnce, isSidecarGone, waitExecExit } from './docker/engine.js';
import { noSidecar, Placement } from './docker/placement.js';
import { EXEC_WRAPPER, GROUP_SCRIPT, ORPHAN_LIST_SCRIPT, SCRIPT_ARG0 } from './docker/scripts.js';
import { ownerGone, ownerId } from './orphans.js';
import { isValidExecId } from '../../protocol/execid.js';
import { DISCONNECT_PLAN, escalate, heldClock } from '../terminate.js';
import type { ExecSpec, Runner, RunningExec } from './types.js';

/**
 * While an exec's stream is open, how often the engine is asked whether the exec has ended. It
 * matters only when a process that left the group (its own setsid) still holds the output open:
 * the engine then keeps the stream open after the group is gone.
 */
const EXEC_POLL_MS = 500;
/** After the exec ended, output still flowing is read until it has been idle this long. */
const DRAIN_IDLE_MS = 250;
/** A signal or liveness exec taking longer than this is given up (the sidecar is wedged). */
const GROUP_EXEC_TIMEOUT_MS = 10_000;
/**
 * Buffer between the engine socket and the reader: large enough to carry the engine's chunks
 * (~32 KiB) without pausing the socket on each one, small enough that a stalled reader holds
 * little memory before backpressure stops the tool.
 */
const OUTPUT_BUFFER = { highWaterMark: 64 * 1024 };
/**
 * After a tool died by signal, how long to wait for the engine to say whether its sidecar was
 * stopped or removed (the cost, once, of every death by signal in the docker runner).
 */
const SIDECAR_END_SETTLE_MS = 100;
/** Terminal size for TTY execs (Engine API ≥ 1.42 `ConsoleSize`; older engines ignore it). */
const CONSOLE_SIZE: [number, number] = [24, 80];

/** Recorded with every exec (EXEC_WRAPPER), so that a later proxy can tell it was ours. */
const OWNER = ownerId();

export interface DockerRunnerOptions {
  /** Sidecar container (name or id) per toolchain kind. */
  readonly sidecars: ReadonlyMap<ToolchainKind, string>;
  /** Engine client; default `new Dockerode()` (DOCKER_HOST, else /var/run/docker.sock). */
  readonly docker?: Dockerode;
  readonly log?: (line: string) => void;
  readonly verbose?: boolean;
}

/** How an exec ended, from the engine's exit code (see the header comment for 128+N). */
export function endFromExitCode(code: number | null | undefined): ExecEnd {
  if (code === null || code === undefined) return ended.spawnFailed('the engine reported no exit code');
  if (code > 128 && code < 160) {
    const name = signalName(code - 128);
    if (name) return ended.signaled(name);
  }
  return ended.exited(code);
}

/**
 * Runs GROUP_SCRIPT in `container` for one exec: `existed` when the group existed (and got
 * `sig`; `0` only asks), `pgid` as the script reports it. Engine failures reject.
 */
async function groupScript(
  docker: Dockerode,
  container: string,
  execId: string,
  sig: SignalName | '0',
  pgid: string | undefined,
): Promise<{ existed: boolean; pgid: string | undefined }> {
  const r = await execOnce(docker, container, ['/bin/sh', '-c', GROUP_SCRIPT, SCRIPT_ARG0, execId, sig, ...(pgid ? [pgid] : [])], GROUP_EXEC_TIMEOUT_MS);
  const reported = r.output.toString('latin1').trim();
  return { existed: r.code === 0, pgid: /^[0-9]+$/.test(reported) ? reported : undefined };
}

export function createDockerRunner(opts: DockerRunnerOptions): Runner {
  const docker = opts.docker ?? new Dockerode();
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const verbose = opts.verbose ?? false;
  const placement = new Placement(docker, opts.sidecars, log, verbose);

  function containerFor(spec: ExecSpec): string {
    const name = placement.containerOf(spec.kind);
    if (!name) throw noSidecar(spec.tool, { type: 'kind', kind: spec.kind }, `no ${spec.kind} sidecar configured`);
    return name;
  }

  /** False when the engine says the container is gone or not running; true when in doubt. */
  async function containerRunning(container: string): Promise<boolean> {
    try {
      return (await docker.getContainer(container).inspect()).State.Running;
    } catch (err) {
      return !isSidecarGone(err);
    }
  }

  /**
   * Whether a tool's death by signal was its sidecar's end (`docker rm -f`, `docker stop`): the
   * engine's kill/die/stop/destroy event for the container since the exec started, or the
   * container no longer running. Asked twice, SIDECAR_END_SETTLE_MS apart, because the exec can
   * report its end before the event arrives and while the container still counts as running.
   */
  async function sidecarEnded(container: string, since: number): Promise<boolean> {
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, SIDECAR_END_SETTLE_MS));
      if (placement.stoppedSince(container, since) || !(await containerRunning(container))) return true;
    }
    return false;
  }

  /** Turns an engine failure to create/start an exec into the protocol's error. */
  function startError(err: unknown, spec: ExecSpec, container: string): AifoError {
    if (err instanceof AifoError) return err;
    if (isSidecarGone(err)) {
      placement.invalidate(container);
      return noSidecar(spec.tool, { type: 'kind', kind: spec.kind }, `sidecar ${container} is not running`);
    }
    return new AifoError('AIFO_E_SPAWN', `docker exec in ${container} failed: ${engineMessage(err)}`, { cause: err });
  }

  async function start(spec: ExecSpec): Promise<RunningExec> {
    const container = containerFor(spec);
    let exec: Dockerode.Exec;
    let raw: Readable;
    try {
      exec = await docker.getContainer(container).exec({
        Cmd: ['/bin/sh', '-c', EXEC_WRAPPER, SCRIPT_ARG0, spec.execId, spec.tool, ...spec.args],
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: spec.tty,
        WorkingDir: spec.cwd,
        Env: [`AIFO_EXEC_ID=${spec.execId}`, `AIFO_EXEC_OWNER=${OWNER}`],
        ...(spec.tty ? { ConsoleSize: CONSOLE_SIZE } : {}),
      } as Dockerode.ExecCreateOptions);
      // hijack: the engine upgrades the connection and sends the raw stream on the socket, as
      // the docker CLI does; it skips the HTTP body parser on the way (a few % of throughput).
      raw = (await exec.start({ hijack: true, stdin: false, Detach: false, Tty: spec.tty })) as Readable;
    } catch (err) {
      throw startError(err, spec, container);
    }

    // Bytes stay Buffers; `pipe` carries backpressure from the reader to the engine's socket,
    // and from there to the tool's pipe (protocol.md "Backpressure").
    const output: PassThrough | DemuxStream = spec.tty ? new PassThrough(OUTPUT_BUFFER) : new DemuxStream(OUTPUT_BUFFER);
    raw.pipe(output);

    let pgid: string | undefined;
    let finished = false;
    const startedAt = performance.now();
    let lastData = performance.now();
    raw.on('data', () => (lastData = performance.now()));

    // A stream cut without an orderly end (engine restart, socket error) still ends the output.
    raw.once('close', () => {
      if (!raw.readableEnded && !output.writableEnded) {
        raw.unpipe(output);
        output.end();
      }
    });
    const streamClosed = new Promise<void>((resolve) => {
      raw.once('end', resolve);
      raw.once('close', resolve);
      raw.once('error', (err) => {
        if (verbose) log(`aifo-coder: docker exec stream error: ${engineMessage(err)}`);
        resolve();
      });
    });

    const endedP = (async (): Promise<ExecEnd> => {
      // Wait for the stream to close, or for the engine to say the exec ended while a process
      // outside the group still holds the output open.
      let exitInfo: Dockerode.ExecInspectInfo | undefined;
      let closed = false;
      void streamClosed.then(() => (closed = true));
      while (!closed) {
        const tick = new Promise<void>((r) => setTimeout(r, EXEC_POLL_MS).unref());
        await Promise.race([streamClosed, tick]);
        if (closed) break;
        try {
          const info = await exec.inspect();
          if (!info.Running) {
            exitInfo = info;
            break;
          }
        } catch {
          /* asked again after the next tick */
        }
      }
      if (!closed && exitInfo) {
        // The group is gone (the wrapper exits only then). Drain what still flows, then stop
        // reading from the stray holder of the output.
        await new Promise<void>((resolve) => {
          const idle = (): void => {
            if (closed) return resolve();
            const flowing = !raw.isPaused() && !output.writableNeedDrain;
            if (flowing && performance.now() - lastData >= DRAIN_IDLE_MS) {
              raw.unpipe(output);
              raw.destroy();
              output.end();
              return resolve();
            }
            setTimeout(idle, DRAIN_IDLE_MS).unref();
          };
          void streamClosed.then(resolve);
          setTimeout(idle, DRAIN_IDLE_MS).unref();
        });
      }
      try {
        const info = exitInfo ?? (await waitExecExit(exec));
        // A death by signal may be the sidecar's end (`docker rm -f`, `docker stop`) rather
        // than the tool's: only then is the container no longer running.
        if (info.ExitCode !== null && info.ExitCode !== undefined && info.ExitCode > 128 && (await sidecarEnded(container, startedAt))) {
          placement.invalidate(container);
          return ended.sidecarGone(`sidecar ${container} stopped or was removed during the exec`);
        }
        return endFromExitCode(info.ExitCode);
      } catch (err) {
        placement.invalidate(container);
        // Only the engine saying so makes it the sidecar's end; a dockerd restart or a reset
        // socket is a failure of the exec, not a missing sidecar.
        return isSidecarGone(err)
          ? ended.sidecarGone(`sidecar ${container} went away: ${engineMessage(err)}`)
          : ended.spawnFailed(`lost the exec in ${container}: ${engineMessage(err)}`);
      } finally {
        finished = true;
      }
    })();

    /** Runs GROUP_SCRIPT; true when the group existed. Caches the pgid it reports. */
    async function group(sig: SignalName | '0'): Promise<boolean> {
      if (finished) return false;
      try {
        const r = await groupScript(docker, container, spec.execId, sig, pgid);
        pgid = r.pgid ?? pgid;
        if (verbose && sig !== '0') log(`aifo-coder: docker: kill -${sig} -${pgid ?? "?"} in ${container} (exec ${spec.execId})`);
        return r.existed;
      } catch (err) {
        if (isSidecarGone(err)) {
          placement.invalidate(container);
          return false;
        }
        throw new AifoError('AIFO_E_SPAWN', `signal exec in ${container} failed: ${engineMessage(err)}`, { cause: err });
      }
    }

    return {
      output,
      ended: endedP,
      async signal(sig: SignalName): Promise<void> {
        await group(sig);
      },
      groupAlive: () => group('0'),
    };
  }

  return {
    name: 'docker',
    place: (tool: string, route: Route) => placement.place(tool, route),
    start,
    async reapOrphans(log: (line: string) => void): Promise<void> {
      await reapDockerOrphans(docker, opts.sidecars, log);
    },
    async close(): Promise<void> {
      placement.close();
    },
  };
}

/**
 * Stops, in each sidecar, the process groups of execs whose proxy is gone (SIGKILL, OOM) while
 * their wrapper still runs: the engine does not end an exec when its client disappears, so
 * without this a killed proxy's tools would run on in long-lived sidecars. Each group gets the
 * disconnect escalation (INT, TERM, KILL); the wrapper then ends and removes its directory.
 * Sidecars that cannot be asked are skipped. Returns `container/execId` of each group stopped.
 */
export async function reapDockerOrphans(
  docker: Dockerode,
  sidecars: ReadonlyMap<ToolchainKind, string>,
  log: (line: string) => void,
): Promise<string[]> {
  const stopped: string[] = [];
  await Promise.all(
    [...new Set(sidecars.values())].map(async (container) => {
      let listing: string;
      try {
        const r = await execOnce(docker, container, ['/bin/sh', '-c', ORPHAN_LIST_SCRIPT, SCRIPT_ARG0], GROUP_EXEC_TIMEOUT_MS);
        listing = r.output.toString('latin1');
      } catch {
        return; // not running or not reachable: nothing of ours can run there that we could stop
      }
      await Promise.all(
        listing.split('\n').map(async (line) => {
          const [execId, pgid, ...owner] = line.trim().split(' ');
          if (!execId || !isValidExecId(execId) || !pgid || !/^[0-9]+$/.test(pgid) || Number(pgid) <= 1) return;
          if (!ownerGone(owner)) return;
          log(`aifo-coder: proxy: stopping process group ${pgid} in ${container} left by a proxy that is gone (exec_id=${execId})`);
          // The pgid is read again from the exec directory on every signal, not taken from the
          // listing: the wrapper removes that directory only once the group is gone, so a pgid
          // that a new process took over meanwhile is never signalled.
          const group = (sig: SignalName | '0'): Promise<boolean> =>
            groupScript(docker, container, execId, sig, undefined).then((r) => r.existed, () => false);
          // Held timers: at start-up nothing else keeps the process alive while this waits.
          await escalate({ signal: async (sig) => void (await group(sig)), groupAlive: () => group('0') }, DISCONNECT_PLAN, heldClock).finished;
          stopped.push(`${container}/${execId}`);
        }),
      );
    }),
  );
  return stopped;
}
